#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds a few top-level string members of a one-line JSON object without decoding it.
///
/// This is what lets evald decide sampling "before the line is fully decoded":
/// for an unsampled line the only work is framing the line and reading its `trace_id`,
/// which writers put first. It validates only what it walks over; lines that are kept
/// are fully decoded afterwards and their errors reported then.
public struct JSONLineScan: Sendable, Equatable {
    public enum Shape: Sendable, Equatable { case blank, object, notAnObject }

    public var shape: Shape = .object
    /// Byte range of the string content (between the quotes) of `trace_id`.
    public var traceID: Range<Int>?
    public var traceIDHasEscapes = false
    public var route: Range<Int>?
    public var routeHasEscapes = false
    /// A top-level `resourceSpans` key: an OTLP/JSON `TracesData` line.
    public var isOTLP = false
    /// The walk met bytes that cannot be JSON.
    public var isBroken = false
    /// Presence of the other required fields of a native record, known after a full walk.
    public var hasTimestamp = false
    public var hasModel = false
    public var hasOutput = false
    public var statusIsError = false
    /// A required field is present with a value of the wrong type or form: the full decoder
    /// says which and why.
    public var hasWrongTypedField = false

    /// The first required field of a native record that the line lacks.
    public var missingRequiredField: String? {
        if traceID == nil { return "trace_id" }
        if !hasTimestamp { return "timestamp" }
        if !hasModel { return "model" }
        if !hasOutput, !statusIsError { return "output" }
        return nil
    }
}

public enum JSONLineScanner {
    private static var quote: UInt8 { 0x22 }
    private static var backslash: UInt8 { 0x5C }

