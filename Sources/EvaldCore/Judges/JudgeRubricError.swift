/// A problem in one rubric file, located by file, line and front-matter key (or `template`).
public struct JudgeRubricError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// The line in the file (front matter lines counted), when the problem has one.
    public var line: Int?
    public var key: String?
    public var message: String

    public init(path: String, line: Int?, key: String?, message: String) {
        self.path = path
        self.line = line
        self.key = key
        self.message = message
    }

    /// `path:line: key: message`, in the shape of config problems so editors can jump to it.
    public var description: String {
        let location = line.map { "\(path):\($0)" } ?? path
        return key.map { "\(location): \($0): \(message)" } ?? "\(location): \(message)"
    }
}
