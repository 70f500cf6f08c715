import Foundation

/// Usage per (route, model) summed over committed ingest batches: what `/metrics` exports as
/// the `evald_usage_*` counters. Folded from a batch's minute cells once it is committed, so a
/// call counts once, and the counters never go down when retention prunes `usage_minute`.
public struct UsageTotals: Sendable, Equatable {
    public struct Key: Hashable, Sendable, Comparable {
        /// "" for calls without a route.
        public var route: String
        public var model: String

        public init(route: String, model: String) {
            self.route = route
            self.model = model
        }

        public static func < (a: Key, b: Key) -> Bool { (a.route, a.model) < (b.route, b.model) }
    }

    public struct Sums: Sendable, Equatable {
        public var calls: Int64 = 0
        /// Failed calls by error class (SPEC 7b); their sum is the errors.
        public var errorClasses: [String: Int64] = [:]
        public var inputTokens: Int64 = 0
        public var outputTokens: Int64 = 0
        /// Cost of the calls that carried one or were priced (unknown-cost calls add nothing).
        public var costUSD: Double = 0

        public init() {}

        public var errors: Int64 { errorClasses.values.reduce(0, +) }

        mutating func add(_ other: Sums) {
            calls += other.calls
            for (name, count) in other.errorClasses { errorClasses[name, default: 0] += count }
            inputTokens += other.inputTokens
            outputTokens += other.outputTokens
            costUSD += other.costUSD
        }
    }

    public private(set) var byRouteModel: [Key: Sums] = [:]

    public init() {}

    public var isEmpty: Bool { byRouteModel.isEmpty }

    /// A committed batch's usage (call it after the commit: an uncommitted batch is read again).
    public mutating func add(_ batch: UsageBatch) {
        for (minute, cell) in batch.cells {
            var sums = Sums()
            sums.calls = cell.calls
            sums.errorClasses = cell.errorClasses
            sums.inputTokens = cell.inputTokens
            sums.outputTokens = cell.outputTokens
            sums.costUSD = cell.costUSD
            byRouteModel[Key(route: minute.route, model: minute.model), default: Sums()].add(sums)
        }
    }

    public mutating func merge(_ other: UsageTotals) {
        for (key, sums) in other.byRouteModel { byRouteModel[key, default: Sums()].add(sums) }
    }
}
