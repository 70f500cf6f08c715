import Foundation
import GRDB
import GRDBSQLite

/// A cached insert bound with `sqlite3_bind_*` and stepped directly: for the commit's
/// row-by-row inserts (evaluations, failed calls, feedback), where GRDB's `StatementArguments`
/// (an array of existentials, each turned into a `DatabaseValue`) and its per-statement
/// bookkeeping cost more than SQLite's own work. Only for inserts inside a write transaction
/// into tables nothing observes through GRDB; a failure throws, and the transaction rolls back.
struct SQLiteInsert {
    private let statement: Statement
    private let connection: SQLiteConnection?

    init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        connection = db.sqliteConnection
    }

    /// Inserts one row: `values` in the order of the statement's parameters.
    func run<each Value: SQLiteBindable>(_ values: repeat each Value) throws {
        let handle = statement.sqliteStatement
        // Bound values stay until the next bind; each row binds every parameter.
        defer { sqlite3_reset(handle) }
        var column: Int32 = 0
        for value in repeat each values {
            column += 1
            value.bindValue(to: handle, at: column)
        }
        precondition(column == sqlite3_bind_parameter_count(handle), "\(column) values for the parameters of: \(statement.sql)")
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
    }
}

/// A value `SQLiteInsert` binds to a parameter.
protocol SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32)
}

/// SQLite copies the bytes before the bind returns: the Swift buffer may go.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

extension Int64: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) { sqlite3_bind_int64(statement, column, self) }
}

extension Int: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) { sqlite3_bind_int64(statement, column, Int64(self)) }
}

extension Bool: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) { sqlite3_bind_int64(statement, column, self ? 1 : 0) }
}

extension Double: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) { sqlite3_bind_double(statement, column, self) }
}

extension String: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) {
        // With its length: a NUL inside the text stays part of it.
        _ = withCString { sqlite3_bind_text(statement, column, $0, Int32(utf8.count), transient) }
    }
}

/// A blob.
extension Array: SQLiteBindable where Element == UInt8 {
    func bindValue(to statement: SQLiteStatement, at column: Int32) { withUnsafeBytes { bindBlob($0, to: statement, at: column) } }
}

/// A blob.
extension Data: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) { withUnsafeBytes { bindBlob($0, to: statement, at: column) } }
}

private func bindBlob(_ bytes: UnsafeRawBufferPointer, to statement: SQLiteStatement, at column: Int32) {
    // sqlite3_bind_blob with a null pointer binds NULL; an empty blob is zeroblob(0).
    guard let base = bytes.baseAddress else { return _ = sqlite3_bind_zeroblob(statement, column, 0) }
    _ = sqlite3_bind_blob(statement, column, base, Int32(bytes.count), transient)
}

extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    func bindValue(to statement: SQLiteStatement, at column: Int32) {
        guard let self else { return _ = sqlite3_bind_null(statement, column) }
        self.bindValue(to: statement, at: column)
    }
}
