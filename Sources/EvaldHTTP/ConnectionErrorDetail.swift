import Foundation
import NIOCore

/// A readable reason from NIOPosix's `NIOConnectionError` (DNS lookup and connect attempts
/// to a host name), without its host and port fields' neighbours leaking into messages.
///
/// The type lives in NIOPosix, which this target does not import (only AsyncHTTPClient
/// does), so it is recognised by name and read through reflection; if NIO renames it, the
/// error falls back to the generic case and nothing breaks.
enum ConnectionErrorDetail {
    static func describe(_ error: any Error) -> String? {
        guard String(describing: type(of: error)) == "NIOConnectionError" else { return nil }
        var dnsFailed = false
        var reasons: [String] = []
        for child in Mirror(reflecting: error).children {
            switch child.label {
            case "dnsAError", "dnsAAAAError":
                if isPresent(child.value) { dnsFailed = true }
            case "connectionErrors":
                for failure in Mirror(reflecting: child.value).children {
                    for field in Mirror(reflecting: failure.value).children where field.label == "error" {
                        if let io = field.value as? IOError {
                            reasons.append(String(cString: strerror(io.errnoCode)))
                        } else if let channel = field.value as? ChannelError, case .connectTimeout = channel {
                            reasons.append("connect timed out")
                        }
                    }
                }
            default:
                break
            }
        }
        if !reasons.isEmpty {
            var unique: [String] = []
            for reason in reasons where !unique.contains(reason) { unique.append(reason) }
            return unique.joined(separator: "; ")
        }
        return dnsFailed ? "the host name could not be resolved (DNS)" : "no address of the host accepted a connection"
    }

    private static func isPresent(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle != .optional || !mirror.children.isEmpty
    }
}
