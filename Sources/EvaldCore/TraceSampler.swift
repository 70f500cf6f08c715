import Foundation

/// The sampling decision: OpenTelemetry's consistent rule on the trace id.
///
/// It is OpenTelemetry's consistent probability sampling (W3C Trace Context level 2):
/// the randomness R is the last 56 bits (14 hex digits) of the trace id, or the `rv`
/// sub-key of the `ot` entry of `tracestate` when present; a trace is kept iff
/// R >= T where T = round((1 - rate) * 2^56). Because T falls as the rate rises, a sample
/// at a lower rate is a subset of one at a higher rate, and an upstream OpenTelemetry
/// sampler at a higher rate leaves this sample intact.
public struct TraceSampler: Sendable {
    public static let randomnessBits = 56
    public static let randomnessLimit: UInt64 = 1 << 56

    public let globalRate: Double
    public let routeRates: [(glob: Glob, rate: Double)]
    public let shard: Shard
    /// The lowest threshold any route can have: a trace below it is unsampled whatever its route,
    /// so the route need not be looked for.
    public let lowestThreshold: UInt64
    /// Rates raised for exact routes at run time (the confirmation boost and the
    /// low-traffic floor); they only ever raise a route's configured rate.
    public let raisedRates: [String: Double]

    public init(
        globalRate: Double, routeRates: [(glob: Glob, rate: Double)] = [], shard: Shard = .all,
        raisedRates: [String: Double] = [:]
    ) {
        self.globalRate = globalRate
        self.routeRates = routeRates
        self.shard = shard
        self.raisedRates = raisedRates
        let highest = raisedRates.values.reduce(routeRates.map(\.rate).reduce(globalRate, max), max)
        self.lowestThreshold = Self.threshold(rate: highest)
    }

    /// The same sampler with these routes sampled at (at least) these rates. A trace kept at
    /// the configured rate is kept at the raised one too (a higher rate keeps a superset), so
    /// raising never loses a trace the base sample has.
    public func raising(_ rates: [String: Double]) -> TraceSampler {
        TraceSampler(globalRate: globalRate, routeRates: routeRates, shard: shard, raisedRates: rates)
    }

    public var hasRouteRates: Bool { !routeRates.isEmpty || !raisedRates.isEmpty }

    /// The rate that applies to `route`: the first matching route glob, else the global rate,
    /// raised where the daemon raised it.
    public func rate(forRoute route: String?) -> Double {
        guard let route else { return globalRate }
        let configured = configuredRate(forRoute: route)
        guard let raised = raisedRates[route] else { return configured }
        return max(configured, raised)
    }

    public func configuredRate(forRoute route: String) -> Double {
        for entry in routeRates where entry.glob.matches(route) { return entry.rate }
        return globalRate
    }

    public func rate(forRouteUTF8 route: UnsafeRawBufferPointer?) -> Double {
        guard let route else { return globalRate }
        if !raisedRates.isEmpty { return rate(forRoute: String(decoding: route, as: UTF8.self)) }
        for entry in routeRates where entry.glob.matches(utf8: route) { return entry.rate }
        return globalRate
    }

    /// T = round((1 - rate) * 2^56), computed in Double as OpenTelemetry's reference code does,
    /// which is why rate 0.01 gives 0xfd70a3d70a3d70.
    public static func threshold(rate: Double) -> UInt64 {
        if rate <= 0 { return randomnessLimit }
        if rate >= 1 { return 0 }
        return UInt64(((1 - rate) * 0x1p56).rounded())
    }

    public static func isKept(randomness: UInt64, rate: Double) -> Bool {
        randomness >= threshold(rate: rate)
    }

    /// The rate a trace is kept at, or nil when it is not in this instance's sample.
    public func keptRate(randomness: UInt64, route: String?) -> Double? {
        let rate = rate(forRoute: route)
        return shard.contains(randomness) && Self.isKept(randomness: randomness, rate: rate) ? rate : nil
    }

