/// A span's identity, `traceId:spanId`, in 64 bits: what the OTLP receiver remembers to store
/// a client's retry once. The two ids are random (W3C Trace Context), so a mix of their 24
/// bytes collides with another span's with probability about n^2 / 2^65 (1e-8 for a million
/// remembered spans); a collision would drop one span as a duplicate.
public struct OTLPSpanKey: Hashable, Sendable {
    public var value: UInt64

    /// nil unless `traceID` is 32 and `spanID` 16 hex digits, not all zero (OTLP: such ids are invalid).
    public init?(traceID: String, spanID: String) {
        guard let trace = Self.hexBytes(traceID, count: 16), let span = Self.hexBytes(spanID, count: 8),
            trace.contains(where: { $0 != 0 }), span.contains(where: { $0 != 0 })
        else { return nil }
        // FNV-1a over the 24 bytes, then a final avalanche (splitmix64's): deterministic across
        // processes, unlike Hasher, so a restarted receiver computes the same keys.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in trace + span {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 30
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash &*= 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        value = hash
    }

    static func hexBytes(_ text: String, count: Int) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count == count * 2 else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            guard let high = nibble(utf8[2 * index]), let low = nibble(utf8[2 * index + 1]) else { return nil }
            bytes[index] = high << 4 | low
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// The spans the receiver stored most recently, at most `capacity` of them (the oldest is
/// forgotten first): a client retries within seconds or minutes, never after a million spans.
public struct OTLPSpanKeyWindow: Sendable {
    public let capacity: Int
    private var keys: Set<UInt64> = []
    private var order: [UInt64] = []
    private var next = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { keys.count }

    public func contains(_ key: OTLPSpanKey) -> Bool { keys.contains(key.value) }

    public mutating func insert(_ key: OTLPSpanKey) {
        guard keys.insert(key.value).inserted else { return }
        if order.count < capacity {
            order.append(key.value)
        } else {
            keys.remove(order[next])
            order[next] = key.value
            next = (next + 1) % capacity
        }
    }
}
