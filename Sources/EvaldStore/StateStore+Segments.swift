import EvaldCore
import Foundation
import GRDB

extension StateStore {
    /// The evaluations of a series (route, model, metric) in [since, until), newest first (at
    /// most `limit`), each with whether it failed the metric and its segments. Metrics without
    /// a pass or fail per trace (latency, cost) give none.
    public func segmentTraces(route: String, model: String, metric: String, since: Date, until: Date, limit: Int) throws -> [FailureSegments.Trace] {
        let failed: String
        var arguments: [any DatabaseValueConvertible] = []
        if metric.hasPrefix("check:") {
            failed = "(SELECT NOT passed FROM check_result WHERE evaluation_id = e.id AND name = ?)"
            arguments.append(String(metric.dropFirst(6)))
        } else if metric.hasPrefix("judge:") {
            failed = "(SELECT NOT passed FROM judge_score WHERE evaluation_id = e.id AND judge_name = ? AND error_kind IS NULL)"
            arguments.append(String(metric.dropFirst(6).prefix { $0 != "@" }))
        } else if metric == "op:error_rate" {
            failed = "(e.status = 'error')"
        } else {
            return []
        }
        arguments += [route, model, since.timeIntervalSince1970, until.timeIntervalSince1970, limit]
        return try read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT * FROM (SELECT e.*, \(failed) AS failed FROM evaluation e
                        WHERE e.route = ? AND e.model = ? AND e.ts >= ? AND e.ts < ? ORDER BY e.ts DESC LIMIT ?)
                    WHERE failed IS NOT NULL
                    """, arguments: StatementArguments(arguments))
            var traces: [FailureSegments.Trace] = []
            while let row = try rows.next() {
                var segments: [String: String] = [:]
                segments["tenant"] = row["tenant"]
                segments["prompt_version"] = row["prompt_version"]
                let responseModel: String? = row["response_model"], fingerprint: String? = row["system_fingerprint"]
                if responseModel != nil || fingerprint != nil {
                    segments["provider_version"] = [responseModel, fingerprint].compactMap { $0 }.joined(separator: "/")
                }
                let status: String = row["status"]
                segments["error_class"] = status == "error" ? CallUsage.errorClass(of: row["error"]) : "none"
                segments["input_length"] = FailureSegments.inputLengthBucket(row["input_tokens"])
                // Tools and language are in the record itself.
                let json = try RecordDictionaries.json(db, row, cache: recordDictionaries)
                if let value = try? JSONParser.parse(json), let record = try? NativeRecordDecoder.decode(value) {
                    segments["tool"] = record.toolCalls.first?.name ?? "none"
                    if let text = record.input.last(where: { $0.role == "user" })?.content, let language = FailureSegments.language(of: text) {
                        segments["input_language"] = language
                    }
                }
                traces.append(FailureSegments.Trace(failed: row["failed"], segments: segments))
            }
            return traces
        }
    }
}
