/// A small, strict JSON parser (RFC 8259) into `JSONValue`.
///
/// Written here because Foundation's JSONSerialization on Linux bridges every value to
/// NSObject types, which made decoding the sampled 1% cost more than reading the other
/// 99% (Benchmarks/RESULTS.md). It expects valid UTF-8 (the caller checks the line first)
/// and bounds nesting depth so that hostile input cannot exhaust the stack.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "\(message) at byte \(offset)" }
}

public struct JSONParser {
    public static let maxDepth = 256

    private let p: UnsafePointer<UInt8>
    private let count: Int
    private var i = 0

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw JSONParseError(offset: 0, message: "empty input") }
        var parser = JSONParser(p: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.i == parser.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(UnsafeRawBufferPointer(buffer)) }
        }
        return try result.get()
    }

    private init(p: UnsafePointer<UInt8>, count: Int) {
        self.p = p
        self.count = count
    }

    private func error(_ message: String) -> JSONParseError { JSONParseError(offset: i, message: message) }

    private mutating func skipWhitespace() {
        while i < count {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard i < count else { throw error("unexpected end of input") }
        switch p[i] {
        case 0x22: return .string(try parseString())
        case 0x7B: return try parseObject(depth: depth + 1)
        case 0x5B: return try parseArray(depth: depth + 1)
        case 0x74: try expectLiteral("true"); return .bool(true)
        case 0x66: try expectLiteral("false"); return .bool(false)
        case 0x6E: try expectLiteral("null"); return .null
        case 0x2D, 0x30...0x39: return try parseNumber()
        default: throw error("unexpected character '\(Unicode.Scalar(p[i]))'")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let n = literal.utf8CodeUnitCount
        guard i + n <= count else { throw error("unexpected end of input") }
        for k in 0..<n where p[i + k] != literal.utf8Start[k] { throw error("invalid literal") }
        i += n
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
        i += 1
        var members: [(String, JSONValue)] = []
        skipWhitespace()
        if i < count, p[i] == 0x7D { i += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard i < count, p[i] == 0x22 else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard i < count, p[i] == 0x3A else { throw error("expected ':' after a key") }
            i += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            guard i < count else { throw error("unterminated object") }
            if p[i] == 0x2C { i += 1; continue }
            if p[i] == 0x7D { i += 1; return .object(members) }
            throw error("expected ',' or '}' in an object")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < count, p[i] == 0x5D { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard i < count else { throw error("unterminated array") }
            if p[i] == 0x2C { i += 1; continue }
            if p[i] == 0x5D { i += 1; return .array(items) }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < count {
            let c = p[i]
            if c == 0x22 {
                let text = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
                i += 1
                return text
            }
            if c == 0x5C { break }
            if c < 0x20 { throw error("control character in a string") }
            i += 1
        }
        var bytes = Array(UnsafeBufferPointer(start: p + start, count: i - start))
        while i < count {
            let c = p[i]
            if c == 0x22 {
                i += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if c < 0x20 { throw error("control character in a string") }
            guard c == 0x5C else { bytes.append(c); i += 1; continue }
            guard i + 1 < count else { break }
            let escape = p[i + 1]
            i += 2
            switch escape {
            case 0x22: bytes.append(0x22)
            case 0x5C: bytes.append(0x5C)
            case 0x2F: bytes.append(0x2F)
            case 0x62: bytes.append(0x08)
            case 0x66: bytes.append(0x0C)
            case 0x6E: bytes.append(0x0A)
            case 0x72: bytes.append(0x0D)
            case 0x74: bytes.append(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low surrogate; if what follows
                    // is anything else, the lone surrogate becomes U+FFFD and the rest is read as usual.
                    let save = i
                    if i + 1 < count, p[i] == 0x5C, p[i + 1] == 0x75 {
                        i += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            scalar = 0xFFFD
                            i = save
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00..<0xE000).contains(scalar) {
                    scalar = 0xFFFD
                }
                bytes.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default:
                throw error("invalid escape '\\\(Unicode.Scalar(escape))'")
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = UInt32(c - 0x30)
            case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
            case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = i
        var isInteger = true
        if p[i] == 0x2D { i += 1 }
        guard i < count, p[i] >= 0x30, p[i] <= 0x39 else { throw error("invalid number") }
        if p[i] == 0x30 {
            i += 1
        } else {
            while i < count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
        }
        if i < count, p[i] == 0x2E {
            isInteger = false
            i += 1
            let digits = i
            while i < count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
            guard i > digits else { throw error("invalid number: no digits after '.'") }
        }
        if i < count, p[i] == 0x65 || p[i] == 0x45 {
            isInteger = false
            i += 1
            if i < count, p[i] == 0x2B || p[i] == 0x2D { i += 1 }
            let digits = i
            while i < count, p[i] >= 0x30, p[i] <= 0x39 { i += 1 }
            guard i > digits else { throw error("invalid number: no digits in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
        if isInteger, let value = Int64(text) { return .int(value) }
        guard let value = Double(text) else { throw error("invalid number") }
        return .double(value)
    }
}

extension JSONValue {
    /// The value of `key` in an object; the first one when a key repeats, the same one the
    /// sampling scan of `JSONLineScanner` decides on.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// A JSON number (not a boolean) as a Double.
    public var numberValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
