import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The one outbound HTTP client of the process: pooled keep-alive connections per host,
/// a deadline on every attempt, a cap on every response body.
///
/// It never retries and never follows redirects: retrying is the caller's policy (judge
/// clients, alert delivery), and a redirect would resend an API key to a host nobody
/// configured.
public final class HTTPTransport: Sendable {
    public static let defaultMaxResponseBytes = 4 * 1024 * 1024

    private let client: HTTPClient
    private let maxResponseBytes: Int

    /// - Parameters:
    ///   - maxConnectionsPerHost: the pool's size per host; callers bound their own
    ///     concurrency (a judge endpoint's `concurrency`), so this only has to be larger.
    ///   - maxResponseBytes: a larger body fails the attempt with `.other`.
    public init(maxConnectionsPerHost: Int = 64, maxResponseBytes: Int = HTTPTransport.defaultMaxResponseBytes) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, maxConnectionsPerHost))
        // The pool would otherwise retry a refused connection until the deadline and then
        // report a timeout; failing at once keeps "connection refused" visible and leaves
        // the retry decision to the caller's policy.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.maxResponseBytes = maxResponseBytes
    }

    /// Sends one request and reads the whole response. Any status code is a response;
    /// only the absence of a complete response is an error.
    public func send(_ request: OutboundRequest) async throws(OutboundHTTPError) -> OutboundResponse {
        guard request.timeout.isFinite, request.timeout > 0 else {
            throw .other("the request timeout must be a positive number of seconds")
        }
        guard let url = URL(string: request.url), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { throw .invalidURL }

        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = HTTPMethod(rawValue: request.method)
        for header in request.headers {
            outbound.headers.add(name: header.name, value: header.value)
        }
        outbound.body = .bytes(ByteBuffer(bytes: request.body))

        let seconds = request.timeout
        let deadline = NIODeadline.now() + .nanoseconds(Int64(min(seconds, 86400) * 1e9))
        let client = client
        let limit = maxResponseBytes
        let prepared = outbound
        do {
            // AsyncHTTPClient's deadline stops at the response head; racing a timer covers
            // the body too, so a server that trickles its body cannot hold a worker forever.
            return try await withThrowingTaskGroup(of: OutboundResponse?.self) { group in
                group.addTask {
                    let response = try await client.execute(prepared, deadline: deadline)
                    let body = try await response.body.collect(upTo: limit)
                    return OutboundResponse(
                        status: Int(response.status.code),
                        headers: response.headers.map { (name: $0.name, value: $0.value) },
                        body: Array(buffer: body))
                }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(min(seconds, 86400) * 1e9))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw OutboundHTTPError.timedOut
                }
                return response
            }
        } catch {
            throw Self.classify(error, maxResponseBytes: limit)
        }
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// Maps the errors of AsyncHTTPClient and SwiftNIO to the few cases callers decide on.
    /// Never uses an error's own description where it could hold the URL.
    static func classify(_ error: any Error, maxResponseBytes: Int) -> OutboundHTTPError {
        switch error {
        case let error as OutboundHTTPError:
            return error
        case is CancellationError:
            return .other("cancelled")
        case let error as HTTPClientError:
            return classify(error)
        case is NIOTooManyBytesError:
            return .other("the response body is larger than \(maxResponseBytes) bytes")
        case is HTTPParserError:
            return .other("the response is not valid HTTP/1.1")
        case let error as IOError:
            return classify(errno: error.errnoCode)
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return .timedOut
            case .ioOnClosedChannel, .eof, .alreadyClosed, .outputClosed, .inputClosed: return .connectionClosed
            default: return .other("channel error")
            }
        default:
            if let detail = ConnectionErrorDetail.describe(error) {
                return .connectFailed(detail)
            }
            let typeName = String(describing: type(of: error))
            if typeName.contains("SSL") || typeName.contains("TLS") {
                // TLS errors name certificate problems, never the URL's path or query.
                return .connectFailed("TLS: " + String(String(describing: error).prefix(200)))
            }
            return .other("unexpected error (\(typeName))")
        }
    }

    private static func classify(_ error: HTTPClientError) -> OutboundHTTPError {
        switch error {
        case .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath:
            return .invalidURL
        case .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout,
            .getConnectionFromPoolTimeout, .httpProxyHandshakeTimeout, .socksHandshakeTimeout:
            return .timedOut
        case .remoteConnectionClosed:
            return .connectionClosed
        case .cancelled:
            return .other("cancelled")
        default:
            // The names and values are not shown: a header can hold a key.
            if error.shortDescription.hasPrefix("Invalid header field") {
                return .other("a header name or value is not valid HTTP (not shown)")
            }
            return .other("HTTP client error: \(error.shortDescription)")
        }
    }

    static func classify(errno code: Int32) -> OutboundHTTPError {
        switch code {
        case ECONNRESET, EPIPE:
            return .connectionClosed
        case ETIMEDOUT:
            return .timedOut
        default:
            return .connectFailed(String(cString: strerror(code)))
        }
    }
}
