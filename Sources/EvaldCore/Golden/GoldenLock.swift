import Crypto
import Foundation

/// `golden/NAME/golden.lock`: the SHA-256 of every file that decides a golden set's
/// result, so a set changed by accident (a merge, an editor, a judge edited for another reason) is
/// refused instead of silently moving the baseline it is compared with.
///
/// The file is small, stable JSON, keys sorted, one file a line, so its diff in review shows
/// exactly what was re-locked:
///
///     {
///       "version": 1,
///       "set": "support",
///       "locked_at": "2026-11-28T10:00:00Z",
///       "files": {
///         "../reference-judges/helpfulness.md": "3f1c...",
///         "cases.jsonl": "9a0b...",
///         "schemas/order.json": "77de..."
///       }
///     }
///
/// `cases.jsonl` is the set's own file; judge and schema files are named by their path relative
/// to the config file's folder, as the config names them. `locked_at` is for people only:
/// verification compares the hashes.
public struct GoldenLock: Sendable, Equatable {
    public static let fileName = "golden.lock"
    public static let casesFile = "cases.jsonl"
    public static let currentVersion = 1

    public var version: Int
    public var set: String
    public var lockedAt: String
    /// File name (see above) -> lowercase hex SHA-256.
    public var files: [String: String]

    public init(set: String, files: [String: String], lockedAt: Date) {
        self.version = Self.currentVersion
        self.set = set
        self.lockedAt = RFC3339.format(lockedAt, fractional: false)
        self.files = files
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        lowercaseHex(SHA256.hash(data: bytes))
    }

    public func serialized() -> String {
        let files = JSONValue.object(files.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        let object = JSONValue.object([
            ("version", .int(Int64(version))), ("set", .string(set)),
            ("locked_at", .string(lockedAt)), ("files", files),
        ])
        return object.serialized(pretty: true) + "\n"
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(GoldenLockError) -> GoldenLock {
        let relock = "; run `evald golden lock NAME` to write it again"
        let value: JSONValue
        do {
            value = try JSONParser.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw GoldenLockError(path: path, message: "is not valid JSON (\(error))\(relock)")
        }
        guard let version = value["version"]?.numberValue else {
            throw GoldenLockError(path: path, message: "has no \"version\"\(relock)")
        }
        guard version == Double(currentVersion) else {
            throw GoldenLockError(path: path, message: "has version \(JudgeNumber.text(version)); this evald reads version \(currentVersion)\(relock)")
        }
        guard case .object(let members)? = value["files"] else {
            throw GoldenLockError(path: path, message: "has no \"files\" object\(relock)")
        }
        var files: [String: String] = [:]
        for (name, hash) in members {
            guard let hex = hash.stringValue, hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
                throw GoldenLockError(path: path, message: "files.\(name) is not a SHA-256 in hex\(relock)")
            }
            files[name] = hex.lowercased()
        }
        var lock = GoldenLock(set: value["set"]?.stringValue ?? "", files: files, lockedAt: Date(timeIntervalSince1970: 0))
        lock.lockedAt = value["locked_at"]?.stringValue ?? ""
        return lock
    }

    /// What differs between the lock and the files as they are now (`current`: name -> hash of
    /// every file the set uses today). Empty when the set may be used.
    public func verify(current: [String: String]) -> [GoldenLockChange] {
        var changes: [GoldenLockChange] = []
        for name in Set(files.keys).union(current.keys).sorted() {
            switch (files[name], current[name]) {
            case let (locked?, now?) where locked != now: changes.append(GoldenLockChange(kind: .changed, file: name))
            case (_?, nil): changes.append(GoldenLockChange(kind: .missing, file: name))
            case (nil, _?): changes.append(GoldenLockChange(kind: .added, file: name))
            default: break
            }
        }
        // The cases first: the change a reviewer most needs to see.
        return changes.sorted { ($0.file == Self.casesFile ? 0 : 1, $0.file) < ($1.file == Self.casesFile ? 0 : 1, $1.file) }
    }

    /// `path` relative to `directory` (both absolute), with `..` where needed: the lock names
    /// files as the config does, so it reads the same on every checkout.
    public static func relativePath(_ path: String, from directory: String) -> String {
        let target = components(path), base = components(directory)
        var common = 0
        while common < target.count, common < base.count, target[common] == base[common] { common += 1 }
        let parts = Array(repeating: "..", count: base.count - common) + target[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    private static func components(_ path: String) -> [String] {
        var result: [String] = []
        for part in path.split(separator: "/") where part != "." && !part.isEmpty {
            if part == "..", let last = result.last, last != ".." { result.removeLast() } else { result.append(String(part)) }
        }
        return result
    }
}

public struct GoldenLockChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case changed, missing, added }
    public var kind: Kind
    public var file: String

    public init(kind: Kind, file: String) {
        self.kind = kind
        self.file = file
    }

    public var description: String {
        switch kind {
        case .changed: return "\(file) changed since the set was locked"
        case .missing: return "\(file) is in the lock but the set no longer uses it (deleted, or no judge or check of the set's routes names it)"
        case .added: return "\(file) is used by the set but not in the lock (a judge or schema now applies to its routes)"
        }
    }
}

public struct GoldenLockError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Which files decide a set's result besides its cases: the rubrics that judge any of its routes
/// and the schema files of the checks configured for them (json_schema, tool_calls schemas).
/// A file named by a check that a later one of the same name overrides is included too: locking
/// one file more than needed costs a re-lock, missing one lets a change through.
public enum GoldenSetInputs {
    public static func files(routes: Set<String>, rubrics: [JudgeRubric], checks: [(glob: Glob, checks: [CheckConfig])]) -> [String] {
        var files = Set<String>()
        for rubric in rubrics where routes.contains(where: { rubric.applies(toRoute: $0) }) {
            files.insert(rubric.sourcePath)
        }
        for route in checks where routes.contains(where: { route.glob.matches($0) }) {
            for check in route.checks {
                if let schema = check.parameters["schema"]?.string { files.insert(schema) }
                if let map = check.parameters["schemas"]?.map {
                    for value in map.values { if let path = value.string { files.insert(path) } }
                }
            }
        }
        return files.sorted()
    }
}
