import EvaldCore
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// `BudgetWarning`, `BudgetExceeded` and `CostRunaway` (SPEC 7b). Ingest advances the budget
/// accounts call by call (and pins each crossing to its record); every few seconds this
/// compares the accounts of the current day and month (of the newest trace time) with the open
/// budget alerts. A period's alerts resolve when the next period begins; `CostRunaway` also
/// when the pace falls back.
public struct BudgetAlertService: Service {
    static let interval = 5.0
    static let topSpenders = 5

    let store: StateStore
    let setups: SetupSource
    let logger: Logger
    let now: @Sendable () -> Date

    public init(store: StateStore, setups: SetupSource, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.setups = setups
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        let service = self
        await runPeriodically(
            every: Self.interval, setups: setups, logger: logger, failure: "alerts.budget_check_failed", makeState: { _ in () },
            round: { _ in
                try service.evaluate(); return false
            })
    }

    /// One round; returns how many alerts it fired.
    @discardableResult
    public func evaluate() throws -> Int {
        let setup = setups.current
        let usage = setup.config.usage
        let builder = AlertBuilder(config: setup.config, receivers: setup.receivers)
        var firings: [AlertFiring] = []
        if !usage.budgets.isEmpty, let newest = try store.newestUsageTime(notAfter: TraceClock.clamped(.distantFuture, now: now())) {
            let calendar = UsageCalendar(timeZone: usage.timeZone)
            let day = calendar.period(.daily, containing: newest.timeIntervalSince1970)
            let month = calendar.period(.monthly, containing: newest.timeIntervalSince1970)
            let periods = [day.firstDay, String(month.firstDay.prefix(7))]
            let accounts = try store.budgetAccounts(periods: periods).map { (key: $0.key, account: $0.account) }
            let drafts = try BudgetAlerts.drafts(accounts: accounts, rules: usage.budgets, currentPeriods: Set(periods)) { rule, key in
                let span = rule.period == .daily ? day : month
                switch rule.scope {
                case .route(let glob):
                    return try store.topRouteSpenders(
                        glob: glob, since: Date(timeIntervalSince1970: span.start), until: Date(timeIntervalSince1970: span.end),
                        tokens: rule.unit == .tokens, limit: Self.topSpenders)
                case .tenant(let name):
                    guard name == "*" else { return [] }
                    return try store.topTenantSpenders(firstDay: span.firstDay, lastDay: span.lastDay, tokens: rule.unit == .tokens, limit: Self.topSpenders)
                }
            }
            firings = drafts.map { draft in
                builder.firing(
                    draft.name, draft.severity, labels: draft.labels, summary: draft.summary, description: draft.description, numbers: draft.numbers,
                    examples: [])
            }
        }
        return try AlertReconciler(store: store, builder: builder, logger: logger).reconcile(names: BudgetAlerts.names, wanted: firings, at: now())
    }
}
