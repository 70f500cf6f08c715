import Foundation
import Yams

/// Reads typed values out of a YAML tree, collecting every problem with its line and
/// dotted key instead of stopping at the first, so `check-config` can list them all.
final class YAMLWalker {
    let file: String
    let environment: [String: String]
    private(set) var problems: [ConfigProblem] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    func report(_ node: Node?, _ key: String, _ message: String, severity: ConfigProblem.Severity = .error) {
        problems.append(ConfigProblem(file: file, line: node?.mark?.line, key: key, message: message, severity: severity))
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The members of a mapping; unknown keys are reported, since a typo must not silently disable anything.
    func mapping(_ node: Node?, _ path: String, allowed: Set<String>) -> [String: Node] {
        guard let node, !isNull(node) else { return [:] }
        guard case .mapping(let mapping) = node else {
            report(node, path, "must be a mapping of keys to values")
            return [:]
        }
        var members: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { report(keyNode, path, "keys must be strings"); continue }
            if !allowed.contains(key) {
                let hint = Self.closest(key, in: allowed).map { " (did you mean \"\($0)\"?)" } ?? ""
                report(keyNode, Self.join(path, key), "unknown key\(hint); known keys: \(allowed.sorted().joined(separator: ", "))")
                continue
            }
            members[key] = value
        }
        return members
    }

    /// A mapping whose keys are free (route globs, endpoint names), in file order.
    func orderedMapping(_ node: Node?, _ path: String) -> [(key: String, node: Node)] {
        guard let node, !isNull(node) else { return [] }
        guard case .mapping(let mapping) = node else {
            report(node, path, "must be a mapping")
            return []
        }
        return mapping.compactMap { keyNode, value in
            guard let key = keyNode.string else { report(keyNode, path, "keys must be strings"); return nil }
            return (key, value)
        }
    }

    func sequence(_ node: Node?, _ path: String) -> [Node] {
        guard let node, !isNull(node) else { return [] }
        guard case .sequence(let sequence) = node else {
            report(node, path, "must be a list")
            return []
        }
        return Array(sequence)
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return true }
        return false
    }

    /// A string with `${ENV_NAME}` replaced from the environment.
    func string(_ node: Node?, _ path: String) -> String? {
        guard let node, !isNull(node) else { return nil }
        guard case .scalar(let scalar) = node else {
            report(node, path, "must be a single value, not a list or mapping")
            return nil
        }
        return substitute(scalar.string, node, path)
    }

    func string(_ node: Node?, _ path: String, default value: String) -> String {
        string(node, path) ?? value
    }

    func substitute(_ text: String, _ node: Node, _ path: String) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                report(node, path, "unterminated \"${\" in \"\(text)\"")
                return text
            }
            let name = String(rest[open.upperBound..<close])
            if let value = environment[name] {
                result += value
            } else {
                report(node, path, "environment variable \(name) is not set (it is used as ${\(name)})")
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    func double(_ node: Node?, _ path: String, default value: Double, range: ClosedRange<Double>? = nil) -> Double {
        guard let text = string(node, path) else { return value }
        guard let number = Double(text), number.isFinite else {
            report(node, path, "\"\(text)\" is not a number")
            return value
        }
        if let range, !range.contains(number) {
            report(node, path, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
            return value
        }
        return number
    }

    func int(_ node: Node?, _ path: String, default value: Int, min: Int = 0) -> Int {
        guard let text = string(node, path) else { return value }
        guard let number = Int(text.replacingOccurrences(of: "_", with: "")) else {
            report(node, path, "\"\(text)\" is not a whole number")
            return value
        }
        guard number >= min else {
            report(node, path, "must be at least \(min), got \(number)")
            return value
        }
        return number
    }

    func optionalInt(_ node: Node?, _ path: String, min: Int = 0) -> Int? {
        guard let node, string(node, path) != nil else { return nil }
        return int(node, path, default: min, min: min)
    }

    func bool(_ node: Node?, _ path: String, default value: Bool) -> Bool {
        guard let text = string(node, path) else { return value }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node, path, "\"\(text)\" is not true or false")
            return value
        }
    }

    /// Seconds, from a duration string such as `500ms`, `30s`, `5m`, `4h`, `1d`.
    func duration(_ node: Node?, _ path: String, default value: Double) -> Double {
        guard let text = string(node, path) else { return value }
        guard let seconds = ConfigDuration.seconds(text) else {
            report(node, path, "\"\(text)\" is not a duration (write e.g. 500ms, 30s, 5m, 4h or 1d)")
            return value
        }
        return seconds
    }

    func rate(_ node: Node?, _ path: String, default value: Double) -> Double {
        double(node, path, default: value, range: 0...1)
    }

    func oneOf(_ node: Node?, _ path: String, _ choices: [String], default value: String) -> String {
        guard let text = string(node, path) else { return value }
        guard choices.contains(text) else {
            report(node, path, "\"\(text)\" is not one of: \(choices.joined(separator: ", "))")
            return value
        }
        return text
    }

    /// Any YAML value as a plain tree, for check parameters whose meaning depends on the kind.
    func value(_ node: Node, _ path: String) -> ConfigValue {
        switch node {
        case .scalar:
            return isNull(node) ? .null : .string(string(node, path) ?? "")
        case .sequence(let items):
            return .list(items.enumerated().map { value($1, "\(path)[\($0)]") })
        case .mapping(let mapping):
            var members: [String: ConfigValue] = [:]
            for (key, item) in mapping {
                let name = key.string ?? ""
                members[name] = value(item, Self.join(path, name))
            }
            return .map(members)
        case .alias:
            return .null
        }
    }

    static func closest(_ key: String, in candidates: Set<String>) -> String? {
        candidates.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A configuration value whose shape is checked later (check parameters).
public enum ConfigValue: Sendable, Equatable {
    case null
    case string(String)
    case list([ConfigValue])
    case map([String: ConfigValue])

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var double: Double? { string.flatMap(Double.init) }
    public var list: [ConfigValue]? { if case .list(let l) = self { return l } else { return nil } }
    public var map: [String: ConfigValue]? { if case .map(let m) = self { return m } else { return nil } }
}
