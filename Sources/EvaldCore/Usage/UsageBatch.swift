import Foundation

/// Per-minute usage of one (route, model): the row every call adds to.
public struct UsageCell: Sendable, Equatable {
    public var calls: Int64 = 0
    public var errors: Int64 = 0
    public var errorClasses: [String: Int64] = [:]
    public var inputTokens: Int64 = 0
    public var outputTokens: Int64 = 0
    public var costUSD: Double = 0
    public var unknownCostCalls: Int64 = 0
    public var latency = LogHistogram()
    /// Cost per priced call in nano-USD (the histogram's floor is 1), for detection's
    /// `op:cost_usd` (the usage_feed journal); usage_minute keeps the sum only.
    public var costs = LogHistogram()

    public init() {}

    public mutating func add(_ call: CallUsage, cost: Double?) {
        calls += 1
        if let errorClass = call.errorClass {
            errors += 1
            errorClasses[errorClass, default: 0] += 1
        }
        inputTokens += Int64(call.inputTokens ?? 0)
        outputTokens += Int64(call.outputTokens ?? 0)
        if let cost {
            costUSD += cost
            if cost > 0 { costs.record(cost * 1e9) }
        } else {
            unknownCostCalls += 1
        }
        if let latency = call.latencyMs { self.latency.record(latency) }
    }

    public mutating func merge(_ other: UsageCell) {
        calls += other.calls
        errors += other.errors
        for (name, count) in other.errorClasses { errorClasses[name, default: 0] += count }
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        costUSD += other.costUSD
        unknownCostCalls += other.unknownCostCalls
        latency.merge(other.latency)
        costs.merge(other.costs)
    }

    public var tokens: Int64 { inputTokens + outputTokens }
}

/// A tenant's usage over a day (no latency: tenants are many).
public struct TenantUsage: Sendable, Equatable {
    public var calls: Int64 = 0
    public var errors: Int64 = 0
    public var inputTokens: Int64 = 0
    public var outputTokens: Int64 = 0
    public var costUSD: Double = 0
    public var unknownCostCalls: Int64 = 0

    public init(calls: Int64 = 0, errors: Int64 = 0, inputTokens: Int64 = 0, outputTokens: Int64 = 0, costUSD: Double = 0, unknownCostCalls: Int64 = 0) {
        self.calls = calls
        self.errors = errors
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.unknownCostCalls = unknownCostCalls
    }

    public mutating func add(_ call: CallUsage, cost: Double?) {
        calls += 1
        if call.errorClass != nil { errors += 1 }
        inputTokens += Int64(call.inputTokens ?? 0)
        outputTokens += Int64(call.outputTokens ?? 0)
        if let cost { costUSD += cost } else { unknownCostCalls += 1 }
    }

    public static func + (lhs: TenantUsage, rhs: TenantUsage) -> TenantUsage {
        TenantUsage(
            calls: lhs.calls + rhs.calls, errors: lhs.errors + rhs.errors, inputTokens: lhs.inputTokens + rhs.inputTokens,
            outputTokens: lhs.outputTokens + rhs.outputTokens, costUSD: lhs.costUSD + rhs.costUSD,
            unknownCostCalls: lhs.unknownCostCalls + rhs.unknownCostCalls)
    }

    public var tokens: Int64 { inputTokens + outputTokens }
}

public struct UsageMinuteKey: Sendable, Hashable {
    /// Unix minute of trace time.
    public var minute: Int64
    /// "" for calls without a route.
    public var route: String
    public var model: String

    public init(minute: Int64, route: String, model: String) {
        self.minute = minute
        self.route = route
        self.model = model
    }
}

public struct TenantDayKey: Sendable, Hashable {
    public var day: String
    public var tenant: String

    public init(day: String, tenant: String) {
        self.day = day
        self.tenant = tenant
    }
}

/// The usage of one ingest batch, summed in memory and committed with the batch's offset, so
/// that every call counts exactly once across crashes.
public struct UsageBatch: Sendable {
    public private(set) var minutes: [UsageMinuteKey: UsageCell] = [:]
    public private(set) var tenantDays: [TenantDayKey: TenantUsage] = [:]
    public private(set) var calls: Int64 = 0
    /// Tenants counted exactly (named in a budget); the others go to the day's sketch.
    public let exactTenants: Set<String>
    /// Calls that touch a budget, in the order read: the ledger advances call by call.
    public private(set) var budgetCalls: [BudgetCall] = []
    public let budgets: [BudgetRule]
    public var timeZone: TimeZone { calendar.timeZone }
    private let pricing: Pricing
    private var calendar: UsageCalendar
    private let budgetScope: BudgetLedger

    public init(
        pricing: Pricing = Pricing(), timeZone: TimeZone = TimeZone(identifier: "UTC")!, exactTenants: Set<String> = [], budgets: [BudgetRule] = []
    ) {
        self.pricing = pricing
        self.exactTenants = exactTenants
        self.budgets = budgets
        self.budgetScope = BudgetLedger(rules: budgets, timeZone: timeZone)
        self.calendar = UsageCalendar(timeZone: timeZone)
    }

    public init(config: UsageConfig) {
        self.init(pricing: config.pricing, timeZone: config.timeZone, exactTenants: config.exactTenants, budgets: config.budgets)
    }

    public var isEmpty: Bool { calls == 0 }

    public mutating func add(_ call: CallUsage) {
        calls += 1
        let cost = pricing.cost(of: call)
        minutes[UsageMinuteKey(minute: Int64((call.timestamp / 60).rounded(.down)), route: call.route ?? "", model: call.model), default: UsageCell()]
            .add(call, cost: cost)
        if !budgets.isEmpty, budgetScope.concerns(route: call.route, tenant: call.tenant) {
            budgetCalls.append(
                BudgetCall(
                    at: call.timestamp, recordID: call.recordID, route: call.route, tenant: call.tenant, cost: cost,
                    tokens: Int64(call.inputTokens ?? 0) + Int64(call.outputTokens ?? 0)))
        }
        if let tenant = call.tenant {
            tenantDays[TenantDayKey(day: calendar.day(call.timestamp), tenant: tenant), default: TenantUsage()].add(call, cost: cost)
        }
    }

    public var cells: [UsageMinuteKey: UsageCell] { minutes }
}
