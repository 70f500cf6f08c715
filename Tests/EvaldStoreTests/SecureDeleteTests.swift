import Foundation
import GRDB
import Testing

@testable import EvaldStore

/// `storage.redact: true` opens the store with SQLite's `secure_delete`: text of a deleted row
/// (a record stored before redaction was turned on, then pruned) is overwritten in the database
/// file instead of lingering in free space. The control without it finds the text.
@Suite struct SecureDeleteTests {
    @Test(arguments: [true, false]) func deletedTextIsGoneFromTheFileOnlyWithSecureDelete(secure: Bool) throws {
        let root = NSTemporaryDirectory() + "evald-secure-delete-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/evald.db"
        let store = try StateStore.open(path: path, secureDelete: secure)
        let marker = "jane.roe.\(UUID().uuidString)@example.com"
        try store.write { db in
            try db.execute(sql: "CREATE TABLE scratch (id INTEGER PRIMARY KEY, text TEXT)")
            for id in 0..<20 { try db.execute(sql: "INSERT INTO scratch VALUES (?, ?)", arguments: [id, "row \(id): \(marker)"]) }
            try db.execute(sql: "INSERT INTO scratch VALUES (100, 'kept')")
        }
        try store.checkpoint()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before.range(of: Data(marker.utf8)) != nil, "the rows reached the file")
        try store.write { db in try db.execute(sql: "DELETE FROM scratch WHERE id < 100") }
        try store.checkpoint()
        // The database file only: the WAL keeps old frames until the next checkpoint resets it.
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect((after.range(of: Data(marker.utf8)) == nil) == secure, "secure_delete \(secure)")
    }
}
