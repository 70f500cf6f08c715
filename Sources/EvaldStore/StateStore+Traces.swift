import EvaldCore
import Foundation
import GRDB

/// What `evald traces` searches for.
public struct TraceQuery: Sendable {
    public var route: String?
    public var tenant: String?
    public var model: String?
    public var promptVersion: String?
    public var errorClass: String?
    public var failedCheck: String?
    public var requestID: String?
    public var since: Date
    public var limit: Int

    public init(since: Date, limit: Int) {
        self.since = since
        self.limit = limit
    }
}

/// A stored trace: an evaluation of the sample, or a failed call kept outside it.
public struct FoundTrace: Sendable {
    public enum Source: String, Sendable { case sample, failedCall = "failed_call" }

    public var source: Source
    /// `e-42` for an evaluation, `f-7` for a failed call.
    public var id: String
    public var traceID: String
    public var recordID: String
    public var timestamp: Date
    public var route: String?
    public var model: String
    public var tenant: String?
    public var promptVersion: String?
    public var status: String
    public var errorClass: String?
    public var error: String?
    public var latencyMs: Double?
    public var failedChecks: [String]
    public var requestID: String?
}

extension StateStore {
    /// Newest first, at most `query.limit`.
    public func traces(_ query: TraceQuery) throws -> [FoundTrace] {
        try read { db in
            var found: [FoundTrace] = []
            var filters = ["ts >= ?"]
            var arguments: [any DatabaseValueConvertible] = [query.since.timeIntervalSince1970]
            for (column, value) in [("route", query.route), ("tenant", query.tenant), ("model", query.model), ("prompt_version", query.promptVersion)] {
                guard let value else { continue }
                filters.append("\(column) = ?")
                arguments.append(value)
            }
            var evaluationFilters = filters
            var evaluationArguments = arguments
            if let check = query.failedCheck {
                evaluationFilters.append("id IN (SELECT evaluation_id FROM check_result WHERE name = ? AND NOT passed)")
                evaluationArguments.append(check)
            }
            if query.errorClass != nil { evaluationFilters.append("status = 'error'") }
            let evaluations = try Row.fetchCursor(
                db, sql: "SELECT * FROM evaluation WHERE \(evaluationFilters.joined(separator: " AND ")) ORDER BY ts DESC",
                arguments: StatementArguments(evaluationArguments))
            while found.count < query.limit, let row = try evaluations.next() {
                let error: String? = row["error"]
                let status: String = row["status"]
                let errorClass = status == "error" ? CallUsage.errorClass(of: error) : nil
                if let wanted = query.errorClass, errorClass != wanted { continue }
                let json = try RecordDictionaries.json(db, row, cache: recordDictionaries)
                let requestID = Self.requestID(in: json)
                if let wanted = query.requestID, requestID != wanted { continue }
                let id: Int64 = row["id"]
                let failed = try String.fetchAll(
                    db, sql: "SELECT name FROM check_result WHERE evaluation_id = ? AND NOT passed ORDER BY name", arguments: [id])
                found.append(
                    FoundTrace(
                        source: .sample, id: "e-\(id)", traceID: row["trace_id"], recordID: row["record_id"], timestamp: Date(timeIntervalSince1970: row["ts"]),
                        route: row["route"], model: row["model"], tenant: row["tenant"], promptVersion: row["prompt_version"], status: status,
                        errorClass: errorClass, error: error, latencyMs: row["latency_ms"], failedChecks: failed, requestID: requestID))
            }
            if query.failedCheck == nil {
                var callFilters = filters
                var callArguments = arguments
                if let errorClass = query.errorClass {
                    callFilters.append("error_class = ?")
                    callArguments.append(errorClass)
                }
                let calls = try Row.fetchCursor(
                    db, sql: "SELECT * FROM failed_call WHERE \(callFilters.joined(separator: " AND ")) ORDER BY ts DESC",
                    arguments: StatementArguments(callArguments))
                var taken = 0
                while taken < query.limit, let row = try calls.next() {
                    let record: Data = row["record"]
                    let json = String(decoding: try RecordCompression.decompress([UInt8](record)), as: UTF8.self)
                    let requestID = Self.requestID(in: json)
                    if let wanted = query.requestID, requestID != wanted { continue }
                    let id: Int64 = row["id"]
                    taken += 1
                    found.append(
                        FoundTrace(
                            source: .failedCall, id: "f-\(id)", traceID: row["trace_id"], recordID: row["record_id"],
                            timestamp: Date(timeIntervalSince1970: row["ts"]), route: row["route"], model: row["model"], tenant: row["tenant"],
                            promptVersion: row["prompt_version"], status: "error", errorClass: row["error_class"], error: row["error"],
                            latencyMs: row["latency_ms"], failedChecks: [], requestID: requestID))
                }
            }
            return Array(found.sorted { $0.timestamp > $1.timestamp }.prefix(query.limit))
        }
    }

    /// The stored record of failed call `f-ID`, inflated; nil when there is none (pruned).
    public func failedCallRecordJSON(id: Int64) throws -> String? {
        try read { db in
            guard let record = try Data.fetchOne(db, sql: "SELECT record FROM failed_call WHERE id = ?", arguments: [id]) else { return nil }
            return String(decoding: try RecordCompression.decompress([UInt8](record)), as: UTF8.self)
        }
    }

    /// `metadata.request_id` of a stored record's JSON (the seed's "searchable by request ID").
    static func requestID(in json: String) -> String? {
        guard json.contains("request_id"), let value = try? JSONParser.parse(json) else { return nil }
        return value["metadata"]?["request_id"]?.stringValue ?? value["request_id"]?.stringValue
    }
}