    /// Walks the top-level members. With `walkAll` false it stops as soon as `trace_id` (and
    /// `route`, when `needRoute`) are found; with `walkAll` it checks the whole line's
    /// structure and notes which required fields are present.
    public static func scan(_ b: UnsafeRawBufferPointer, needRoute: Bool, walkAll: Bool = false) -> JSONLineScan {
        var result = JSONLineScan()
        var i = skipWhitespace(b, 0)
        guard i < b.count else { result.shape = .blank; return result }
        guard b[i] == UInt8(ascii: "{") else { result.shape = .notAnObject; return result }
        i += 1
        while true {
            i = skipWhitespace(b, i)
            guard i < b.count else { result.isBroken = true; return result }
            if b[i] == UInt8(ascii: "}") {
                if walkAll, skipWhitespace(b, i + 1) != b.count { result.isBroken = true }
                return result
            }
            guard b[i] == quote, let keyEnd = skipString(b, i) else { result.isBroken = true; return result }
            let key = (i + 1)..<(keyEnd - 1)
            i = skipWhitespace(b, keyEnd)
            guard i < b.count, b[i] == UInt8(ascii: ":") else { result.isBroken = true; return result }
            i = skipWhitespace(b, i + 1)
            guard i < b.count else { result.isBroken = true; return result }
            let valueStart = i
            guard let valueEnd = skipValue(b, i) else { result.isBroken = true; return result }
            let isString = b[valueStart] == quote
            if walkAll, !isScalarValid(b, valueStart..<valueEnd) { result.isBroken = true; return result }
            if equals(b, key, "trace_id") {
                if isString {
                    result.traceID = (valueStart + 1)..<(valueEnd - 1)
                    result.traceIDHasEscapes = contains(b, result.traceID!, backslash)
                }
            } else if equals(b, key, "route") {
                if isString {
                    result.route = (valueStart + 1)..<(valueEnd - 1)
                    result.routeHasEscapes = contains(b, result.route!, backslash)
                }
            } else if equals(b, key, "resourceSpans") {
                result.isOTLP = true
                return result
            } else if walkAll {
                let first = b[valueStart]
                let isNull = first == 0x6E
                if equals(b, key, "timestamp") {
                    result.hasTimestamp = !isNull
                    if isString {
                        let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[(valueStart + 1)..<(valueEnd - 1)]), as: UTF8.self)
                        if RFC3339.parse(text) == nil { result.hasWrongTypedField = true }
                    } else if !isNull, !(first == 0x2D || (first >= 0x30 && first <= 0x39)) {
                        result.hasWrongTypedField = true
                    }
                } else if equals(b, key, "model") {
                    result.hasModel = !isNull
                    if !isNull, !isString || valueEnd - valueStart == 2 { result.hasWrongTypedField = true }
                } else if equals(b, key, "output") {
                    result.hasOutput = !isNull
                    if !isNull, !isString { result.hasWrongTypedField = true }
                } else if equals(b, key, "status") {
                    let range = valueStart..<valueEnd
                    result.statusIsError = equals(b, range, "\"error\"")
                    if !isNull, !result.statusIsError, !equals(b, range, "\"ok\"") { result.hasWrongTypedField = true }
                }
            }
            if !walkAll, result.traceID != nil, !needRoute || result.route != nil { return result }
            i = skipWhitespace(b, valueEnd)
            guard i < b.count else { result.isBroken = true; return result }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") {
                // Only whitespace may follow the object.
                if walkAll, skipWhitespace(b, i + 1) != b.count { result.isBroken = true }
                return result
            }
            result.isBroken = true
            return result
        }
    }

    @inline(__always)
    static func skipWhitespace(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < b.count {
            let c = b[i]
            guard c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D else { break }
            i += 1
        }
        return i
    }

    /// `start` is at an opening quote; returns the index just past the closing quote.
    @inline(__always)
    static func skipString(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        guard let base = b.baseAddress else { return nil }
        var from = start + 1
        while from < b.count {
            guard let j = nextQuote(b, base, from) else { return nil }
            var slashes = 0
            var k = j - 1
            while k > start, b[k] == backslash { slashes += 1; k -= 1 }
            if slashes % 2 == 0 { return j + 1 }
            from = j + 1
        }
        return nil
    }

    /// The index of the first quote at or after `from`. Most strings (keys, names, numbers' worth
    /// of text) end within a few words, which are read eight bytes at a time here; longer ones go
    /// to memchr, which is faster on long runs but costs a call.
    @inline(__always)
    static func nextQuote(_ b: UnsafeRawBufferPointer, _ base: UnsafeRawPointer, _ from: Int) -> Int? {
        var i = from
        let count = b.count
        let words = min(count, from + 32)
        while i + 8 <= words {
            // A zero byte of `word ^ quotes` is a quote; the lowest flagged byte is exact.
            let word = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ 0x2222_2222_2222_2222
            let flagged = (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
            if flagged != 0 { return i + flagged.trailingZeroBitCount >> 3 }
            i += 8
        }
        guard i < count, let hit = memchr(base + i, Int32(quote), count - i) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// Returns the index just past the value starting at `start`.
    static func skipValue(_ b: UnsafeRawBufferPointer, _ start: Int) -> Int? {
        let c = b[start]
        if c == quote { return skipString(b, start) }
        if c == 0x7B || c == 0x5B {  // { [
            // Which bracket each open level needs, one bit a level (1 = object): a `]` closing a `{`
            // is broken. Deeper than 64 levels the caller decodes the line fully instead.
            var kinds: UInt64 = 0
            var depth = 0
            var i = start
            while i < b.count {
                switch b[i] {
                case quote:
                    guard let end = skipString(b, i) else { return nil }
                    i = end
                    continue
                case 0x7B, 0x5B:
                    guard depth < 64 else { return nil }
                    kinds = kinds << 1 | (b[i] == 0x7B ? 1 : 0)
                    depth += 1
                case 0x7D, 0x5D:
                    guard depth > 0, (kinds & 1 == 1) == (b[i] == 0x7D) else { return nil }
                    kinds >>= 1
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        }
        var i = start
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                return i == start ? nil : i
            default:
                i += 1
            }
        }
        return i == start ? nil : i
    }

    /// A top-level value that is neither a string nor a container must be a JSON literal or number.
    @inline(__always)
    static func isScalarValid(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        switch b[range.lowerBound] {
        case quote, 0x7B, 0x5B: return true
        case 0x74: return equals(b, range, "true")
        case 0x66: return equals(b, range, "false")
        case 0x6E: return equals(b, range, "null")
        case 0x2D, 0x30...0x39:
            for i in range {
                switch b[i] {
                case 0x30...0x39, 0x2D, 0x2B, 0x2E, 0x65, 0x45: continue
                default: return false
                }
            }
            return true
        default: return false
        }
    }

    @inline(__always)
    static func equals(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        return memcmp(b.baseAddress! + range.lowerBound, literal.utf8Start, range.count) == 0
    }

    /// Eight bytes at a time: called for every text field of every line (`ScannedText`).
    static func contains(_ b: UnsafeRawBufferPointer, _ range: Range<Int>, _ byte: UInt8) -> Bool {
        var i = range.lowerBound
        let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
        while i + 8 <= range.upperBound {
            // A zero byte of `word ^ pattern` is the byte sought.
            let word = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ pattern
            if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { return true }
            i += 8
        }
        while i < range.upperBound {
            if b[i] == byte { return true }
            i += 1
        }
        return false
    }

    /// Every byte below 0x80 (so valid UTF-8 without further checking); eight bytes at a time.
    @inline(__always)
    static func isASCII(_ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var i = range.lowerBound
        var high: UInt64 = 0
        while i + 8 <= range.upperBound {
            high |= b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < range.upperBound {
            high |= UInt64(b[i])
            i += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
