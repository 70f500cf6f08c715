import Foundation
import GRDB
import GRDBSQLite

/// The current row of a stepping GRDB statement, read with `sqlite3_column_*`: for the few
/// hot reads where GRDB's generic row decoding costs more than the query itself. Valid only
/// between a cursor's `next()` and the next step.
struct SQLiteColumns {
    private let statement: SQLiteStatement

    init(_ statement: Statement) { self.statement = statement.sqliteStatement }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(statement, column) }
    func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }
}

/// The interned strings (`text_value`) a read meets, looked up once each: a read of 10,000
/// evaluations meets the same dozen routes and models tens of thousands of times.
struct TextValues {
    private let lookup: Statement
    private var known: [Int64: String] = [:]

    init(_ db: Database) throws { lookup = try db.cachedStatement(sql: "SELECT value FROM text_value WHERE id = ?") }

    mutating func value(_ id: Int64) throws -> String {
        if let value = known[id] { return value }
        let value = try String.fetchOne(lookup, arguments: [id]) ?? ""
        known[id] = value
        return value
    }
}

/// The checks of each check set a read meets, in name order, all passed until a failure row
/// says otherwise; and where a check id sits in its set.
struct CheckSets {
    private let lookup: Statement
    private var outcomesBySet: [Int64: [DetectionEvaluation.CheckOutcome]] = [:]
    private var positionsBySet: [Int64: [Int64: Int]] = [:]

    init(_ db: Database) throws {
        lookup = try db.cachedStatement(
            sql: "SELECT c.id, c.name FROM check_set_member m JOIN check_def c ON c.id = m.check_id WHERE m.set_id = ? ORDER BY c.name, c.id")
    }

    mutating func outcomes(_ set: Int64) throws -> [DetectionEvaluation.CheckOutcome] {
        if let outcomes = outcomesBySet[set] { return outcomes }
        var outcomes: [DetectionEvaluation.CheckOutcome] = []
        var positions: [Int64: Int] = [:]
        for row in try Row.fetchAll(lookup, arguments: [set]) {
            positions[row[0]] = outcomes.count
            outcomes.append(.init(name: row[1], passed: true))
        }
        outcomesBySet[set] = outcomes
        positionsBySet[set] = positions
        return outcomes
    }

    /// Valid for a set `outcomes` has returned.
    func position(of check: Int64, in set: Int64) -> Int? { positionsBySet[set]?[check] }
}
