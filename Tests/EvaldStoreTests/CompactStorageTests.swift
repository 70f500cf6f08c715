import EvaldCore
import Foundation
import GRDB
import Testing

@testable import EvaldStore

@Suite struct CompactStorageTests {
    let root = NSTemporaryDirectory() + "evald-compact-\(UUID().uuidString)"
    var dbPath: String { root + "/evald.db" }

    static let traceA = "0b46553a51b291faf570fb7376dfb3a3"
    static func json(_ trace: String, _ n: Int) -> String {
        #"{"trace_id":"\#(trace)","timestamp":"2026-11-28T00:00:0\#(n).000Z","route":"support-chat","model":"gpt-4o-mini","input":[{"role":"system","content":"You are Ava, the support assistant."},{"role":"user","content":"Where is order A-\#(n)?"}],"output":"It ships today.","latency_ms":\#(900 + n)}"#
    }

    /// A database as the previous version (schema v6) left it, with records, check results, a
    /// verdict, a queued judgement, rollups and an alert's examples.
    func makeV6Database() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.journalMode = .wal
        let queue = try DatabaseQueue(path: dbPath, configuration: configuration)
        try StateStore.migrator.migrate(queue, upTo: "v6-canary")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO spool_file (id, path, device, inode, fingerprint, offset, state, first_seen_at, updated_at)
                        VALUES (1, '/s/a.jsonl', 1, 2, 'fp', 3000, 'active', 0, 0);
                    INSERT INTO counter (name, value) VALUES ('sampled', 3);
                    """)
            let traces = [Self.traceA, "not-a-hex-trace-id", "c7b414774742a7e930f16c978c48f89b"]
            let records = [Self.traceA, "not-a-hex-trace-id", "c7b414774742a7e930f16c978c48f89b:00f067aa0ba902b7"]
            for i in 0..<3 {
                try db.execute(
                    sql: """
                        INSERT INTO evaluation (id, record_id, trace_id, file_id, line_offset, index_in_line, ts, ingested_at, route, tenant,
                            provider, model, response_model, system_fingerprint, prompt_version, status, error, finish_reason, latency_ms,
                            input_tokens, output_tokens, cost_usd, feedback, has_content, sample_rate, record_json)
                        VALUES (?, ?, ?, 1, ?, 0, ?, ?, 'support-chat', 'acme', 'openai', 'gpt-4o-mini', 'gpt-4o-mini-2024-07-18', 'fp_1',
                            'support-v12', ?, ?, NULL, ?, 100, 20, 0.00012, NULL, 1, 0.05, ?)
                        """,
                    arguments: [
                        i + 1, records[i], traces[i], i * 1000, 1_795_824_000.575 + Double(i), 1_795_824_100.25, i == 1 ? "error" : "ok",
                        i == 1 ? "rate_limited" : nil, 900 + i, Self.json(traces[i], i),
                    ])
                try db.execute(
                    sql:
                        "INSERT INTO check_result (evaluation_id, name, kind, passed, detail) VALUES (?, 'ok', 'status_ok', ?, ?), (?, 'fast', 'latency', 1, 'took 900 ms')",
                    arguments: [i + 1, i != 1, i == 1 ? "status error: rate_limited" : "ok", i + 1])
            }
            try db.execute(
                sql: """
                    INSERT INTO judge_score (evaluation_id, judge, judge_name, score, passed, reason, endpoint, judge_model, input_tokens,
                        output_tokens, latency_ms, attempts, judged_at)
                        VALUES (1, 'helpfulness@2+abcdef12', 'helpfulness', 4, 1, 'answers it', 'default', 'judge-model', 300, 9, 812.5, 1, 1795824200.5);
                    INSERT INTO judge_queue (evaluation_id, judge_name, enqueued_at) VALUES (3, 'helpfulness', 1795824100.25);
                    INSERT INTO rollup_minute (metric, route, model, minute, n, pass_n, sum, sum_sq, hist)
                        VALUES ('check:ok', 'support-chat', 'gpt-4o-mini', 29930400, 3, 2, 0, 0, NULL);
                    INSERT INTO rollup_op_minute (route, model, minute, calls, ok_calls, latency_n, latency_sum, latency_sq, latency_hist,
                        cost_n, cost_sum, cost_sq, tokens_n, tokens_sum, tokens_sq)
                        VALUES ('support-chat', 'gpt-4o-mini', 29930400, 3, 2, 3, 2703, 2435409, NULL, 3, 0.00036, 4.32e-8, 3, 60, 1200);
                    INSERT INTO alert (id, fingerprint, alertname, severity, labels_json, annotations_json, state, started_at, updated_at)
                        VALUES (7, 'f', 'QualityRegression', 'critical', '{}', '{}', 'firing', 1795824300, 1795824300);
                    INSERT INTO alert_example (alert_id, evaluation_id) VALUES (7, 2);
                    UPDATE sqlite_sequence SET seq = 5 WHERE name = 'evaluation';  -- ids 4 and 5 were pruned
                    """)
        }
    }

    /// Detection reads the compact tables directly; what it reads must be what the views say.
    @Test func detectionReadAgreesWithTheViews() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeV6Database()
        let store = try StateStore.open(path: dbPath)
        let read = try store.detectionEvaluations(after: 0, limit: 10)
        #expect(read.map(\.id) == [1, 2, 3])
        #expect(read.map(\.ok) == [true, false, true])
        #expect(read.map(\.route) == ["support-chat", "support-chat", "support-chat"])
        #expect(read.map(\.responseModel) == ["gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"])
        #expect(read.map(\.latencyMs) == [900, 901, 902])
        let viewed = try store.read { db in
            try Row.fetchAll(db, sql: "SELECT evaluation_id, name, passed FROM check_result ORDER BY evaluation_id, name").map {
                "\($0[0] as Int64) \($0[1] as String) \($0[2] as Bool)"
            }
        }
        let detected = read.flatMap { evaluation in evaluation.checks.map { "\(evaluation.id) \($0.name) \($0.passed)" } }
        #expect(detected == viewed)
        #expect(detected.contains("2 ok false") && detected.contains("2 fast true"))
        #expect(try store.detectionEvaluations(after: 1, limit: 1).map(\.id) == [2])
        #expect(try store.evaluationCount(after: 1) == 2)
    }

    /// Pruning by size never takes what is still needed: an open alert's example (2), a trace
    /// waiting for its judge (3), or what detection has not read.
    @Test func pruningBySizeKeepsAlertExamplesQueuedJudgementsAndUnreadEvaluations() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeV6Database()
        let store = try StateStore.open(path: dbPath)
        #expect(try store.pruneOldestEvaluations(limit: 10, keepingTraceIDs: []) == 0)  // detection has read nothing
        try store.write { db in
            try db.execute(sql: "INSERT INTO detection_state (kind, key, state_json, updated_at) VALUES ('cursor', 'evaluation', '3', 0)")
        }
        #expect(try store.pruneOldestEvaluations(limit: 10, keepingTraceIDs: []) == 1)
        #expect(try store.evaluations().map(\.id) == [2, 3])
        // As a last resort the queued one goes too, counted as a dropped judgement.
        #expect(try store.pruneOldestEvaluations(limit: 10, keepingTraceIDs: [], keepingQueued: false) == 1)
        #expect(try store.evaluations().map(\.id) == [2])
        #expect(try store.counters()["judge_dropped_by_size"] == 1)
        #expect(try store.counters()["pruned_by_size"] == 2)
    }

    @Test func aV6DatabaseMigratesInPlaceWithItsRecords() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try makeV6Database()
        // The CLI refuses an unmigrated database; the daemon migrates it.
        #expect(throws: StoreError.self) { try StateStore.openExisting(path: dbPath) }
        let store = try StateStore.open(path: dbPath)
        let evaluations = try store.evaluations()
        #expect(evaluations.map(\.id) == [1, 2, 3])
        #expect(evaluations.map(\.traceID) == [Self.traceA, "not-a-hex-trace-id", "c7b414774742a7e930f16c978c48f89b"])
        #expect(evaluations.map(\.recordID) == [Self.traceA, "not-a-hex-trace-id", "c7b414774742a7e930f16c978c48f89b:00f067aa0ba902b7"])
        #expect(evaluations.allSatisfy { $0.route == "support-chat" && $0.model == "gpt-4o-mini" && $0.sampleRate == 0.05 })
        for (i, evaluation) in evaluations.enumerated() {
            #expect(try store.recordJSON(evaluationID: evaluation.id) == Self.json(evaluation.traceID, i))
        }
        let detail = try #require(try store.evaluationDetail(id: 2))
        #expect(detail.status == "error" && detail.error == "rate_limited" && detail.latencyMs == 901 && detail.costUSD == 0.00012)
        #expect(detail.promptVersion == "support-v12" && detail.systemFingerprint == "fp_1" && detail.filePath == "/s/a.jsonl")
        #expect(detail.timestamp == Date(timeIntervalSince1970: 1_795_824_001.575))
        // Failed checks keep their detail; passes are stored without it.
        #expect(
            try store.checkResults(evaluationID: 2) == [
                CheckResult(name: "fast", kind: "latency", passed: true, detail: ""),
                CheckResult(name: "ok", kind: "status_ok", passed: false, detail: "status error: rate_limited"),
            ])
        let verdicts = try store.judgeVerdicts(evaluationID: 1)
        #expect(verdicts.count == 1)
        #expect(verdicts.first?.identity == "helpfulness@2+abcdef12" && verdicts.first?.outcome == .scored(score: 4, passed: true, reason: "answers it"))
        #expect(try store.queuedJudgements(evaluationID: 3).map(\.judgeName) == ["helpfulness"])
        let totals = try store.seriesTotals(since: Date(timeIntervalSince1970: 1_795_824_000), until: Date(timeIntervalSince1970: 1_795_824_060))
        #expect(totals.first { $0.metric == "check:ok" }?.cell.n == 3)
        #expect(totals.first { $0.metric == "op:error_rate" }?.cell.passN == 2)
        #expect(try store.alertExamples(id: 7) == [2])
        // By trace id and by record id (the span of an OTLP record).
        #expect(try store.evaluationIDs(traceOrRecordID: Self.traceA) == [1])
        #expect(try store.evaluationIDs(traceOrRecordID: "not-a-hex-trace-id") == [2])
        #expect(try store.evaluationIDs(traceOrRecordID: "c7b414774742a7e930f16c978c48f89b:00f067aa0ba902b7") == [3])

        // New evaluations continue after the old ids (detection's cursor counts on it).
        let file = try #require(try store.trackedSpoolFiles().first)
        var batch = IngestBatch(fileID: file.id, startOffset: 3000, newOffset: 4000, committedAt: Date())
        var record = TraceRecord(recordID: "t-new", traceID: "t-new", timestamp: Date(timeIntervalSince1970: 1_795_824_010), model: "gpt-4o-mini")
        record.route = "support-chat"
        batch.sampled = [SampledLine(record: record, sampleRate: 1, lineOffset: 3000, recordJSON: #"{"trace_id":"t-new"}"#)]
        try store.commitBatch(batch)
        #expect(try store.evaluations().last?.id == 6)
        #expect(try store.recordJSON(evaluationID: 6) == #"{"trace_id":"t-new"}"#)

        // The stable reporting names read as before, for sqlite3 users.
        let rows = try store.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.trace_id, e.route, e.model, e.timestamp, c.name, c.kind, c.passed, c.detail
                    FROM evaluation e JOIN check_result c ON c.evaluation_id = e.id WHERE c.passed = 0
                    """)
        }
        #expect(rows.count == 1)
        #expect(rows.first?["trace_id"] == "not-a-hex-trace-id")
        #expect(rows.first?["timestamp"] == "2026-11-28T00:00:01.575Z")
        #expect(rows.first?["detail"] == "status error: rate_limited")
        // Free pages go back to the file system in steps.
        #expect(try store.read { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") } == 2)
    }

    @Test func recordsRoundTripThroughTheirRouteDictionary() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try StateStore.open(path: dbPath)
        let file = try store.trackSpoolFile(path: "/s/a.jsonl", device: 1, inode: 2, fingerprint: "fp", at: Date())
        var offset: Int64 = 0
        var expected: [String] = []
        // Small batches: the dictionary grows over several generations.
        for round in 0..<6 {
            var batch = IngestBatch(fileID: file.id, startOffset: offset, newOffset: offset + 1000, committedAt: Date())
            for i in 0..<(round + 1) {
                let n = round * 10 + i
                let trace = String(format: "%032x", n * 7919 + 1)
                var record = TraceRecord(recordID: trace, traceID: trace, timestamp: Date(timeIntervalSince1970: 1_795_824_000 + Double(n)), model: "m")
                record.route = n % 2 == 0 ? "support-chat" : nil
                let json = Self.json(trace, n)
                expected.append(json)
                batch.sampled.append(SampledLine(record: record, sampleRate: 0.01, lineOffset: offset + Int64(i * 100), recordJSON: json))
            }
            try store.commitBatch(batch)
            offset += 1000
        }
        let evaluations = try store.evaluations()
        #expect(evaluations.count == expected.count)
        for (evaluation, json) in zip(evaluations, expected) {
            #expect(try store.recordJSON(evaluationID: evaluation.id) == json)
        }
        let generations = try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record_dictionary") }
        #expect((generations ?? 0) > 2)
    }
}
