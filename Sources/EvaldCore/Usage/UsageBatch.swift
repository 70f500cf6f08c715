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
        if let errorClass = call.errorClass {
            errors += 1
            errorClasses[errorClass, default: 0] += 1
        }
        addCall(inputTokens: call.inputTokens, outputTokens: call.outputTokens, latencyMs: call.latencyMs, cost: cost)
    }

    /// Counts one call (its error, if it failed, is counted by the caller).
    mutating func addCall(inputTokens: Int?, outputTokens: Int?, latencyMs: Double?, cost: Double?) {
        calls += 1
        self.inputTokens += Int64(inputTokens ?? 0)
        self.outputTokens += Int64(outputTokens ?? 0)
        if let cost {
            costUSD += cost
            if cost > 0 { costs.record(cost * 1e9) }
        } else {
            unknownCostCalls += 1
        }
        if let latencyMs { latency.record(latencyMs) }
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
        if call.errorClass != nil { errors += 1 }
        addCall(inputTokens: call.inputTokens, outputTokens: call.outputTokens, cost: cost)
    }

    /// Counts one call (its error, if it failed, is counted by the caller).
    mutating func addCall(inputTokens: Int?, outputTokens: Int?, cost: Double?) {
        calls += 1
        self.inputTokens += Int64(inputTokens ?? 0)
        self.outputTokens += Int64(outputTokens ?? 0)
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
///
/// Every spool line adds to it, so it keys its cells by small ids of the names (`NameTable`)
/// and of the days, not by Strings; `cells` and `tenantDays` give the String-keyed sums once, at
/// commit.
public struct UsageBatch: Sendable {
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

    /// Routes, models and tenants; a call without a route has the route "".
    private var names = NameTable()
    /// Per name id: the index of the pricing rule for it as a model, -1 for none, -2 not yet looked up.
    private var priceRules: [Int] = []
    private var cellSums: [UsageCell] = []
    /// Dense indices of the cells' keys, in `cellSums` and `tenantSums` order.
    private var cellKeys = DenseIndex<CellKey>()
    private var tenantKeys = DenseIndex<TenantKey>()
    private var tenantSums: [TenantUsage] = []
    /// Day texts by id, and the current day's bounds (as `calendar` keeps them) and id.
    private var days: [String] = []
    private var dayIDs: [String: Int32] = [:]
    private var day: (start: Double, end: Double, id: Int32) = (0, -1, 0)

    private struct CellKey: Hashable {
        var minute: Int64
        var route: Int32
        var model: Int32
    }

    private struct TenantKey: Hashable {
        var day: Int32
        var tenant: Int32
    }

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
        let route = names.id(call.route ?? ""), model = names.id(call.model)
        cellSums[cell(minute: Self.minute(call.timestamp), route: route, model: model)].add(call, cost: cost)
        if !budgets.isEmpty, budgetScope.concerns(route: call.route, tenant: call.tenant) {
            budgetCalls.append(
                BudgetCall(
                    at: call.timestamp, recordID: call.recordID, route: call.route, tenant: call.tenant, cost: cost,
                    tokens: Int64(call.inputTokens ?? 0) + Int64(call.outputTokens ?? 0)))
        }
        if let tenant = call.tenant {
            tenantSums[tenantDay(call.timestamp, tenant: names.id(tenant))].add(call, cost: cost)
        }
    }

    /// The same as `add(usage.callUsage(in: line))`, without a String for a name already seen.
    public mutating func add(_ usage: ScannedUsage, in line: UnsafeRawBufferPointer) {
        // Budgets need the call's texts, and a failed call its error class: both as Strings.
        guard budgets.isEmpty, !usage.isError else { return add(usage.callUsage(in: line)) }
        calls += 1
        let model = usage.model.withUTF8(in: line) { names.id(utf8: $0) }
        let route = usage.route.map { route in route.withUTF8(in: line) { names.id(utf8: $0) } } ?? names.id(utf8: UnsafeRawBufferPointer(start: nil, count: 0))
        let cost: Double?
        if let own = usage.costUSD {
            cost = own
        } else if usage.inputTokens != nil || usage.outputTokens != nil, let rule = priceRule(model: model) {
            cost = Pricing.cost(inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, at: rule)
        } else {
            cost = nil
        }
        cellSums[cell(minute: Self.minute(usage.timestamp), route: route, model: model)].addCall(
            inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, latencyMs: usage.latencyMs, cost: cost)
        if let tenant = usage.tenant {
            let id = tenant.withUTF8(in: line) { names.id(utf8: $0) }
            tenantSums[tenantDay(usage.timestamp, tenant: id)].addCall(inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cost: cost)
        }
    }

    /// Adds another batch's usage, read after this one's (its budget calls follow this one's):
    /// how the parts of a run processed on several threads become one batch.
    public mutating func append(_ other: UsageBatch) {
        calls += other.calls
        budgetCalls.append(contentsOf: other.budgetCalls)
        for (key, sum) in zip(other.cellKeys.keys, other.cellSums) {
            let route = names.id(other.names[key.route]), model = names.id(other.names[key.model])
            cellSums[cell(minute: key.minute, route: route, model: model)].merge(sum)
        }
        for (key, sum) in zip(other.tenantKeys.keys, other.tenantSums) {
            let index = tenantCell(day: dayID(other.days[Int(key.day)]), tenant: names.id(other.names[key.tenant]))
            tenantSums[index] = tenantSums[index] + sum
        }
    }

    /// Per-minute usage by (minute, route, model).
    public var cells: [UsageMinuteKey: UsageCell] {
        var cells: [UsageMinuteKey: UsageCell] = [:]
        cells.reserveCapacity(cellKeys.keys.count)
        for (key, sum) in zip(cellKeys.keys, cellSums) {
            cells[UsageMinuteKey(minute: key.minute, route: names[key.route], model: names[key.model])] = sum
        }
        return cells
    }

    /// Per-day usage by tenant.
    public var tenantDays: [TenantDayKey: TenantUsage] {
        var result: [TenantDayKey: TenantUsage] = [:]
        result.reserveCapacity(tenantKeys.keys.count)
        for (key, sum) in zip(tenantKeys.keys, tenantSums) { result[TenantDayKey(day: days[Int(key.day)], tenant: names[key.tenant])] = sum }
        return result
    }

    @inline(__always)
    private static func minute(_ timestamp: Double) -> Int64 { Int64((timestamp / 60).rounded(.down)) }

    private mutating func cell(minute: Int64, route: Int32, model: Int32) -> Int {
        let slot = DenseIndex<CellKey>.slot(UInt64(bitPattern: minute), UInt64(UInt32(bitPattern: route)) << 32 | UInt64(UInt32(bitPattern: model)))
        let (index, isNew) = cellKeys.index(of: CellKey(minute: minute, route: route, model: model), slot: slot)
        if isNew { cellSums.append(UsageCell()) }
        return index
    }

    private mutating func tenantDay(_ timestamp: Double, tenant: Int32) -> Int {
        // The calendar is asked only outside the current day, as `UsageCalendar.day` itself does.
        if !(timestamp >= day.start && timestamp < day.end) {
            let found = calendar.dayWithBounds(timestamp)
            day = (found.start, found.end, dayID(found.text))
        }
        return tenantCell(day: day.id, tenant: tenant)
    }

    private mutating func dayID(_ text: String) -> Int32 {
        if let known = dayIDs[text] { return known }
        let id = Int32(days.count)
        days.append(text)
        dayIDs[text] = id
        return id
    }

    private mutating func tenantCell(day: Int32, tenant: Int32) -> Int {
        let slot = DenseIndex<TenantKey>.slot(UInt64(UInt32(bitPattern: day)), UInt64(UInt32(bitPattern: tenant)))
        let (index, isNew) = tenantKeys.index(of: TenantKey(day: day, tenant: tenant), slot: slot)
        if isNew { tenantSums.append(TenantUsage()) }
        return index
    }

    private mutating func priceRule(model: Int32) -> Pricing.Rule? {
        while priceRules.count < names.count { priceRules.append(-2) }
        if priceRules[Int(model)] == -2 { priceRules[Int(model)] = pricing.ruleIndex(forModel: names[model]) ?? -1 }
        let index = priceRules[Int(model)]
        return index >= 0 ? pricing.rules[index] : nil
    }
}