    // MARK: randomness

    /// R of a trace id: its last 14 hex digits when it is a 32-hex-digit id, else the top
    /// 56 bits of its 64-bit FNV-1a hash. An `rv` from `tracestate` takes precedence.
    public static func randomness(traceID: String, traceState: String? = nil) -> UInt64 {
        if let traceState, let rv = explicitRandomness(traceState: traceState) { return rv }
        var id = traceID
        return id.withUTF8 { randomness(traceIDUTF8: UnsafeRawBufferPointer($0)) }
    }

    public static func randomness(traceIDUTF8 id: UnsafeRawBufferPointer) -> UInt64 {
        if id.count == 32, let value = w3cRandomness(id) { return value }
        return fnv1a64(id) >> 8
    }

    /// The last 14 hex digits of a 32-hex-digit id; nil when any of the 32 is not hex.
    /// A table lookup a byte with no data-dependent branch: per-digit branches on random hex
    /// mispredict, and this runs for every line of the spool.
    @inline(__always)
    public static func w3cRandomness(_ id: UnsafeRawBufferPointer) -> UInt64? {
        let p = id.baseAddress!.assumingMemoryBound(to: UInt8.self)
        return hexDigits.withUnsafeBufferPointer { table -> UInt64? in
            var invalid: UInt8 = 0
            for i in 0..<18 { invalid |= table[Int(p[i])] }
            var value: UInt64 = 0
            for i in 18..<32 {
                let digit = table[Int(p[i])]
                invalid |= digit
                value = value << 4 | UInt64(digit & 0x0F)
            }
            return invalid & 0x80 == 0 ? value : nil
        }
    }

    /// Hex digit values by byte; 0x80 marks a byte that is not a hex digit.
    private static let hexDigits: [UInt8] = (0..<256).map { byte -> UInt8 in
        switch byte {
        case 48...57: return UInt8(byte - 48)
        case 97...102: return UInt8(byte - 87)
        case 65...70: return UInt8(byte - 55)
        default: return 0x80
        }
    }

    /// Parses `rv:<14 hex digits>` out of the `ot` entry of a W3C `tracestate`
    /// (e.g. `ot=th:c;rv:fe040727553980,vendor=x`).
    public static func explicitRandomness(traceState: String) -> UInt64? {
        for member in traceState.split(separator: ",") {
            let trimmed = member.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("ot=") else { continue }
            for field in trimmed.dropFirst(3).split(separator: ";") where field.hasPrefix("rv:") {
                let digits = Array(field.dropFirst(3).utf8)
                guard digits.count == 14 else { return nil }
                return digits.withUnsafeBytes { hexValue($0, from: 0, to: 14) }
            }
        }
        return nil
    }

    static func hexValue(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> UInt64? {
        var value: UInt64 = 0
        var index = from
        while index < to {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            value = value << 4 | UInt64(digit)
            index += 1
        }
        return value
    }

    /// Only an id that is hex all through is a W3C trace id; anything else is hashed.
    static func isAllHex(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where !isHex(byte) { return false }
        return true
    }

    static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70)
    }

    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}

/// `sampling.shard: "K/N"`: this instance evaluates only traces with R mod N == K - 1.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int  // 1-based, as written in the config
    public let count: Int

    public static let all = Shard(index: 1, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses "K/N" with 1 <= K <= N.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0].trimmingCharacters(in: .whitespaces)),
            let n = Int(parts[1].trimmingCharacters(in: .whitespaces)), n >= 1, k >= 1, k <= n
        else { return nil }
        self.init(index: k, count: n)
    }

    public func contains(_ randomness: UInt64) -> Bool {
        count == 1 || randomness % UInt64(count) == UInt64(index - 1)
    }

    public var description: String { "\(index)/\(count)" }
}

/// Hex formatting for sampling values (`0xfe040727553980`).
public func hex56(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 14 - digits.count)) + digits
}
