import Foundation

/// A log-bucketed histogram for latencies and other positive values: bucket i holds values in
/// [g^i, g^(i+1)) with g = 1.02, so any quantile it reports is within 1% of a value in the
/// data. Sparse, mergeable (minute buckets add up to any window), and small to store.
///
/// Written here rather than taken from hdrhistogram-swift because it needs to be merged and
/// serialized per minute bucket in SQLite, which a sparse map of bucket counts does simply.
public struct LogHistogram: Sendable, Equatable {
    static let growth = 1.02
    static let logGrowth = log(growth)
    /// Values at or below this land in bucket 0 (sub-millisecond latencies are not told apart).
    static let floorValue = 1.0

    /// Counts of the buckets in `base ..< base + window.count`, where nearly all values of a
    /// series fall (latencies of 100 ms to 30 s span some 300 buckets): ingest records two values
    /// for every call, and an array slot costs far less than a hashed insert. Buckets beyond
    /// `maxWindow` of the first value go to `outliers`, so a wild value cannot make it huge.
    private var base: Int32 = 0
    private var window: [Int64] = []
    private var outliers: [Int32: Int64] = [:]
    public private(set) var total: Int64 = 0

    static let maxWindow = 2048

    public init() {}

    /// The non-empty buckets and their counts.
    public var counts: [Int32: Int64] {
        Dictionary(uniqueKeysWithValues: buckets.map { ($0.bucket, $0.count) })
    }

    /// The non-empty buckets in increasing order.
    public var buckets: [(bucket: Int32, count: Int64)] {
        var result: [(bucket: Int32, count: Int64)] = []
        result.reserveCapacity(outliers.count + 16)
        for (offset, count) in window.enumerated() where count != 0 { result.append((base + Int32(offset), count)) }
        if !outliers.isEmpty {
            result += outliers.filter { $0.value != 0 }.map { ($0.key, $0.value) }
            result.sort { $0.bucket < $1.bucket }
        }
        return result
    }

    public static func == (a: LogHistogram, b: LogHistogram) -> Bool {
        a.total == b.total && a.buckets.elementsEqual(b.buckets) { $0.bucket == $1.bucket && $0.count == $1.count }
    }

    /// The bucket a value lands in.
    public static func bucket(_ value: Double) -> Int32 {
        guard value > floorValue else { return 0 }
        return Int32(min(Double(Int32.max - 1), (log(value) / logGrowth).rounded(.down)))
    }

    /// The middle of a bucket (geometric), what quantiles report.
    static func representative(_ bucket: Int32) -> Double {
        bucket == 0 ? floorValue : pow(growth, Double(bucket) + 0.5)
    }

    public mutating func record(_ value: Double, count: Int64 = 1) {
        guard value.isFinite, value >= 0 else { return }
        add(count, to: Self.bucket(value))
    }

    private mutating func add(_ count: Int64, to bucket: Int32) {
        total += count
        let offset = Int(bucket) - Int(base)
        if offset >= 0, offset < window.count {
            window[offset] += count
            return
        }
        if window.isEmpty {
            base = bucket
            window = [count]
            return
        }
        // Widen the window toward the bucket when it stays within `maxWindow`: a few slots
        // more than needed, so a series' slowly spreading values do not copy it each time.
        let low = min(Int(base), Int(bucket))
        let high = max(Int(base) + window.count, Int(bucket) + 1)
        guard high - low <= Self.maxWindow else {
            outliers[bucket, default: 0] += count
            return
        }
        let newLow = max(low - 8, high - Self.maxWindow, Int(Int32.min))
        let newHigh = min(high + 8, newLow + Self.maxWindow)
        var widened = [Int64](repeating: 0, count: newHigh - newLow)
        let shift = Int(base) - newLow
        for (offset, existing) in window.enumerated() { widened[shift + offset] = existing }
        widened[Int(bucket) - newLow] += count
        base = Int32(newLow)
        window = widened
    }

    public mutating func merge(_ other: LogHistogram) {
        if window.isEmpty, outliers.isEmpty {
            self = other
            return
        }
        for (offset, count) in other.window.enumerated() where count != 0 { add(count, to: other.base + Int32(offset)) }
        for (bucket, count) in other.outliers { add(count, to: bucket) }
    }

    /// The q-quantile (0...1), nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int64((q * Double(total)).rounded(.up)))
        let buckets = self.buckets
        var seen: Int64 = 0
        for (bucket, count) in buckets {
            seen += count
            if seen >= rank { return Self.representative(bucket) }
        }
        return Self.representative(buckets.last!.bucket)
    }

    /// Little-endian (bucket Int32, count Int64) pairs, sorted by bucket.
    /// Every usage row and journal entry of a batch carries one (ingest writes thousands a
    /// second), so the bytes are written in place rather than appended piece by piece.
    public var serialized: Data {
        let buckets = self.buckets
        return Data(count: buckets.count * 12) { (bytes: UnsafeMutableRawBufferPointer) in
            for (index, bucket) in buckets.enumerated() {
                bytes.storeBytes(of: bucket.bucket.littleEndian, toByteOffset: index * 12, as: Int32.self)
                bytes.storeBytes(of: bucket.count.littleEndian, toByteOffset: index * 12 + 4, as: Int64.self)
            }
        }
    }

    public init?(serialized data: Data) {
        guard data.count % 12 == 0 else { return nil }
        let bytes = [UInt8](data)
        var index = 0
        while index < bytes.count {
            var bucket: Int32 = 0
            var count: Int64 = 0
            withUnsafeMutableBytes(of: &bucket) { $0.copyBytes(from: bytes[index..<index + 4]) }
            withUnsafeMutableBytes(of: &count) { $0.copyBytes(from: bytes[index + 4..<index + 12]) }
            add(Int64(littleEndian: count), to: Int32(littleEndian: bucket))
            index += 12
        }
    }
}

extension Data {
    /// `count` bytes written by `body` into the new buffer.
    init(count: Int, writing body: (UnsafeMutableRawBufferPointer) -> Void) {
        self.init(count: count)
        withUnsafeMutableBytes(body)
    }
}
