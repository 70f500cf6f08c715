import EvaldHTTP
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 server on 127.0.0.1 for tests: each request goes to an async handler that
/// decides the reply, including misbehaviour (a delay, a dropped connection, no answer).
/// Records every request. Stands in for judge APIs and alert receivers.
public final class StubHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        /// The request target as sent: path and query.
        public var path: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.headers = headers
            self.body = body
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// The first value of a header, by case-insensitive name.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    public enum Reply: Sendable {
        /// Answer after `delay` seconds (Content-Length is set).
        case respond(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8], delay: Double = 0)
        /// Close the connection without responding.
        case closeConnection
        /// Never respond; the connection stays open until the client gives up or the server stops.
        case hang
    }

    private struct Record {
        var requests: [Request] = []
        var inFlight = 0
        var maxInFlight = 0
    }

    public let port: Int
    private let record: NIOLockedValueBox<Record>
    private let serverTask: Task<Void, Never>

    private init(port: Int, record: NIOLockedValueBox<Record>, serverTask: Task<Void, Never>) {
        self.port = port
        self.record = record
        self.serverTask = serverTask
    }

    /// Binds 127.0.0.1 (port 0: a free port chosen by the system) and starts serving.
    public static func start(port: Int = 0, handler: @escaping @Sendable (Request) async -> Reply) async throws -> StubHTTPServer {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    // Torn down on deinit (the deprecated initialiser is the one that does): a
                    // connection accepted while the stub stops is dropped unserved, and the
                    // non-deprecated one traps then ("Deinited NIOAsyncWriter without calling
                    // finish()"), which ended whole test runs.
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(synchronouslyWrapping: channel)
                }
            }
        let boundPort = server.channel.localAddress?.port ?? port
        let record = NIOLockedValueBox(Record())
        let task = Task<Void, Never>(executorPreference: OwnThreadsExecutor.stubs) {
            _ = try? await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection, record: record, handler: handler) }
                    }
                }
            }
        }
        return StubHTTPServer(port: boundPort, record: record, serverTask: task)
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Three receivers on one server, by path: `/good` accepts (200), `/flaky` fails in a way
    /// worth retrying (503), any other path refuses (400: not retried).
    @Sendable public static func goodFlakyRefused(_ request: Request) async -> Reply {
        switch request.path {
        case "/good": .respond(status: 200, body: [])
        case "/flaky": .respond(status: 503, body: Array("try later".utf8))
        default: .respond(status: 400, body: Array("no reports here".utf8))
        }
    }

    /// Every request received, in order of arrival.
    public var requests: [Request] { record.withLockedValue { $0.requests } }

    /// The most requests that were being handled at once (received, not yet answered).
    public var maxConcurrentRequests: Int { record.withLockedValue { $0.maxInFlight } }

    /// Closes the listener and every connection, hung ones included.
    public func stop() async throws {
        serverTask.cancel()
        await serverTask.value
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        record: NIOLockedValueBox<Record>, handler: @Sendable (Request) async -> Reply
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            var hanging = false
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.clear()
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    guard let requestHead = head, !hanging else { continue }
                    let request = Request(
                        method: requestHead.method.rawValue, path: requestHead.uri,
                        headers: requestHead.headers.map { (name: $0.name, value: $0.value) },
                        body: Array(buffer: body))
                    record.withLockedValue { record in
                        record.requests.append(request)
                        record.inFlight += 1
                        record.maxInFlight = max(record.maxInFlight, record.inFlight)
                    }
                    // Counted as answered before the reply is written: the client may send
                    // its next request as soon as it has read this one, and must not be seen
                    // as one more at once.
                    let finish = { record.withLockedValue { $0.inFlight -= 1 } }
                    let reply = await handler(request)
                    switch reply {
                    case .respond(let status, let headers, let bytes, let delay):
                        if delay > 0 {
                            do {
                                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                            } catch {
                                finish()
                                throw error
                            }
                        }
                        finish()
                        var responseHeaders = HTTPHeaders(headers.map { ($0.name, $0.value) })
                        responseHeaders.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
                        try await outbound.write(
                            .head(
                                HTTPResponseHead(
                                    version: requestHead.version, status: HTTPResponseStatus(statusCode: status),
                                    headers: responseHeaders)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
                        try await outbound.write(.end(nil))
                    case .closeConnection:
                        finish()
                        return
                    case .hang:
                        // In flight until the client closes the connection or the server
                        // stops; later parts on this connection are ignored.
                        hanging = true
                    }
                }
            }
            if hanging { record.withLockedValue { $0.inFlight -= 1 } }
        }
    }
}
