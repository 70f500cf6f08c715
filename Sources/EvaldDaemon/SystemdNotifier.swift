import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The sd_notify protocol without libsystemd: datagrams of `KEY=value` lines sent to the
/// Unix socket named by `$NOTIFY_SOCKET` (a leading `@` means the abstract namespace).
/// Without `$NOTIFY_SOCKET` (not run by systemd with Type=notify) every send is a no-op.
public final class SystemdNotifier: Sendable {
    private let address: [UInt8]?
    private let isAbstract: Bool
    private let fd: Int32

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.utf8.count < 108 else {
            address = nil
            isAbstract = false
            fd = -1
            return
        }
        isAbstract = path.hasPrefix("@")
        address = Array((isAbstract ? String(path.dropFirst()) : path).utf8)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    deinit { if fd >= 0 { close(fd) } }

    public var isEnabled: Bool { address != nil && fd >= 0 }

    /// `$WATCHDOG_USEC` as seconds, when systemd asks for keep-alives (and they are for this process).
    public static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment) -> Double? {
        guard let text = environment["WATCHDOG_USEC"], let usec = Double(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { return nil }
        return usec / 1_000_000
    }

    /// Sends one notification, e.g. `["READY=1", "STATUS=reading"]`. Errors are ignored, as
    /// sd_notify does: the daemon works the same whether anyone listens.
    public func notify(_ fields: [String]) {
        guard let address, fd >= 0 else { return }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let offset = isAbstract ? 1 : 0
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { buffer in
            for (index, byte) in address.enumerated() { buffer[index + offset] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + offset)
        let message = fields.joined(separator: "\n")
        _ = message.withCString { text in
            withUnsafePointer(to: &socketAddress) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text, strlen(text), Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// `MONOTONIC_USEC=` for RELOADING=1 (systemd 253+ uses it to tell reloads apart).
    public static func monotonicMicroseconds() -> String {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return "MONOTONIC_USEC=\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)"
    }
}
