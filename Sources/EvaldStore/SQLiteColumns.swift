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

    /// The column's UTF-8 bytes (empty for NULL), valid until the next step.
    func bytes(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let text = sqlite3_column_text(statement, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column)))
    }

    func text(_ column: Int32, equals expected: StaticString) -> Bool {
        let value = bytes(column)
        guard value.count == expected.utf8CodeUnitCount else { return false }
        return value.isEmpty || memcmp(value.baseAddress!, expected.utf8Start, value.count) == 0
    }
}

/// The few distinct strings of a column (check names, routes, models), decoded once: a
/// read of 10,000 evaluations meets the same dozen names 80,000 times.
struct InternedStrings {
    private var known: [(bytes: [UInt8], string: String)] = []
    private let capacity: Int

    init(capacity: Int = 64) { self.capacity = capacity }

    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for entry in known where entry.bytes.count == bytes.count {
            if bytes.isEmpty { return entry.string }
            let same = entry.bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
            if same { return entry.string }
        }
        let string = String(decoding: bytes, as: UTF8.self)
        if known.count < capacity { known.append((Array(bytes), string)) }
        return string
    }
}
