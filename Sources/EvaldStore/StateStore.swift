import EvaldCore
import Foundation
import GRDB

/// The SQLite state database (`state_dir/evald.db`, WAL mode): the only place where the
/// daemon's stages meet, and what the CLI reads while the daemon runs or is down.
public final class StateStore: Sendable {
    public let path: String
    let pool: DatabasePool

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// Opens (creating when missing) and migrates the database.
    public static func open(path: String) throws -> StateStore {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(path: path, message: "cannot create the state directory \(directory) (\(error.localizedDescription)); set state_dir to a writable folder")
        }
        return try openPool(path: path)
    }

    /// Opens an existing database for the CLI; nil when evald has never run with this state_dir.
    public static func openExisting(path: String) throws -> StateStore? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try openPool(path: path)
    }

    private static func openPool(path: String) throws -> StateStore {
        var configuration = Configuration()
        // The daemon writes in short transactions; a reader or a second writer waits rather than failing.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try migrator.migrate(pool)
            return StateStore(path: path, pool: pool)
        } catch let error as DatabaseError {
            throw StoreError(path: path, message: "cannot open (\(error.message ?? error.description)); check the file's permissions and free disk space")
        }
    }

    /// Runs a read, mapping database errors to `StoreError`.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch let error as DatabaseError {
            throw StoreError(path: path, message: "read failed: \(error.message ?? error.description)")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch let error as DatabaseError {
            throw StoreError(path: path, message: "write failed: \(error.message ?? error.description)")
        }
    }
}
