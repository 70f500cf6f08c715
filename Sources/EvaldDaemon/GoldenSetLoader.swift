import EvaldCore
import Foundation

/// A golden set on disk (`golden.dir/NAME/`), read and checked against its lock.
public struct GoldenSet: Sendable {
    public var name: String
    public var directory: String
    public var cases: [GoldenCase]
    /// Name (as in the lock) -> SHA-256 of every file the set uses now.
    public var hashes: [String: String]

    public var casesPath: String { (directory as NSString).appendingPathComponent(GoldenLock.casesFile) }
    public var lockPath: String { (directory as NSString).appendingPathComponent(GoldenLock.fileName) }
    public var baselinePath: String { (directory as NSString).appendingPathComponent(GoldenBaseline.fileName) }
}

/// Why a golden set cannot be used. Every case is bad input (exit 2) except `io`.
public struct GoldenSetError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case badInput, io }
    public var kind: Kind
    public var message: String

    public init(_ message: String) {
        self.init(kind: .badInput, message)
    }

    public init(kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

public enum GoldenSetLoader {
    /// The trace ids of every golden set's cases under golden.dir (sets that do not parse
    /// are passed over): retention keeps these evaluations however old.
    public static func traceIDs(config: EvaldConfig) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: config.golden.dir) else { return [] }
        var ids: Set<String> = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = (directory(name: name, config: config) as NSString).appendingPathComponent(GoldenLock.casesFile)
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            for golden in GoldenCaseParser.parse([UInt8](data), path: path).cases { ids.insert(golden.record.traceID) }
        }
        return ids.sorted()
    }

    public static func directory(name: String, config: EvaldConfig) -> String {
        (config.golden.dir as NSString).appendingPathComponent(name)
    }

    /// Reads the set's cases and hashes the files it uses. `rubrics`: the judges of the config
    /// (a skipped judge still decides the set's result once enabled, so it is locked too).
    public static func load(name: String, config: EvaldConfig, rubrics: [JudgeRubric]) throws(GoldenSetError) -> GoldenSet {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.hasPrefix(".") else {
            throw GoldenSetError("evald: \"\(name)\" is not a golden set name; use the name of a folder under golden.dir (\(config.golden.dir))")
        }
        let directory = directory(name: name, config: config)
        let casesPath = (directory as NSString).appendingPathComponent(GoldenLock.casesFile)
        guard let data = FileManager.default.contents(atPath: casesPath) else {
            let exists = FileManager.default.fileExists(atPath: casesPath)
            if exists { throw GoldenSetError(kind: .io, "evald: \(casesPath): cannot be read; check its permissions") }
            throw GoldenSetError(
                "evald: no golden set \"\(name)\": \(casesPath) does not exist (golden.dir is \(config.golden.dir), set in \(config.sourcePath)); create it with one native record per line"
            )
        }
        let bytes = [UInt8](data)
        let (cases, problems) = GoldenCaseParser.parse(bytes, path: casesPath)
        guard problems.isEmpty else {
            let count = problems.count
            throw GoldenSetError(
                problems.map(\.description).joined(separator: "\n")
                    + "\nevald: \(casesPath): \(count) bad line\(count == 1 ? "" : "s"); fix them, then run `evald golden lock \(name)`")
        }
        guard !cases.isEmpty else {
            throw GoldenSetError("evald: \(casesPath) holds no case; add one native record per line")
        }
        var hashes = [GoldenLock.casesFile: GoldenLock.sha256(bytes)]
        let configDirectory = (config.sourcePath as NSString).deletingLastPathComponent
        let routes = Set(cases.map { $0.record.route ?? "" })
        for file in GoldenSetInputs.files(routes: routes, rubrics: rubrics, checks: config.checks.map { ($0.glob, $0.checks) }) {
            // A file that cannot be read is left out: verification then names it as missing.
            guard let contents = FileManager.default.contents(atPath: file) else { continue }
            hashes[GoldenLock.relativePath(absolute(file), from: absolute(configDirectory))] = GoldenLock.sha256([UInt8](contents))
        }
        return GoldenSet(name: name, directory: directory, cases: cases, hashes: hashes)
    }

    /// Refuses a set without a lock, or whose files differ from it: eval sets change on purpose,
    /// never by accident.
    public static func verifyLock(_ set: GoldenSet) throws(GoldenSetError) {
        let relock = "if the change is intended, run `evald golden lock \(set.name)` and commit the new \(GoldenLock.fileName)"
        guard let data = FileManager.default.contents(atPath: set.lockPath) else {
            throw GoldenSetError(
                "evald: golden set \"\(set.name)\" is not locked: \(set.lockPath) does not exist; run `evald golden lock \(set.name)` and commit it")
        }
        let lock: GoldenLock
        do {
            lock = try GoldenLock.parse([UInt8](data), path: set.lockPath)
        } catch {
            throw GoldenSetError("evald: \(error)")
        }
        let changes = lock.verify(current: set.hashes)
        guard changes.isEmpty else {
            let lines = changes.map { "evald: \(set.lockPath): \($0)" }
            throw GoldenSetError(lines.joined(separator: "\n") + "\nevald: golden set \"\(set.name)\" refused; \(relock)")
        }
    }

    static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        return (full as NSString).standardizingPath
    }
}
