import Foundation

/// One budget's running account for one scope and period: what has been spent, how fast, and
/// the calls at which it crossed its thresholds. Kept in the state database and advanced call
/// by call in trace order at ingest, in the batch's transaction, so a crossing is pinned to
/// the record that made it, exactly once across crashes.
public struct BudgetAccount: Sendable, Equatable {
    public struct Crossing: Sendable, Equatable {
        /// Trace time of the call that crossed.
        public var at: Double
        public var recordID: String?
        /// The spend once that call was counted.
        public var spend: Double

        public init(at: Double, recordID: String?, spend: Double) {
            self.at = at
            self.recordID = recordID
            self.spend = spend
        }
    }

    public var spend: Double = 0
    /// Spend over about the last hour of trace time: an exponentially decaying sum (time
    /// constant one hour), so no per-minute history is kept per tenant.
    public var lastHour: Double = 0
    public var lastAt: Double = 0
    public var warned: Crossing?
    public var exceeded: Crossing?
    /// Set while the last hour's pace would exhaust the budget within `runaway_within` (and
    /// before the period ends); cleared when the pace falls back.
    public var runaway: Crossing?

    public init() {}
}

/// A budget account's identity.
public struct BudgetAccountKey: Sendable, Hashable {
    /// `BudgetRule.id`: stable across reloads that keep the rule.
    public var budget: String
    /// The tenant for `tenant: "*"` budgets, else "".
    public var scope: String
    /// `2026-11-28` (daily) or `2026-11` (monthly).
    public var period: String

    public init(budget: String, scope: String, period: String) {
        self.budget = budget
        self.scope = scope
        self.period = period
    }
}

/// What a call contributes to budgets; collected at ingest only when budgets are configured.
public struct BudgetCall: Sendable, Equatable {
    public var at: Double
    public var recordID: String?
    public var route: String?
    public var tenant: String?
    public var cost: Double?
    public var tokens: Int64

    public init(at: Double, recordID: String?, route: String?, tenant: String?, cost: Double?, tokens: Int64) {
        self.at = at
        self.recordID = recordID
        self.route = route
        self.tenant = tenant
        self.cost = cost
        self.tokens = tokens
    }
}

/// Advances budget accounts call by call. Pure: the store loads and saves the accounts.
public struct BudgetLedger: Sendable {
    public static let hour = 3600.0
    public let rules: [BudgetRule]
    private var calendar: UsageCalendar

    public init(rules: [BudgetRule], timeZone: TimeZone) {
        self.rules = rules
        self.calendar = UsageCalendar(timeZone: timeZone)
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Whether a call can touch any budget (so the batch keeps it).
    public func concerns(route: String?, tenant: String?) -> Bool {
        rules.contains { scope(of: $0, route: route, tenant: tenant) != nil }
    }

    /// The account scope a call falls in for a rule, nil when the rule does not cover it.
    func scope(of rule: BudgetRule, route: String?, tenant: String?) -> String? {
        switch rule.scope {
        case .route(let glob):
            guard let route, glob.matches(route) else { return nil }
            return ""
        case .tenant(let name):
            guard let tenant else { return nil }
            if name == "*" { return tenant }
            return tenant == name ? "" : nil
        }
    }

    /// The accounts a call touches, with the amount it adds to each.
    public mutating func entries(for call: BudgetCall) -> [(key: BudgetAccountKey, rule: BudgetRule, amount: Double)] {
        var result: [(BudgetAccountKey, BudgetRule, Double)] = []
        for rule in rules {
            guard let scope = scope(of: rule, route: call.route, tenant: call.tenant) else { continue }
            let amount: Double
            switch rule.unit {
            case .usd:
                guard let cost = call.cost, cost > 0 else { continue }
                amount = cost
            case .tokens:
                guard call.tokens > 0 else { continue }
                amount = Double(call.tokens)
            }
            let day = calendar.day(call.at)
            let period = rule.period == .daily ? day : String(day.prefix(7))
            result.append((BudgetAccountKey(budget: rule.id, scope: scope, period: period), rule, amount))
        }
        return result
    }

    /// Adds one call to an account and notes the thresholds it crosses.
    public mutating func add(_ amount: Double, of call: BudgetCall, to account: inout BudgetAccount, rule: BudgetRule) {
        if call.at > account.lastAt {
            account.lastHour *= exp(-(call.at - account.lastAt) / Self.hour)
            account.lastAt = call.at
        }
        account.spend += amount
        account.lastHour += amount
        if account.warned == nil, account.spend >= rule.warnAt * rule.limit {
            account.warned = .init(at: call.at, recordID: call.recordID, spend: account.spend)
        }
        if account.exceeded == nil, account.spend >= rule.limit {
            account.exceeded = .init(at: call.at, recordID: call.recordID, spend: account.spend)
        }
        let runaway = account.exceeded == nil && isRunaway(account, rule: rule, at: call.at)
        if runaway, account.runaway == nil {
            account.runaway = .init(at: call.at, recordID: call.recordID, spend: account.spend)
        } else if !runaway, account.runaway != nil, account.exceeded == nil {
            account.runaway = nil
        }
    }

    /// The last hour's pace would spend what is left before `runaway_within` is over (and
    /// before the period ends), and the last hour alone spent at least 5% of the limit (one
    /// call is not a pace).
    public func isRunaway(_ account: BudgetAccount, rule: BudgetRule, at: Double) -> Bool {
        guard account.lastHour >= 0.05 * rule.limit else { return false }
        let end = calendar.period(rule.period, containing: at).end
        let horizon = min(rule.runawayWithin, max(0, end - at))
        return account.lastHour * horizon / Self.hour >= rule.limit - account.spend
    }
}

extension BudgetRule {
    /// Stable identity of the rule (`route=support-*|daily_usd`), the key of its accounts.
    public var id: String { "\(scopeText)|\(name)" }
}
