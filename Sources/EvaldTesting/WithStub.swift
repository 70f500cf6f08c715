import EvaldHTTP

/// A stub server a test starts and must stop.
public protocol StoppableStub: Sendable {
    func stop() async throws
}

extension StubHTTPServer: StoppableStub {}
extension StubJudgeServer: StoppableStub {}

/// Runs `body` with a started stub and a transport, and always stops both, also when `body`
/// throws (a transport that is not shut down traps in debug builds). The whole test runs on the
/// test threads (`onTestThreads`): a test against a stub waits for replies and timeouts with
/// deadlines, which must not wait for the cooperative pool's two threads.
public func withStub<Stub: StoppableStub>(
    _ start: () async throws -> Stub, transport: HTTPTransport = HTTPTransport(),
    _ body: (Stub, HTTPTransport) async throws -> Void
) async throws {
    try await onTestThreads {
        let stub = try await start()
        do {
            try await body(stub, transport)
        } catch {
            try? await transport.shutdown()
            try? await stub.stop()
            throw error
        }
        try await transport.shutdown()
        try await stub.stop()
    }
}

/// A stub judge API answering `answer` for every prompt.
public func withStubJudge(
    default answer: @escaping @Sendable (String) -> String = { _ in #"{"score": 4, "reason": "fine"}"# },
    _ body: (StubJudgeServer, HTTPTransport) async throws -> Void
) async throws {
    try await withStub({ try await StubJudgeServer.start(default: answer) }, body)
}

/// A plain stub server with a handler of the test's own (by default: 200 "ok").
public func withStubServer(
    _ handler: @escaping @Sendable (StubHTTPServer.Request) async -> StubHTTPServer.Reply = { _ in .respond(status: 200, body: Array("ok".utf8)) },
    transport: HTTPTransport = HTTPTransport(),
    _ body: (StubHTTPServer, HTTPTransport) async throws -> Void
) async throws {
    try await withStub({ try await StubHTTPServer.start(handler: handler) }, transport: transport, body)
}
