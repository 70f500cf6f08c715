import Foundation

/// `pricing:`, `budgets:`, `budgets_timezone:` and `report:` (SPEC 7b).
public struct UsageConfig: Sendable {
    public var pricing = Pricing()
    public var budgets: [BudgetRule] = []
    /// Days and months of budgets and tenant rows are calendar periods in this zone.
    public var timeZone = TimeZone(identifier: "UTC")!
    public var report: ReportSchedule?

    public init() {}

    /// Tenants named in a budget: counted exactly, whatever the heavy-hitter sketch keeps.
    public var exactTenants: Set<String> {
        Set(budgets.compactMap { if case .tenant(let name) = $0.scope, name != "*" { name } else { nil } })
    }
}

/// Prices calls that carry tokens but no `cost_usd` (OTLP spans carry none).
public struct Pricing: Sendable {
    public struct Rule: Sendable {
        public var model: Glob
        public var inputPerMTok: Double
        public var outputPerMTok: Double

        public init(model: Glob, inputPerMTok: Double, outputPerMTok: Double) {
            self.model = model
            self.inputPerMTok = inputPerMTok
            self.outputPerMTok = outputPerMTok
        }
    }

    /// In the order written: the first rule whose glob matches the model prices it.
    public var rules: [Rule] = []

    public init(rules: [Rule] = []) { self.rules = rules }

    /// The call's cost: its own `cost_usd`, else its tokens at the first matching price; nil
    /// when neither is known (an unknown-cost call).
    public func cost(of call: CallUsage) -> Double? {
        if let cost = call.costUSD { return cost }
        guard call.inputTokens != nil || call.outputTokens != nil, let index = ruleIndex(forModel: call.model) else { return nil }
        return Self.cost(inputTokens: call.inputTokens, outputTokens: call.outputTokens, at: rules[index])
    }

    /// The rule that prices a model: the first whose glob matches.
    public func ruleIndex(forModel model: String) -> Int? {
        rules.firstIndex { $0.model.matches(model) }
    }

    static func cost(inputTokens: Int?, outputTokens: Int?, at rule: Rule) -> Double {
        (Double(inputTokens ?? 0) * rule.inputPerMTok + Double(outputTokens ?? 0) * rule.outputPerMTok) / 1_000_000
    }
}

/// One entry of `budgets:`.
public struct BudgetRule: Sendable, Equatable {
    public enum Scope: Sendable, Equatable {
        /// Every route matching the glob, together.
        case route(Glob)
        /// One tenant, or `*`: each tenant on its own.
        case tenant(String)
    }

    public enum Period: String, Sendable, CaseIterable {
        case daily, monthly
    }

    public enum Unit: String, Sendable {
        case usd, tokens
    }

    public var scope: Scope
    public var period: Period
    public var unit: Unit
    public var limit: Double
    public var warnAt: Double = 0.8
    public var runawayWithin: Double = 6 * 3600

    public init(scope: Scope, period: Period, unit: Unit, limit: Double) {
        self.scope = scope
        self.period = period
        self.unit = unit
        self.limit = limit
    }

    /// The key it was written with (`daily_usd`): the `budget` label of its alerts.
    public var name: String { "\(period.rawValue)_\(unit.rawValue)" }

    /// `route=support-*` or `tenant=acme`.
    public var scopeText: String {
        switch scope {
        case .route(let glob): return "route=\(glob.pattern)"
        case .tenant(let name): return "tenant=\(name)"
        }
    }
}
