import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The OTLP/HTTP receiver (`otlp`) of the real binary: bodies the real Python SDK exporters
/// sent (Fixtures/otlp-http/capture.py), the answers the OTLP/HTTP specification asks for,
/// and kill -9 during a stream of posts.
@Suite(.serialized) struct OTLPReceiverIntegrationTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/otlp-http").path
    static let fileFixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EvaldCoreTests/Fixtures/otlp/openai-v2-latest-content.jsonl").path

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    static func post(
        port: Int, _ body: Data, contentType: String = "application/json", gzip: Bool = false, token: String? = nil
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/traces")!)
        request.httpMethod = "POST"
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if gzip { request.setValue("gzip", forHTTPHeaderField: "Content-Encoding") }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.upload(for: request, from: body)
        let http = try #require(response as? HTTPURLResponse)
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)".lowercased()] = "\(value)" }
        return Reply(status: http.statusCode, headers: headers, body: data)
    }

    /// Starts the daemon and waits for its receiver to listen on `port`.
    static func startReceiver(_ h: EvaldHarness, port: Int, logName: String = "daemon.log") throws -> Process {
        let daemon = try h.startDaemon(logName: logName)
        let listening = h.waitUntil(timeout: 30) {
            let log = (try? String(contentsOfFile: h.root + "/" + logName, encoding: .utf8)) ?? ""
            return log.contains("otlp.port=\(port)") || !daemon.isRunning
        }
        #expect(listening && daemon.isRunning, "\((try? String(contentsOfFile: h.root + "/" + logName, encoding: .utf8)) ?? "")")
        return daemon
    }

    /// Stored records as JSON objects without what differs from run to run (ids, times).
    static func records(_ store: StateStore) throws -> [String] {
        try store.evaluations().map { evaluation in
            let text = try #require(try store.recordJSON(evaluationID: evaluation.id))
            var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            for key in ["id", "record_id", "trace_id", "timestamp", "latency_ms"] { object.removeValue(forKey: key) }
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    static func receiverFiles(_ h: EvaldHarness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: h.spool)) ?? []).filter { $0.hasPrefix("otlp-") }.sorted()
    }

    static func lines(_ h: EvaldHarness) -> Int {
        receiverFiles(h).reduce(0) { total, name in
            total + ((try? String(contentsOfFile: h.spool + "/" + name, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
    }

    @Test func theSDKExportersBodiesBecomeTheRecordsOfTheFileFixture() async throws {
        try await onTestThreads {
            // The records evald makes of the Collector-style file fixture...
            let file = try EvaldHarness()
            try FileManager.default.copyItem(atPath: Self.fileFixture, toPath: file.spool + "/fixture.jsonl")
            #expect(try file.run(["run", "--once"]).code == 0)
            let expected = try Self.records(file.store()).sorted()
            #expect(expected.count == 2)

            // ... are the records it makes of what the SDK's exporters posted.
            let port = try AlertIntegrationTests.freePort()
            let h = try EvaldHarness(config: "otlp: {listen: \"127.0.0.1:\(port)\"}")
            let daemon = try Self.startReceiver(h, port: port)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let bodies: [(name: String, type: String, gzip: Bool)] = [
                ("openai-v2.pb", "application/x-protobuf", false), ("openai-v2.pb.gz", "application/x-protobuf", true),
                ("openai-v2.json", "application/json", false),
            ]
            for (n, body) in bodies.enumerated() {
                let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/" + body.name))
                let reply = try await Self.post(port: port, data, contentType: body.type, gzip: body.gzip)
                #expect(reply.status == 200, "\(body.name): \(String(decoding: reply.body, as: UTF8.self))")
                #expect(reply.headers["content-type"] == body.type)
                // Nothing rejected: an empty ExportTraceServiceResponse.
                #expect(body.type == "application/json" ? reply.json.isEmpty && reply.body == Data("{}".utf8) : reply.body.isEmpty, "\(body.name)")
                let stored = try h.waitUntil(timeout: 30) { try h.store().evaluationCount() == 2 * (n + 1) }
                #expect(stored, "\(body.name)")
                let records = try Self.records(h.store())
                #expect(Array(records[(2 * n)...]).sorted() == expected, "\(body.name)")
            }
            // The non-LLM spans (4 of each request's 6) are accepted and counted as skipped.
            #expect(try h.waitUntil(timeout: 30) { try h.spoolStatus("skipped_spans") == 12 })
            // A client's retry of a stored request (any encoding) is answered 200 and stored once.
            // (A line per request and instrumentation scope: the app's and openai-v2's.)
            let linesBefore = Self.lines(h)
            #expect(linesBefore == 6)
            for body in bodies {
                let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/" + body.name))
                #expect(try await Self.post(port: port, data, contentType: body.type, gzip: body.gzip).status == 200)
            }
            #expect(Self.lines(h) == linesBefore)
            #expect(try h.store().evaluationCount() == 6)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationStatus == 0)
        }
    }

    static func span(_ trace: Int, _ span: Int, llm: Bool = true, traceID: String? = nil) -> String {
        let start = UInt64(Date().timeIntervalSince1970 * 1e9)
        let attributes =
            llm
            ? #"[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o-mini"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"12"}}]"#
            : #"[{"key":"db.system","value":{"stringValue":"postgresql"}}]"#
        return
            #"{"traceId":"\#(traceID ?? String(format: "%032llx", UInt64(trace) &+ 0xabc0_0000_0000))","spanId":"\#(String(format: "%016llx", UInt64(trace) << 8 | UInt64(span) | 1 << 60))","name":"chat gpt-4o-mini","kind":3,"startTimeUnixNano":"\#(start)","endTimeUnixNano":"\#(start + 250_000_000)","attributes":\#(attributes),"status":{}}"#
    }

    static func request(_ spans: [String]) -> Data {
        Data(
            #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"support-chat"}}]},"scopeSpans":[{"scope":{"name":"test"},"spans":[\#(spans.joined(separator: ","))]}]}]}"#
                .utf8)
    }

    static func gzipFile(_ data: Data, in h: EvaldHarness) throws -> Data {
        let path = h.root + "/body-\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: path))
        #expect(try h.run(["-c", "gzip -9 \(path)"], config: false, executable: "/bin/sh").code == 0)
        return try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
    }

    @Test func theAnswersAreTheOTLPHTTPSpecifications() async throws {
        try await onTestThreads {
            let port = try AlertIntegrationTests.freePort()
            let h = try EvaldHarness(config: "otlp: {listen: \"127.0.0.1:\(port)\", max_body: 64KiB, token_file: otlp_token}")
            let token = "otlp-token-5f2c81d0a9"
            try (token + "\n").write(toFile: h.root + "/otlp_token", atomically: true, encoding: .utf8)
            let daemon = try Self.startReceiver(h, port: port)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            let good = Self.request([Self.span(1, 1), Self.span(1, 2, llm: false)])

            // 401 without the bearer token, or with another.
            let anonymous = try await Self.post(port: port, good)
            #expect(anonymous.status == 401)
            #expect(anonymous.headers["www-authenticate"] == "Bearer")
            #expect(anonymous.json["code"] as? Int == 16)
            #expect(try await Self.post(port: port, good, token: "otlp-token-wrong").status == 401)
            // 400 for what cannot be decoded; 415 for other media types and encodings.
            let garbage = try await Self.post(port: port, Data([0x0a, 0xff, 0xff, 0x01]), contentType: "application/x-protobuf", token: token)
            #expect(garbage.status == 400)
            #expect(garbage.headers["content-type"] == "application/x-protobuf")
            #expect(try await Self.post(port: port, Data("{\"resourceSpans\": ".utf8), token: token).status == 400)
            #expect(try await Self.post(port: port, Data("{\"resourceSpans\": 5}".utf8), token: token).status == 400)
            #expect(try await Self.post(port: port, Data("not gzip".utf8), gzip: true, token: token).status == 400)
            #expect(try await Self.post(port: port, good, contentType: "text/plain", token: token).status == 415)
            // 413 above max_body, as sent or once inflated.
            let large = Self.request((0..<400).map { Self.span(2, $0) })
            #expect(large.count > 64 * 1024)
            #expect(try await Self.post(port: port, large, token: token).status == 413)
            let bomb = try Self.gzipFile(Data(repeating: UInt8(ascii: " "), count: 1 << 20), in: h)
            #expect(bomb.count < 64 * 1024)
            #expect(try await Self.post(port: port, bomb, gzip: true, token: token).status == 413)
            #expect(try h.store().evaluationCount() == 0)

            // Accepted: an LLM span and a non-LLM one (skipped by the reader, never rejected).
            let accepted = try await Self.post(port: port, good, token: token)
            #expect(accepted.status == 200 && accepted.body == Data("{}".utf8))
            // A span evald cannot key is rejected alone: partial success.
            let partial = try await Self.post(
                port: port, Self.request([Self.span(3, 1), Self.span(3, 2, traceID: "00000000000000000000000000000000"), Self.span(3, 3, traceID: "xyz")]),
                token: token)
            #expect(partial.status == 200)
            let partialSuccess = partial.json["partialSuccess"] as? [String: Any]
            #expect(partialSuccess?["rejectedSpans"] as? String == "2", "\(partial.json)")
            #expect((partialSuccess?["errorMessage"] as? String)?.contains("traceId") == true)
            // gzip works as well.
            let zipped = try await Self.post(port: port, try Self.gzipFile(Self.request([Self.span(4, 1)]), in: h), gzip: true, token: token)
            #expect(zipped.status == 200)
            #expect(try h.waitUntil(timeout: 30) { try h.store().evaluationCount() == 3 })
            #expect(try h.waitUntil(timeout: 30) { try h.spoolStatus("skipped_spans") == 1 })
            let log = (try? String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)) ?? ""
            #expect(!log.contains(token), "the token must never be logged")
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    @Test func overMaxSpoolBytesTheReceiverAsksClientsToRetryLater() async throws {
        try await onTestThreads {
            let port = try AlertIntegrationTests.freePort()
            // The reader polls once at start and then not for an hour: what the receiver appends
            // stays unread.
            let h = try EvaldHarness(config: "otlp: {listen: \"127.0.0.1:\(port)\", max_spool_bytes: 1MiB}", pollInterval: "1h")
            let daemon = try Self.startReceiver(h, port: port)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            var refused: Reply?
            for n in 0..<40 where refused == nil {
                let reply = try await Self.post(port: port, Self.request((0..<100).map { Self.span(1000 + n, $0) }))
                if reply.status != 200 { refused = reply }
            }
            let reply = try #require(refused)
            #expect(reply.status == 503)
            #expect(reply.headers["retry-after"].flatMap(Int.init) ?? 0 > 0)
            #expect((reply.json["message"] as? String)?.contains("otlp.max_spool_bytes") == true)
            // What was accepted is in the spool, over the limit by at most one request.
            let size = Self.receiverFiles(h).reduce(Int64(0)) { total, name in
                total + ((try? FileManager.default.attributesOfItem(atPath: h.spool + "/" + name)[.size] as? NSNumber)?.int64Value ?? 0)
            }
            #expect(size > 1 << 20 && size < (1 << 20) + 200_000)
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    @Test func theReceiversFilesAreDeletedOnceReadWhateverAfterReadSays() async throws {
        try await onTestThreads {
            let port = try AlertIntegrationTests.freePort()
            let h = try EvaldHarness(config: "otlp: {listen: \"127.0.0.1:\(port)\"}")
            try h.writeConfig(
                """
                state_dir: state
                spool: {dir: spool, poll_interval: 100ms, idle_after: 1s, after_read: keep}
                sampling: {rate: 1}
                http: {listen: ""}
                otlp: {listen: "127.0.0.1:\(port)"}
                """)
            try h.append("collector.jsonl", try String(contentsOfFile: Self.fileFixture, encoding: .utf8))
            var daemon = try Self.startReceiver(h, port: port)
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            #expect(try await Self.post(port: port, Self.request([Self.span(1, 1)])).status == 200)
            let first = try #require(Self.receiverFiles(h).first)
            // Its file is being written: kept. A restart starts a new one; the old one goes
            // once read and idle.
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            daemon = try Self.startReceiver(h, port: port, logName: "daemon-2.log")
            #expect(try await Self.post(port: port, Self.request([Self.span(2, 1)])).status == 200)
            #expect(h.waitUntil(timeout: 30) { !Self.receiverFiles(h).contains(first) })
            #expect(Self.receiverFiles(h).count == 1)
            #expect(try h.waitUntil(timeout: 30) { try h.store().evaluationCount() == 4 })
            // The Collector's file stays (after_read: keep).
            #expect(FileManager.default.fileExists(atPath: h.spool + "/collector.jsonl"))
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
    }

    @Test func killDashNineDuringAStreamOfPostsLosesNoAcknowledgedSpanAndStoresNoneTwice() async throws {
        try await onTestThreads {
            let port = try AlertIntegrationTests.freePort()
            let h = try EvaldHarness(config: "otlp: {listen: \"127.0.0.1:\(port)\"}")
            let requests = 80
            let spansPerRequest = 5
            final class Daemons: Sendable {
                let current: Mutex<Process?> = Mutex(nil)
                let done = Atomic<Bool>(false)
                let kills = Atomic<Int>(0)
            }
            let daemons = Daemons()
            daemons.current.withLock { $0 = try? Self.startReceiver(h, port: port) }
            defer { daemons.current.withLock { if let p = $0, p.isRunning { kill(p.processIdentifier, SIGKILL) } } }

            // The killer: kill -9 at random moments, restart at once (a client meanwhile
            // gets connection errors and retries, as SDK exporters do).
            let killer = Thread {
                var random = SplitMix64(state: 19)
                var restarts = 0
                while !daemons.done.load(ordering: .relaxed) {
                    usleep(UInt32(200_000 + random.next() % 600_000))
                    guard !daemons.done.load(ordering: .relaxed) else { break }
                    daemons.current.withLock { process in
                        guard let process, process.isRunning else { return }
                        kill(process.processIdentifier, SIGKILL)
                        process.waitUntilExit()
                        daemons.kills.add(1, ordering: .relaxed)
                    }
                    restarts += 1
                    let next = try? h.startDaemon(logName: "daemon-\(restarts).log")
                    daemons.current.withLock { $0 = next }
                }
            }
            killer.start()
            var retries = 0
            // At least `requests` requests, and on until the daemon was killed 3 times (a fast
            // machine posts them all between two kills).
            var sent = 0
            while sent < requests || (daemons.kills.load(ordering: .relaxed) < 3 && sent < 5000) {
                let n = sent
                sent += 1
                let body = Self.request((0..<spansPerRequest).map { Self.span(5000 + n, $0) })
                while true {
                    if let reply = try? await Self.post(port: port, body), reply.status == 200 { break }
                    retries += 1
                    usleep(50_000)
                }
            }
            daemons.done.store(true, ordering: .relaxed)
            while killer.isExecuting { usleep(10_000) }
            // Every acknowledged span is stored exactly once.
            daemons.current.withLock { process in
                if process?.isRunning != true { process = try? h.startDaemon(logName: "daemon-final.log") }
            }
            let total = sent * spansPerRequest
            #expect(try h.waitUntil(timeout: 60) { try h.store().evaluationCount() >= total })
            // The reader has read everything there is: a span stored twice would be stored now.
            #expect(try h.waitUntil(timeout: 60) { try h.spoolStatus("bytes_pending") == 0 })
            let evaluations = try h.store().evaluations()
            let ids = evaluations.map(\.recordID)
            #expect(ids.count == total, "\(ids.count) evaluations for \(total) spans (kills \(daemons.kills.load(ordering: .relaxed)), retries \(retries))")
            #expect(Set(ids).count == total)
            #expect(daemons.kills.load(ordering: .relaxed) >= 3, "the daemon was killed \(daemons.kills.load(ordering: .relaxed)) times")
            #expect(retries > 0)
        }
    }
}
