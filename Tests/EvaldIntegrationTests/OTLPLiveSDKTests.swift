import EvaldCore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Opt-in (`EVALD_LIVE_OTLP_SDK=1`; it installs the OpenTelemetry Python SDK in virtualenvs
/// from PyPI, which CI may not reach): the real SDK's OTLP/HTTP exporters (protobuf, protobuf
/// with gzip, JSON), driven by the official openai-v2 instrumentation, send to the real
/// binary's receiver with a bearer token; the spans become the file fixture's records.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["EVALD_LIVE_OTLP_SDK"] == "1"))
struct OTLPLiveSDKTests {
    @Test func theLiveSDKExportersSpansBecomeTheFileFixturesRecords() async throws {
        try await onTestThreads {
            let file = try EvaldHarness()
            try FileManager.default.copyItem(atPath: OTLPReceiverIntegrationTests.fileFixture, toPath: file.spool + "/fixture.jsonl")
            #expect(try file.run(["run", "--once"]).code == 0)
            let expected = try OTLPReceiverIntegrationTests.records(file.store()).sorted()

            let port = try AlertIntegrationTests.freePort()
            let h = try EvaldHarness(config: "otlp: {listen: \"127.0.0.1:\(port)\", token_file: otlp_token}")
            try "live-token-0c3e\n".write(toFile: h.root + "/otlp_token", atomically: true, encoding: .utf8)
            let daemon = try OTLPReceiverIntegrationTests.startReceiver(h, port: port)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let script = OTLPReceiverIntegrationTests.fixtures + "/capture.py"
            let result = try h.run(
                [script, "--post", "http://127.0.0.1:\(port)", "--token", "live-token-0c3e"], config: false, executable: "/usr/bin/python3")
            #expect(result.code == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.components(separatedBy: "-> SUCCESS").count - 1 == 3, "\(result.stdout)")
            #expect(try h.waitUntil(timeout: 30) { try h.store().evaluationCount() == 6 })
            let records = try OTLPReceiverIntegrationTests.records(h.store()).sorted()
            #expect(records == (expected + expected + expected).sorted())
            #expect(try h.waitUntil(timeout: 30) { try h.spoolStatus("skipped_spans") == 12 })
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }
}