/// Dense indices 0, 1, 2, ... for the keys a batch meets, in the order met, with a small cache
/// of the keys met lately in front of the dictionary: most calls fall into a cell met a few
/// lines before (a minute holds many calls of a few routes and models), and a Dictionary's
/// SipHash costs more than the rest of adding a call.
struct DenseIndex<Key: Hashable & Sendable>: Sendable {
    private(set) var keys: [Key] = []
    private var indices: [Key: Int] = [:]
    private var recent = [Int32](repeating: -1, count: 256)

    /// One of the cache's 256 slots for a key of two words (multiplicative hashing; the top byte).
    @inline(__always)
    static func slot(_ a: UInt64, _ b: UInt64) -> Int {
        Int(truncatingIfNeeded: ((a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xC2B2_AE3D_27D4_EB4F)) >> 56)
    }

    /// The key's index, and whether it is new (the caller appends its sums then); `slot` is
    /// `slot(_:_:)` of the key.
    mutating func index(of key: Key, slot: Int) -> (index: Int, isNew: Bool) {
        let cached = Int(recent[slot])
        if cached >= 0, keys[cached] == key { return (cached, false) }
        var found = (index: keys.count, isNew: true)
        if let known = indices[key] {
            found = (known, false)
        } else {
            indices[key] = keys.count
            keys.append(key)
        }
        recent[slot] = Int32(found.index)
        return found
    }
}
