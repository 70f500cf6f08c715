/// Shell-style glob on route names: `*` any run of characters, `?` one character.
/// Routes are short, so a simple backtracking matcher over bytes is enough.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let bytes: [UInt8]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.bytes = Array(pattern.utf8)
    }

    public var description: String { pattern }

    public func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { matches(utf8: UnsafeRawBufferPointer($0)) }
    }

    public func matches(utf8 text: UnsafeRawBufferPointer) -> Bool {
        let star = UInt8(ascii: "*"), question = UInt8(ascii: "?")
        var p = 0, t = 0
        var starP = -1, starT = 0
        while t < text.count {
            if p < bytes.count, bytes[p] == question || bytes[p] == text[t] {
                p += 1; t += 1
            } else if p < bytes.count, bytes[p] == star {
                starP = p; starT = t; p += 1
            } else if starP >= 0 {
                p = starP + 1; starT += 1; t = starT
            } else {
                return false
            }
        }
        while p < bytes.count, bytes[p] == star { p += 1 }
        return p == bytes.count
    }
}
