import EvaldCore
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Writes evaluations, check results, verdicts and rollups in the compact layout, inside one
/// write transaction. Its caches (string ids, dictionaries) live only as long as that
/// transaction: an id read or made in a transaction that rolls back is never reused later.
struct CompactWriter {
    let db: Database
    private var texts: [String: Int64] = [:]
    private var checkSets: [[Int64]: Int64] = [:]
    private var checkDefs: [String: Int64] = [:]
    private var series: [String: Int64] = [:]
    /// The newest dictionary of each route (route id, or -1 for none) as known in this transaction.
    private var dictionaries: [Int64: StoredDictionary?] = [:]
    private let committedDictionaries: RecordDictionaryCache?

    init(_ db: Database, committedDictionaries: RecordDictionaryCache? = nil) {
        self.db = db
        self.committedDictionaries = committedDictionaries
    }

    struct StoredDictionary {
        var id: Int64
        var bytes: [UInt8]
    }

    mutating func textID(_ value: String?) throws -> Int64? {
        guard let value else { return nil }
        return try textID(value)
    }

    mutating func textID(_ value: String) throws -> Int64 {
        if let id = texts[value] { return id }
        let id: Int64
        if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM text_value WHERE value = ?", arguments: [value]) {
            id = existing
        } else {
            try db.execute(sql: "INSERT INTO text_value (value) VALUES (?)", arguments: [value])
            id = db.lastInsertedRowID
        }
        texts[value] = id
        return id
    }

    /// The shortest text that reads back as the same Double (sample rates repeat a few values).
    static func rateText(_ rate: Double) -> String { "\(rate)" }

    mutating func checkSetID(_ results: [CheckResult]) throws -> (set: Int64, checks: [Int64])? {
        guard !results.isEmpty else { return nil }
        var ids: [Int64] = []
        for result in results {
            let key = result.name + "\u{0}" + result.kind
            if let id = checkDefs[key] {
                ids.append(id)
                continue
            }
            let id: Int64
            if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM check_def WHERE name = ? AND kind = ?", arguments: [result.name, result.kind]) {
                id = existing
            } else {
                try db.execute(sql: "INSERT INTO check_def (name, kind) VALUES (?, ?)", arguments: [result.name, result.kind])
                id = db.lastInsertedRowID
            }
            checkDefs[key] = id
            ids.append(id)
        }
        let members = Array(Set(ids)).sorted()
        if let set = checkSets[members] { return (set, ids) }
        let key = members.map(String.init).joined(separator: ",")
        let set: Int64
        if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM check_set WHERE members = ?", arguments: [key]) {
            set = existing
        } else {
            try db.execute(sql: "INSERT INTO check_set (members) VALUES (?)", arguments: [key])
            set = db.lastInsertedRowID
            for member in members {
                try db.execute(sql: "INSERT INTO check_set_member (set_id, check_id) VALUES (?, ?)", arguments: [set, member])
            }
        }
        checkSets[members] = set
        return (set, ids)
    }

    mutating func seriesID(metric: String, route: String, model: String) throws -> Int64 {
        let key = metric + "\u{0}" + route + "\u{0}" + model
        if let id = series[key] { return id }
        let id: Int64
        if let existing = try Int64.fetchOne(
            db, sql: "SELECT id FROM rollup_series WHERE metric = ? AND route = ? AND model = ?", arguments: [metric, route, model])
        {
            id = existing
        } else {
            try db.execute(sql: "INSERT INTO rollup_series (metric, route, model) VALUES (?, ?, ?)", arguments: [metric, route, model])
            id = db.lastInsertedRowID
        }
        series[key] = id
        return id
    }

    // MARK: records

    /// A record on its way into `evaluation_data`.
    struct Row {
        var record: TraceRecord
        var sampleRate: Double
        var fileID: Int64
        var lineOffset: Int64
        var indexInLine: Int
        var ingestedAt: Double
        var json: [UInt8]
        var checks: [CheckResult]
        var hasContent: Bool
        /// Kept as it was when copying an old database.
        var id: Int64?
    }

    /// Inserts records (their dictionaries first) and their check results; returns each new
    /// evaluation id, in order.
    mutating func insert(_ rows: [Row]) throws -> [Int64] {
        // A route's dictionary grows with the records of each batch until it is full, before
        // they are compressed, so even the first batch of a new route compresses well.
        var byRoute: [Int64: [[UInt8]]] = [:]
        var routeIDs: [Int64?] = []
        for row in rows {
            let route = try textID(row.record.route)
            routeIDs.append(route)
            byRoute[route ?? -1, default: []].append(row.json)
        }
        for (route, records) in byRoute.sorted(by: { $0.key < $1.key }) {
            try grow(route: route, with: records)
        }
        let insert = try SQLiteInsert(
            db,
            sql: """
                INSERT INTO evaluation_data (id, trace_id, record_id, file_id, line_offset, index_in_line, ts, ingested_at,
                    route_id, tenant_id, provider_id, model_id, response_model_id, system_fingerprint_id, prompt_version_id, status_id, error,
                    finish_reason_id, latency_ms, input_tokens, output_tokens, cost_usd, feedback, has_content, sample_rate_id,
                    check_set_id, dictionary_id, record_form, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let insertFailure = try SQLiteInsert(db, sql: "INSERT OR REPLACE INTO check_failure (evaluation_id, check_id, detail) VALUES (?, ?, ?)")
        var ids: [Int64] = []
        var deflaters: [Int64: PrimedDeflater] = [:]
        for (row, route) in zip(rows, routeIDs) {
            let r = row.record
            let dictionary = dictionaries[route ?? -1] ?? nil
            let deflater = deflaters[route ?? -1] ?? PrimedDeflater(dictionary: dictionary?.bytes)
            deflaters[route ?? -1] = deflater
            let checks = try checkSetID(row.checks)
            let (form, json) = RecordForm.elidingTraceID(row.json, traceID: r.traceID)
            try insert.run(
                row.id, TraceIDCoding.storedForm(r.traceID), TraceIDCoding.storedRecordID(r.recordID, traceID: r.traceID),
                row.fileID, row.lineOffset, row.indexInLine, r.timestamp.timeIntervalSince1970, row.ingestedAt.rounded(.down),
                route, try textID(r.tenant), try textID(r.provider), try textID(r.model), try textID(r.responseModel),
                try textID(r.systemFingerprint), try textID(r.promptVersion), try textID(r.status.rawValue), r.error,
                try textID(r.finishReason), r.latencyMs, r.inputTokens, r.outputTokens, r.costUSD, r.feedback, row.hasContent,
                try textID(Self.rateText(row.sampleRate)), checks?.set, dictionary?.id, form, deflater.compress(json))
            let id = db.lastInsertedRowID
            ids.append(id)
            if let checks {
                for (result, check) in zip(row.checks, checks.checks) where !result.passed {
                    try insertFailure.run(id, check, result.detail)
                }
            }
        }
        return ids
    }

    /// Adds a batch's records of a route to its dictionary while it holds less than 32 KiB:
    /// a new generation stores only the added bytes, deflated against the parent's.
    private mutating func grow(route: Int64, with records: [[UInt8]]) throws {
        let current = try newestDictionary(route: route)
        if let current, current.bytes.count >= RecordCompression.maxDictionaryBytes { return }
        var added: [UInt8] = []
        let room = RecordCompression.maxDictionaryBytes - (current?.bytes.count ?? 0)
        // The newest records last: deflate finds the nearest matches cheapest.
        for record in records.reversed() {
            if added.count >= room { break }
            added.insert(contentsOf: record + [0x0A], at: 0)
        }
        let blob = RecordCompression.compress(added, dictionary: current?.bytes)
        let bytes = Array(((current?.bytes ?? []) + added).suffix(RecordCompression.maxDictionaryBytes))
        try db.execute(
            sql: "INSERT INTO record_dictionary (route_id, parent_id, size, added, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [route < 0 ? nil : route, current?.id, bytes.count, Data(blob), Date().timeIntervalSince1970])
        dictionaries[route] = StoredDictionary(id: db.lastInsertedRowID, bytes: bytes)
    }

    private mutating func newestDictionary(route: Int64) throws -> StoredDictionary? {
        if let known = dictionaries[route] { return known }
        let id = try Int64.fetchOne(
            db, sql: "SELECT MAX(id) FROM record_dictionary WHERE route_id IS ?", arguments: [route < 0 ? nil : route])
        // Read before this transaction adds to the route: a committed dictionary, which the
        // shared cache may hold and keep.
        let found = try id.map { StoredDictionary(id: $0, bytes: try RecordDictionaries.bytes(db, id: $0, cache: committedDictionaries)) }
        dictionaries[route] = .some(found)
        return found
    }
}

/// Committed record dictionaries, rebuilt from their chain of generations once and kept: a
/// dictionary is never changed once committed and its id (AUTOINCREMENT) never reused, so an
/// entry stays right. Only dictionaries read from committed state go in (never one made in a
/// write transaction that may still roll back). Bounded: at most `capacity` of 32 KiB each.
public final class RecordDictionaryCache: Sendable {
    private let entries = Mutex<[Int64: [UInt8]]>([:])
    private let capacity: Int

    public init(capacity: Int = 256) { self.capacity = capacity }

    func bytes(_ id: Int64) -> [UInt8]? { entries.withLock { $0[id] } }

    func keep(_ id: Int64, _ bytes: [UInt8]) {
        entries.withLock { entries in
            if entries.count >= capacity, let any = entries.keys.first { entries.removeValue(forKey: any) }
            entries[id] = bytes
        }
    }
}

/// Reads record dictionaries (a chain of generations) back.
enum RecordDictionaries {
    /// A dictionary's bytes: its parent's, then what it added, the last 32 KiB of them. `cache`
    /// only for a dictionary known to be committed.
    static func bytes(_ db: Database, id: Int64, cache: RecordDictionaryCache?) throws -> [UInt8] {
        if let known = cache?.bytes(id) { return known }
        let bytes = try rebuild(db, id: id)
        cache?.keep(id, bytes)
        return bytes
    }

    private static func rebuild(_ db: Database, id: Int64) throws -> [UInt8] {
        var chain: [(added: [UInt8], size: Int)] = []
        var next: Int64? = id
        while let current = next {
            guard let row = try GRDB.Row.fetchOne(db, sql: "SELECT parent_id, size, added FROM record_dictionary WHERE id = ?", arguments: [current]) else {
                throw RecordCompression.Failure(message: "dictionary \(current) is missing")
            }
            chain.append(([UInt8](row["added"] as Data), row["size"]))
            next = row["parent_id"]
        }
        var bytes: [UInt8] = []
        for link in chain.reversed() {
            bytes = Array((bytes + (try RecordCompression.decompress(link.added, dictionary: bytes))).suffix(RecordCompression.maxDictionaryBytes))
        }
        return bytes
    }

    /// The JSON of a stored (committed) record.
    static func json(_ db: Database, _ row: GRDB.Row, cache: RecordDictionaryCache) throws -> String {
        let record: Data = row["record"], dictionaryID: Int64? = row["dictionary_id"]
        let traceID = TraceIDCoding.text(row["trace_id"])
        let dictionary = try dictionaryID.map { try bytes(db, id: $0, cache: cache) }
        let json = try RecordCompression.decompress([UInt8](record), dictionary: dictionary)
        return String(decoding: RecordForm.restoring(json, form: row["record_form"], traceID: traceID), as: UTF8.self)
    }
}

/// How trace and record ids are stored: a W3C trace id (32 lowercase hex digits) as its 16
/// bytes; a record id equal to the trace id as NULL, and one that extends it (`trace:span`) as
/// its suffix.
enum TraceIDCoding {
    /// A trace id as it is stored: its 16 bytes, or its text.
    enum Stored: SQLiteBindable {
        case bytes([UInt8])
        case text(String)

        func bindValue(to statement: SQLiteStatement, at column: Int32) {
            switch self {
            case .bytes(let bytes): bytes.bindValue(to: statement, at: column)
            case .text(let text): text.bindValue(to: statement, at: column)
            }
        }
    }

    static func stored(_ traceID: String) -> any DatabaseValueConvertible {
        switch storedForm(traceID) {
        case .bytes(let bytes): Data(bytes)
        case .text(let text): text
        }
    }

    static func storedForm(_ traceID: String) -> Stored {
        let utf8 = Array(traceID.utf8)
        guard utf8.count == 32 else { return .text(traceID) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        var index = 0
        while index < 32 {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return .text(traceID) }
            bytes.append(high << 4 | low)
            index += 2
        }
        return .bytes(bytes)
    }

    static func text(_ stored: DatabaseValue) -> String {
        if let data = Data.fromDatabaseValue(stored), case .blob = stored.storage {
            return lowercaseHex(data)
        }
        return String.fromDatabaseValue(stored) ?? ""
    }

    static func storedRecordID(_ recordID: String, traceID: String) -> String? {
        if recordID == traceID { return nil }
        if recordID.hasPrefix(traceID + ":") { return String(recordID.dropFirst(traceID.count)) }
        return recordID
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// A record's JSON without its trace id (the column holds it): the first `"trace_id":"<id>"`
/// is stored as `"trace_id":""` (form 1); JSON without that exact text is stored as it is (form 0).
enum RecordForm {
    private static let key = Array(#""trace_id":""#.utf8)

    static func elidingTraceID(_ json: [UInt8], traceID: String) -> (form: Int, json: [UInt8]) {
        let id = Array(traceID.utf8)
        guard !id.isEmpty, let start = firstRange(of: key, in: json) else { return (0, json) }
        let idStart = start + key.count
        guard json.count >= idStart + id.count + 1, Array(json[idStart..<(idStart + id.count)]) == id, json[idStart + id.count] == UInt8(ascii: "\"")
        else { return (0, json) }
        return (1, Array(json[..<idStart]) + Array(json[(idStart + id.count)...]))
    }

    static func restoring(_ json: [UInt8], form: Int, traceID: String) -> [UInt8] {
        guard form == 1, let start = firstRange(of: key, in: json) else { return json }
        let idStart = start + key.count
        return Array(json[..<idStart]) + Array(traceID.utf8) + Array(json[idStart...])
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
