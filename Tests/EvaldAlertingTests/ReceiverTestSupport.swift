import EvaldHTTP
import EvaldTesting
import Foundation
@testable import EvaldAlerting

/// Runs `body` with a stub receiver and a transport, and always stops both (a transport that
/// is not shut down traps in debug builds).
func withReceiverStub(
    _ handler: @escaping @Sendable (StubHTTPServer.Request) async -> StubHTTPServer.Reply = { _ in .respond(status: 200, body: Array("ok".utf8)) },
    _ body: (StubHTTPServer, HTTPTransport) async throws -> Void
) async throws {
    let stub = try await StubHTTPServer.start(handler: handler)
    let transport = HTTPTransport()
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

/// The error a delivery throws, or nil when it succeeded.
func deliveryError(_ work: () async throws(DeliveryError) -> Void) async -> DeliveryError? {
    do {
        try await work()
        return nil
    } catch {
        return error
    }
}
