import EvaldTesting
import Foundation
import Testing

@testable import EvaldHTTP

@Suite struct HTTPTransportTests {
    private func sendError(_ transport: HTTPTransport, _ request: OutboundRequest) async -> OutboundHTTPError? {
        do {
            _ = try await transport.send(request)
            return nil
        } catch {
            return error
        }
    }

    @Test func anyStatusIsAResponseWithHeadersAndBody() async throws {
        try await withStubServer({ request in
            .respond(
                status: 503, headers: [(name: "Retry-After", value: "4"), (name: "X-Echo", value: request.bodyText)],
                body: Array("busy".utf8))
        }) { server, transport in
            let response = try await transport.send(
                OutboundRequest(
                    url: server.baseURL + "/hook?token=abc", headers: [(name: "X-Test", value: "1")], body: Array("ping".utf8),
                    timeout: 30))
            #expect(response.status == 503)
            #expect(response.header("retry-after") == "4")
            #expect(response.header("RETRY-AFTER") == "4")
            #expect(response.header("x-echo") == "ping")
            #expect(response.body == Array("busy".utf8))
            let received = try #require(server.requests.first)
            #expect(received.method == "POST")
            #expect(received.path == "/hook?token=abc")
            #expect(received.header("x-test") == "1")
            #expect(received.bodyText == "ping")
        }
    }

    @Test func connectionsAreReused() async throws {
        try await withStubServer({ _ in .respond(status: 204, body: []) }) { server, transport in
            for _ in 0..<5 {
                _ = try await transport.send(OutboundRequest(url: server.baseURL + "/", method: "GET", body: [], timeout: 30))
            }
            #expect(server.requests.count == 5)
            #expect(server.requests.allSatisfy { $0.method == "GET" })
        }
    }

    @Test func noResponseWithinTheTimeoutIsTimedOut() async throws {
        try await withStubServer({ _ in .hang }) { server, transport in
            let started = ContinuousClock.now
            let error = await sendError(transport, OutboundRequest(url: server.baseURL + "/", body: [], timeout: 0.3))
            #expect(error == .timedOut)
            #expect(error?.shortDescription == "timeout")
            // The stub never answers: only the 0.3 s deadline ends the call. Bounded generously,
            // since on a loaded machine the test can wait many seconds for a thread.
            #expect(ContinuousClock.now - started < .seconds(120))
        }
    }

    @Test func aSlowResponseIsTimedOutToo() async throws {
        try await withStubServer({ _ in .respond(status: 200, body: [1], delay: 30) }) { server, transport in
            let error = await sendError(transport, OutboundRequest(url: server.baseURL + "/", body: [], timeout: 0.3))
            #expect(error == .timedOut)
        }
    }

    @Test func aClosedConnectionIsConnectionClosed() async throws {
        try await withStubServer({ _ in .closeConnection }) { server, transport in
            let error = await sendError(transport, OutboundRequest(url: server.baseURL + "/", body: [], timeout: 30))
            #expect(error == .connectionClosed)
            #expect(error?.shortDescription == "connection_closed")
        }
    }

    @Test func aRefusedConnectionIsConnectFailedWithAReason() async throws {
        let transport = HTTPTransport()
        let error = await sendError(transport, OutboundRequest(url: "http://127.0.0.1:1/hook", body: [], timeout: 30))
        try await transport.shutdown()
        guard case .connectFailed(let detail) = error else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(detail.lowercased().contains("refused"))
        #expect(error?.shortDescription == "connect_failed")
    }

    @Test func anUnresolvableHostIsConnectFailed() async throws {
        let transport = HTTPTransport()
        let error = await sendError(transport, OutboundRequest(url: "http://evald-test.invalid/hook", body: [], timeout: 30))
        try await transport.shutdown()
        #expect(error?.shortDescription == "connect_failed")
        #expect(!(error?.description.contains("evald-test.invalid") ?? true))
    }

    @Test(arguments: ["hooks.slack.com/services/T0/B0/SECRETPART", "ftp://example.com/SECRETPART", "http:///SECRETPART", ""])
    func anInvalidURLIsNeverEchoed(url: String) async throws {
        let transport = HTTPTransport()
        let error = await sendError(transport, OutboundRequest(url: url, body: [], timeout: 30))
        try await transport.shutdown()
        #expect(error == .invalidURL)
        #expect(error?.shortDescription == "invalid_url")
        #expect(!(error?.description.contains("SECRETPART") ?? true))
    }

    @Test func aBodyOverTheCapIsAnError() async throws {
        try await withStubServer(
            { _ in .respond(status: 200, body: Array(repeating: 65, count: 4096)) },
            transport: HTTPTransport(maxResponseBytes: 1024)
        ) { server, transport in
            let error = await sendError(transport, OutboundRequest(url: server.baseURL + "/", body: [], timeout: 30))
            guard case .other(let detail) = error else {
                Issue.record("expected other, got \(String(describing: error))")
                return
            }
            #expect(detail.contains("larger than 1024 bytes"))
        }
    }

    @Test func aHeaderValueThatIsNotHTTPIsRefusedWithoutShowingIt() async throws {
        try await withStubServer({ _ in .respond(status: 200, body: []) }) { server, transport in
            let error = await sendError(
                transport,
                OutboundRequest(
                    url: server.baseURL + "/", headers: [(name: "Authorization", value: "Bearer sk-abc\r\nX: y")], body: [], timeout: 30))
            #expect(error?.shortDescription == "other")
            #expect(!(error?.description.contains("sk-abc") ?? true))
            #expect(server.requests.isEmpty)
        }
    }

    @Test func errorsAreClassifiedWithoutTheirDescriptions() {
        #expect(HTTPTransport.classify(errno: ECONNRESET) == .connectionClosed)
        #expect(HTTPTransport.classify(errno: ETIMEDOUT) == .timedOut)
        #expect(HTTPTransport.classify(errno: ECONNREFUSED) == .connectFailed(String(cString: strerror(ECONNREFUSED))))
        #expect(HTTPTransport.classify(CancellationError(), maxResponseBytes: 1) == .other("cancelled"))
    }
}
