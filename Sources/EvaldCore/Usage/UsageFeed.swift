import Foundation

/// One (trace-time minute, route, model) of usage as detection reads it (SPEC 7: the `op:`
/// series are fed from every call once usage is counted from every record): the calls and
/// errors, and the latency and cost of each call as log-bucketed histograms (values within 1%
/// of the call's own; costs in nano-USD, as the histogram's floor is 1).
public struct UsageFeedCell: Sendable, Equatable {
    public var minute: Int64
    public var route: String
    public var model: String
    public var calls: Int64
    public var errors: Int64
    public var latencyMs: LogHistogram
    public var costNanoUSD: LogHistogram

    public init(minute: Int64, route: String, model: String, calls: Int64, errors: Int64, latencyMs: LogHistogram, costNanoUSD: LogHistogram) {
        self.minute = minute
        self.route = route
        self.model = model
        self.calls = calls
        self.errors = errors
        self.latencyMs = latencyMs
        self.costNanoUSD = costNanoUSD
    }

    /// The middle of the minute: the detectors' clock for its calls.
    public var at: Date { Date(timeIntervalSince1970: Double(minute) * 60 + 30) }

    /// Each call's outcome (true = no error), in a shuffled order. A minute's calls arrive
    /// interleaved; fed grouped (all errors last) a CUSUM would climb on every minute's tail
    /// and fire on a healthy series. The order is a fixed function of the cell, so a replay
    /// after kill -9 feeds the same sequence.
    public func outcomes() -> [Bool] {
        var values = [Bool](repeating: true, count: Int(max(0, calls)))
        for index in 0..<min(values.count, Int(max(0, errors))) { values[index] = false }
        var generator = seeded(salt: 1)
        values.shuffle(using: &generator)
        return values
    }

    /// Each call's latency in milliseconds (the histogram's bucket middles), shuffled.
    public func latencies() -> [Double] { expand(latencyMs, scale: 1, salt: 2) }

    /// Each priced call's cost in USD, shuffled.
    public func costs() -> [Double] { expand(costNanoUSD, scale: 1e-9, salt: 3) }

    private func expand(_ histogram: LogHistogram, scale: Double, salt: UInt64) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(Int(histogram.total))
        for (bucket, count) in histogram.buckets {
            values.append(contentsOf: repeatElement(LogHistogram.representative(bucket) * scale, count: Int(count)))
        }
        var generator = seeded(salt: salt)
        values.shuffle(using: &generator)
        return values
    }

    private func seeded(salt: UInt64) -> FeedShuffle {
        // FNV-1a over the cell's key: Swift's Hasher is seeded per process.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ salt
        for byte in "\(minute)|\(route)|\(model)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return FeedShuffle(state: hash)
    }
}

/// SplitMix64: small, fast, and the same on every machine.
struct FeedShuffle: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
