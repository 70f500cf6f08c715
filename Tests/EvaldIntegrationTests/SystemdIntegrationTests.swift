import EvaldTesting
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A Unix datagram socket standing in for systemd's $NOTIFY_SOCKET.
final class NotifySocketListener: Sendable {
    let path: String
    private let fd: Int32
    private let state = Mutex<(running: Bool, received: [(at: Date, message: String)])>((true, []))

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw CocoaError(.fileWriteUnknown) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [self] in receive() }
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while state.withLock({ $0.running }) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 {
                let message = String(decoding: buffer.prefix(count), as: UTF8.self)
                state.withLock { $0.received.append((Date(), message)) }
            }
        }
    }

    var messages: [String] { state.withLock { $0.received.map(\.message) } }

    func stop() {
        state.withLock { $0.running = false }
        usleep(200_000)
        close(fd)
    }

    /// Messages carrying `field` (a whole line, e.g. "READY=1").
    func count(_ field: String) -> Int { timestamps(field).count }

    /// When each message carrying `field` arrived, in seconds since 1970.
    func timestamps(_ field: String) -> [Double] {
        state.withLock { $0.received }
            .filter { $0.message.split(separator: "\n").contains { $0 == field || $0.hasPrefix(field) } }
            .map(\.at.timeIntervalSince1970)
    }
}

@Suite(.serialized) struct SystemdIntegrationTests {
    @Test func readyWatchdogStatusReloadAndStop() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.append("a.jsonl", (0..<20).map(EvaldHarness.line).joined())
            let listener = try NotifySocketListener(path: h.root + "/notify.sock")
            defer { listener.stop() }
            let daemon = try h.startDaemon(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"])
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

            #expect(h.waitUntil(timeout: 20) { listener.count("READY=1") >= 1 })
            #expect(h.waitUntil(timeout: 20) { listener.count("WATCHDOG=1") >= 3 })
            #expect(listener.messages.contains { $0.contains("STATUS=lines read 20") && $0.contains("lag 0 bytes") && $0.contains("judge queue 0") })

            // A valid new config: RELOADING=1 (with MONOTONIC_USEC), then READY=1, and it is applied.
            let readyBefore = listener.count("READY=1")
            try h.writeConfig(
                "state_dir: state\nspool:\n  dir: spool\n  poll_interval: 100ms\nsampling:\n  rate: 1\nhttp:\n  listen: \"\"\nchecks:\n  \"*\":\n    - {name: fast, kind: latency, max_ms: 1000}\n"
            )
            kill(daemon.processIdentifier, SIGHUP)
            #expect(h.waitUntil(timeout: 20) { listener.count("READY=1") > readyBefore })
            let reload = try #require(listener.messages.first { $0.contains("RELOADING=1") })
            #expect(reload.contains("MONOTONIC_USEC="))
            try h.append("a.jsonl", (20..<30).map(EvaldHarness.line).joined())
            #expect(
                h.waitUntil(timeout: 20) {
                    (try? h.store().seriesTotals(since: .distantPast, until: .distantFuture).contains { $0.metric == "check:fast" }) == true
                })

            // A broken config is refused: the daemon goes on with the one it has.
            let readyBeforeBroken = listener.count("READY=1")
            try h.writeConfig("spool:\n  dir: spool\n  pol_interval: 1s\n")
            kill(daemon.processIdentifier, SIGHUP)
            #expect(h.waitUntil(timeout: 20) { listener.count("READY=1") > readyBeforeBroken })
            try h.append("a.jsonl", (30..<40).map(EvaldHarness.line).joined())
            // (`evald status` would refuse the broken file too: read the database directly.)
            #expect(h.waitUntil(timeout: 20) { (try? h.store().counters()["lines_read"]) == 40 })
            #expect(daemon.isRunning)
            #expect(h.waitUntil(timeout: 10) { listener.messages.contains { $0.contains("1 reload(s) refused") } })

            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
            #expect(h.waitUntil(timeout: 5) { listener.count("STOPPING=1") == 1 })
            let log = try String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)
            #expect(log.contains("msg=config.reloaded"))
            #expect(log.contains("msg=config.reload_refused"))
            #expect(log.contains("pol_interval"))
        }
    }

    @Test func aReloadRightAfterReadyDoesNotEndTheProcess() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            let listener = try NotifySocketListener(path: h.root + "/notify.sock")
            defer { listener.stop() }
            let daemon = try h.startDaemon(environment: ["NOTIFY_SOCKET": listener.path])
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(h.waitUntil(timeout: 20) { listener.count("READY=1") >= 1 })
            kill(daemon.processIdentifier, SIGHUP)
            #expect(h.waitUntil(timeout: 20) { listener.count("READY=1") >= 2 })
            #expect(daemon.isRunning)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    @Test func withoutNotifySocketNothingIsSentAndItStillRuns() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.append("a.jsonl", (0..<5).map(EvaldHarness.line).joined())
            let daemon = try h.startDaemon(environment: ["WATCHDOG_USEC": "1000000"])
            #expect(h.waitUntil { (try? h.spoolStatus("lines_read")) == 5 })
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    @Test func unitFileVerifiesAndIsHardened() async throws {
        try await onTestThreads {
            let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("systemd/evald.service")
            let text = try String(contentsOf: unit, encoding: .utf8)
            for directive in [
                "Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "StateDirectory=evald",
                "ConfigurationDirectory=evald", "LoadCredential=", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "DynamicUser=yes",
            ] {
                #expect(text.contains(directive), "\(directive)")
            }
        }
    }
}
