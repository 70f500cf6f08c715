/// One problem in the configuration, located by file, line and dotted key.
public struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var file: String
    public var line: Int?
    public var key: String
    public var message: String
    public var severity: Severity

    public init(file: String, line: Int?, key: String, message: String, severity: Severity = .error) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.severity = severity
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        let label = severity == .warning ? "warning: " : ""
        return key.isEmpty ? "\(location): \(label)\(message)" : "\(location): \(label)\(key): \(message)"
    }
}

/// Every problem found in a configuration; thrown when at least one is an error.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public init(_ problems: [ConfigProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
