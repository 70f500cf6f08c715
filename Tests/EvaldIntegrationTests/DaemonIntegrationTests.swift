import EvaldCore
import EvaldStore
import EvaldTesting
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct DaemonIntegrationTests {
    @Test func daemonFollowsAGrowingSpoolAndStopsGracefully() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 0.5)
            try h.append("traces.jsonl", (0..<100).map(EvaldHarness.line).joined())
            let daemon = try h.startDaemon()
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            // A rotation is followed only when evald saw the file before it: a debug evald on a
            // loaded machine may take longer to start than the appends below take.
            #expect(h.waitUntil { h.output("daemon", "log").contains("msg=spool.file_tracked spool.file=\(h.spool)/traces.jsonl\n") })

            // The spool grows while evald runs: appends, a second file, a rotation.
            for step in 1...5 {
                usleep(150_000)
                try h.append("traces.jsonl", (step * 100..<(step + 1) * 100).map(EvaldHarness.line).joined())
            }
            try h.append("other.ndjson", (600..<700).map(EvaldHarness.line).joined())
            try FileManager.default.moveItem(atPath: h.spool + "/traces.jsonl", toPath: h.spool + "/traces-1.jsonl")
            try h.append("traces.jsonl", (700..<800).map(EvaldHarness.line).joined())

            #expect(try h.waitUntil { try h.spoolStatus("lines_read") == 800 })
            let status = try h.status()
            #expect((status["daemon"] as? [String: Any])?["running"] as? Bool == true)
            #expect((status["sampling"] as? [String: Any])?["sampled"] as? Int == EvaldHarness.expectedSample(0..<800, rate: 0.5).count)
            #expect((status["spool"] as? [String: Any])?["bytes_pending"] as? Int == 0)

            let ids = try h.store().evaluations().map(\.traceID)
            #expect(ids.count == Set(ids).count)
            #expect(Set(ids) == EvaldHarness.expectedSample(0..<800, rate: 0.5))

            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
            #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
            #expect((try h.status()["daemon"] as? [String: Any])?["running"] as? Bool == false)
            let log = try String(contentsOfFile: h.root + "/daemon.log", encoding: .utf8)
            #expect(log.contains("msg=evald.started"))
            #expect(log.contains("msg=spool.file_renamed"))
            #expect(log.contains("msg=evald.stopped"))
        }
    }

    @Test func runOnceReportsRealNumbersAndQuarantine() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 1)
            try h.append("a.jsonl", (0..<50).map(EvaldHarness.line).joined() + "{\"trace_id\": \"broken\n" + "[\"an array\"]\n")
            let once = try h.run(["run", "--once"])
            #expect(once.code == 0)
            #expect(once.stdout.contains("read 52 lines"))
            #expect(once.stdout.contains("50 sampled, 2 quarantined"))

            let status = try h.run(["status", "--json"])
            #expect(status.code == 0)
            let spool = status.json["spool"] as? [String: Any]
            #expect(spool?["lines_read"] as? Int == 52)
            #expect(spool?["records"] as? Int == 50)
            #expect(spool?["malformed"] as? Int == 2)
            #expect((status.json["daemon"] as? [String: Any])?["running"] as? Bool == false)
            let judge = status.json["judge"] as? [String: Any]
            #expect((judge?["note"] as? String)?.contains("judges skipped") == true, "\(status.stdout)")

            let text = try h.run(["status"])
            #expect(text.stdout.contains("52 read, 50 records, 2 malformed"))

            let quarantine = try h.run(["spool", "quarantine", "--json"])
            let lines = quarantine.json["lines"] as? [[String: Any]] ?? []
            #expect(quarantine.json["total"] as? Int == 2)
            #expect(Set(lines.compactMap { $0["reason"] as? String }) == ["invalid_json", "not_an_object"])
            #expect(lines.allSatisfy { ($0["file"] as? String)?.hasSuffix("/spool/a.jsonl") == true })

            // A second run reads nothing new.
            #expect(try h.run(["run", "--once"]).stdout.contains("read 0 lines"))
        }
    }

    @Test func otlpAndNativeLinesInOneSpool() async throws {
        try await onTestThreads {
            let h = try EvaldHarness(rate: 1)
            // One OTLP/JSON batch (2 LLM spans, 1 HTTP span) between native records.
            let otlp =
                #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"support-chat"}}]},"scopeSpans":[{"spans":[{"traceId":"75b15b0be23b7ac193fe040727553980","spanId":"00f067aa0ba902b7","startTimeUnixNano":"1795860000000000000","endTimeUnixNano":"1795860001000000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o-mini"}},{"key":"gen_ai.output.messages","value":{"stringValue":"[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Shipped.\"}]}]"}}]},{"traceId":"75b15b0be23b7ac193fe040727553980","spanId":"00f067aa0ba902b8","startTimeUnixNano":"1795860000000000000","endTimeUnixNano":"1795860000500000000","attributes":[{"key":"http.request.method","value":{"stringValue":"POST"}}]},{"traceId":"75b15b0be23b7ac193fe040727553981","spanId":"00f067aa0ba902b9","startTimeUnixNano":1795860000000000000,"endTimeUnixNano":1795860002000000000,"attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o-mini"}}],"status":{"code":2}}]}]}]}"#
            try h.append("mixed.jsonl", EvaldHarness.line(1) + otlp + "\n" + EvaldHarness.line(2))
            #expect(try h.run(["run", "--once"]).code == 0)
            let status = try h.status()["spool"] as? [String: Any]
            #expect(status?["lines_read"] as? Int == 3)
            #expect(status?["records"] as? Int == 4)
            #expect(status?["skipped_spans"] as? Int == 1)
            let quarantined = try h.run(["spool", "quarantine"]).stdout
            #expect(status?["malformed"] as? Int == 0, "\(quarantined)")
            let store = try h.store()
            let stored = try store.evaluations()
            let ids = stored.map(\.recordID)
            #expect(ids.contains("75b15b0be23b7ac193fe040727553980:00f067aa0ba902b7"))
            #expect(ids.contains("75b15b0be23b7ac193fe040727553981:00f067aa0ba902b9"))
            #expect(ids.count == 4)
            // The mapped fields as stored.
            func record(_ id: String) throws -> TraceRecord {
                let evaluation = try #require(stored.first { $0.recordID == id })
                let json = try #require(try store.recordJSON(evaluationID: evaluation.id))
                return try NativeRecordDecoder.decode(try JSONParser.parse(json))
            }
            let answered = try record("75b15b0be23b7ac193fe040727553980:00f067aa0ba902b7")
            #expect(answered.route == "support-chat" && answered.model == "gpt-4o-mini")
            #expect(answered.output == "Shipped." && answered.status == .ok)
            #expect(answered.latencyMs == 1000)
            #expect(answered.timestamp == Date(timeIntervalSince1970: 1_795_860_000))
            let failed = try record("75b15b0be23b7ac193fe040727553981:00f067aa0ba902b9")
            #expect(failed.status == .error && failed.output == nil && failed.latencyMs == 2000)
            #expect(stored.first { $0.recordID.hasSuffix("b9") }?.traceID == "75b15b0be23b7ac193fe040727553981")
        }
    }

    @Test func badConfigurationExitsTwoNamingFileLineAndKey() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.writeConfig("spool:\n  dir: spool\n  poll_intervall: 1s\nsampling:\n  rate: two\n")
            let result = try h.run(["check-config"])
            #expect(result.code == 2)
            #expect(result.stderr.contains("\(h.configPath):3: spool.poll_intervall: unknown key"))
            #expect(result.stderr.contains("\(h.configPath):5: sampling.rate: \"two\" is not a number"))
            #expect(try h.run(["run", "--once"]).code == 2)
            #expect(try h.run(["status"]).code == 2)

            try h.writeConfig("spool:\n  dir: spool\n")
            let ok = try h.run(["check-config"])
            #expect(ok.code == 0, "\(ok.stderr)")
            #expect(ok.stdout.contains(": ok"))

            let missing = try h.run(["status", "--config", h.root + "/nope.yaml"], config: false)
            #expect(missing.code == 2)
            #expect(missing.stderr.contains("nope.yaml"))
            #expect(try h.run(["status", "--frobnicate"]).code == 2)
        }
    }

    @Test func configIsFoundThroughTheEnvironment() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            let result = try h.run(["check-config"], config: false, environment: ["EVALD_CONFIG": h.configPath])
            #expect(result.code == 0)
            #expect(result.stdout.contains(h.configPath))
        }
    }

    @Test func helpListsEveryCommand() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            let help = try h.run(["--help"], config: false)
            #expect(help.code == 0)
            for command in ["run", "status", "spool", "sample-check", "check-config"] {
                #expect(help.stdout.contains("  \(command) "), "missing \(command) in --help")
            }
            #expect(try h.run(["spool", "--help"], config: false).stdout.contains("quarantine"))
            #expect(try h.run(["run", "--help"], config: false).stdout.contains("--once"))
        }
    }

    @Test func aSecondWriterOnTheSameStateDirIsRefused() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.append("a.jsonl", (0..<10).map(EvaldHarness.line).joined())
            let daemon = try h.startDaemon()
            defer { kill(daemon.processIdentifier, SIGKILL); daemon.waitUntilExit() }
            #expect(try h.waitUntil { try h.spoolStatus("lines_read") == 10 })
            let second = try h.run(["run", "--once"])
            #expect(second.code == 3)
            #expect(second.stderr.contains("already using state_dir"))
            #expect(second.stderr.contains("pid \(daemon.processIdentifier)"))
            #expect(try h.spoolStatus("lines_read") == 10)
        }
    }

    @Test func sigintStopsGracefullyToo() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            try h.append("a.jsonl", (0..<10).map(EvaldHarness.line).joined())
            let daemon = try h.startDaemon()
            #expect(try h.waitUntil { try h.spoolStatus("lines_read") == 10 })
            kill(daemon.processIdentifier, SIGINT)
            daemon.waitUntilExit()
            #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
        }
    }

    @Test func sampleCheckPrintsTheReferenceVector() async throws {
        try await onTestThreads {
            let h = try EvaldHarness()
            let result = try h.run(["sample-check", "75b15b0be23b7ac193fe040727553980", "--rate", "0.01", "--json"], config: false)
            #expect(result.code == 0)
            #expect(result.json["sampled"] as? Bool == true)
            #expect(result.json["randomness"] as? String == "0xfe040727553980")
            #expect(result.json["threshold"] as? String == "0xfd70a3d70a3d70")
            let text = try h.run(["sample-check", "75b15b0be23b7ac193fe040727553980", "--rate", "0.001"], config: false)
            #expect(text.stdout.contains("not sampled"))
        }
    }
}
