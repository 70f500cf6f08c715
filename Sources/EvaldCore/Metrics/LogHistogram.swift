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

    public private(set) var counts: [Int32: Int64] = [:]
    public private(set) var total: Int64 = 0

    public init() {}

    static func bucket(_ value: Double) -> Int32 {
        guard value > floorValue else { return 0 }
        return Int32(min(Double(Int32.max - 1), (log(value) / logGrowth).rounded(.down)))
    }

    /// The middle of a bucket (geometric), what quantiles report.
    static func representative(_ bucket: Int32) -> Double {
        bucket == 0 ? floorValue : pow(growth, Double(bucket) + 0.5)
    }

    public mutating func record(_ value: Double, count: Int64 = 1) {
        guard value.isFinite, value >= 0 else { return }
        counts[Self.bucket(value), default: 0] += count
        total += count
    }

    public mutating func merge(_ other: LogHistogram) {
        for (bucket, count) in other.counts { counts[bucket, default: 0] += count }
        total += other.total
    }

    /// The q-quantile (0...1), nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int64((q * Double(total)).rounded(.up)))
        var seen: Int64 = 0
        for bucket in counts.keys.sorted() {
            seen += counts[bucket]!
            if seen >= rank { return Self.representative(bucket) }
        }
        return Self.representative(counts.keys.max()!)
    }

    /// Little-endian (bucket Int32, count Int64) pairs, sorted by bucket.
    public var serialized: Data {
        var data = Data(capacity: counts.count * 12)
        for bucket in counts.keys.sorted() {
            withUnsafeBytes(of: bucket.littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: counts[bucket]!.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
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
            counts[Int32(littleEndian: bucket), default: 0] += Int64(littleEndian: count)
            total += Int64(littleEndian: count)
            index += 12
        }
    }
}
