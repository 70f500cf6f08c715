import EvaldCore
import Foundation
import GRDB
import Synchronization

/// The SQLite state database (`state_dir/evald.db`, WAL mode): the only place where the
/// daemon's stages meet, and what the CLI reads while the daemon runs or is down.
public final class StateStore: Sendable {
    public let path: String
    let pool: DatabasePool
    /// Faults a test switches on to walk the failure paths (a full disk, a locked database)
    /// through the real store; never set outside tests.
    public let faults = StoreFaults()
    /// Committed record dictionaries, shared by every read and write of this store.
    let recordDictionaries = RecordDictionaryCache()
    /// Committed tenant sketches of the newest days.
    let tenantSketches = TenantSketchCache()

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// What the WAL file is truncated to after a checkpoint that resets it.
    static let walSizeLimit = 16 * 1024 * 1024

    /// Opens (creating when missing) and migrates the database.
    /// The daemon's database: opened for writing and migrated.
    /// `secureDelete` (`storage.redact: true`): freed pages are overwritten with zeros, so
    /// pruned or replaced rows do not linger in the file.
    public static func open(path: String, secureDelete: Bool = false) throws -> StateStore {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                path: path, message: "cannot create the state directory \(directory) (\(error.localizedDescription)); set state_dir to a writable folder")
        }
        return try openPool(path: path, secureDelete: secureDelete)
    }

    /// Opens an existing database read-only for the CLI, which must never migrate or write
    /// under a running daemon; nil when evald has never run with this state_dir.
    public static func openExisting(path: String) throws -> StateStore? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let store = try openPool(path: path, readOnly: true)
        let current = try store.read { db in try migrator.hasCompletedMigrations(db) }
        guard current else {
            throw StoreError(
                path: path, message: "was written by an older evald and is not migrated yet; start `evald run` (or `evald run --once`) with this version first")
        }
        return store
    }

    /// Migrates, tolerating another process that migrates the same file at the same moment (the
    /// daemon starting while a test or a tool opens the database for writing): GRDB's migrator
    /// reads the applied migrations before it takes the write lock, so the slower process fails
    /// on a migration the other has just applied. Migrating again finds it applied.
    private static func migrate(_ pool: DatabasePool) throws {
        var attempts = 0
        while true {
            do {
                try migrator.migrate(pool)
                return
            } catch is DatabaseError where attempts < 10 {
                attempts += 1
                usleep(100_000)
            }
        }
    }

    private static func openPool(path: String, readOnly: Bool = false, secureDelete: Bool = false) throws -> StateStore {
        var configuration = Configuration()
        configuration.readonly = readOnly
        // The daemon writes in short transactions; a reader or a second writer waits rather than failing.
        configuration.busyMode = .timeout(10)
        if !readOnly {
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // Set either way: some builds of SQLite (Debian's) turn it on by default, and
                // without redaction it only costs writes.
                try db.execute(sql: "PRAGMA secure_delete = \(secureDelete ? "ON" : "OFF")")
                // The WAL file keeps its high-water size; a reader that holds a snapshot for a
                // while (a long report under load) lets it grow. Truncated back after each
                // checkpoint that resets it, so the file stays bounded.
                try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
                // Takes effect in a new, empty database (before its first table); an older one is
                // converted once by `enableIncrementalVacuum`.
                if !db.configuration.readonly { try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL") }
                db.add(function: StateStore.histogramMerge)
                db.add(function: StateStore.countsMerge)
            }
        }
        do {
            return try retryingWhileBusy {
                let pool = try DatabasePool(path: path, configuration: configuration)
                if !readOnly {
                    try migrate(pool)
                    try enableIncrementalVacuum(pool)
                }
                return StateStore(path: path, pool: pool)
            }
        } catch let error as DatabaseError {
            throw StoreError(path: path, message: "cannot open (\(error.message ?? error.description)); check the file's permissions and free disk space")
        }
    }

    /// Opening for writing while the daemon ingests a backlog (a test, `evald replay`): its
    /// commits follow each other closely, and some of what opening does (taking the write lock
    /// after a read) gets SQLITE_BUSY at once, without the busy timeout's wait. Tried again
    /// for as long as that timeout.
    private static func retryingWhileBusy<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                return try body()
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                usleep(50_000)
            }
        }
    }

    /// Pages freed by pruning go back to the file system in small steps
    /// (`PRAGMA incremental_vacuum`), which needs `auto_vacuum = INCREMENTAL`. A database made
    /// before it is rewritten once (VACUUM) on the first start of this version: a new one in an
    /// instant, an old one in about the time it takes to copy the file, with the daemon not yet
    /// reading the spool.
    private static func enableIncrementalVacuum(_ pool: DatabasePool) throws {
        try pool.barrierWriteWithoutTransaction { db in
            guard try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") != 2 else { return }
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "VACUUM")
        }
    }

    /// Runs a read, mapping database errors to `StoreError`.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch let error as DatabaseError {
            throw StoreError(path: path, message: "read failed: \(error.message ?? error.description)")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        if faults.failWrites { throw StoreError(path: path, message: "write failed: disk I/O error (an injected fault)") }
        do { return try pool.write(body) } catch let error as DatabaseError {
            throw StoreError(path: path, message: "write failed: \(error.message ?? error.description)")
        }
    }
}

/// Fault injection for tests: while `failWrites` is set every write fails as it would on a full
/// disk, and nothing is written.
public final class StoreFaults: Sendable {
    private let writes = Mutex(false)

    public var failWrites: Bool {
        get { writes.withLock { $0 } }
        set { writes.withLock { $0 = newValue } }
    }
}
