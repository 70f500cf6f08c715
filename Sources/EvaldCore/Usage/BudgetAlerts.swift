import Foundation

/// The budget alerts (SPEC 7b) the current accounts call for: `BudgetWarning` once spend
/// reached `warn_at` of the limit, `BudgetExceeded` once it reached the limit, `CostRunaway`
/// while the last hour's pace would spend the rest within `runaway_within`. Each names the
/// call that crossed. Pure: the daemon reconciles them with the open alerts.
public enum BudgetAlerts {
    public static let names: Set<String> = ["BudgetWarning", "BudgetExceeded", "CostRunaway"]

    /// - Parameters:
    ///   - currentPeriods: the day and month of the newest trace time; accounts of older periods
    ///     are over, and their alerts resolve.
    ///   - topSpenders: the largest spenders within a budget's scope and period.
    public static func drafts(
        accounts: [(key: BudgetAccountKey, account: BudgetAccount)], rules: [BudgetRule], currentPeriods: Set<String>,
        topSpenders: (BudgetRule, BudgetAccountKey) throws -> [(name: String, spend: Double)]
    ) rethrows -> [HealthAlerts.Draft] {
        let byID = Dictionary(rules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var drafts: [HealthAlerts.Draft] = []
        for (key, account) in accounts.sorted(by: { ($0.key.budget, $0.key.scope) < ($1.key.budget, $1.key.scope) }) {
            guard let rule = byID[key.budget], currentPeriods.contains(key.period) else { continue }
            var wanted: [(String, AlertSeverity, BudgetAccount.Crossing)] = []
            if let warned = account.warned { wanted.append(("BudgetWarning", .warning, warned)) }
            if let exceeded = account.exceeded { wanted.append(("BudgetExceeded", .critical, exceeded)) }
            if let runaway = account.runaway, account.exceeded == nil { wanted.append(("CostRunaway", .critical, runaway)) }
            guard !wanted.isEmpty else { continue }
            let top = try topSpenders(rule, key)
            for (name, severity, crossing) in wanted {
                drafts.append(draft(name, severity, rule: rule, key: key, account: account, crossing: crossing, top: top))
            }
        }
        return drafts
    }

    static func draft(
        _ name: String, _ severity: AlertSeverity, rule: BudgetRule, key: BudgetAccountKey, account: BudgetAccount, crossing: BudgetAccount.Crossing,
        top: [(name: String, spend: Double)]
    ) -> HealthAlerts.Draft {
        var labels = ["budget": rule.name, "period": key.period]
        let scope: String
        switch rule.scope {
        case .route(let glob):
            labels["route"] = glob.pattern
            scope = "route \(glob.pattern)"
        case .tenant(let tenant):
            let who = key.scope.isEmpty ? tenant : key.scope
            labels["tenant"] = who
            scope = "tenant \(who)"
        }
        func amount(_ value: Double) -> String { rule.unit == .usd ? String(format: "$%.2f", value) : String(format: "%.0f tokens", value) }
        let share = account.spend / rule.limit
        let crossed =
            "at \(RFC3339.format(Date(timeIntervalSince1970: crossing.at), fractional: false)) (trace time)"
            + (crossing.recordID.map { " by record \($0)" } ?? "") + ", spend then \(amount(crossing.spend))"
        let pace = "last hour \(amount(account.lastHour))"
        let spenders = top.isEmpty ? "" : "; top spenders: " + top.map { "\($0.name) \(amount($0.spend))" }.joined(separator: ", ")
        let summary: String
        let description: String
        switch name {
        case "BudgetExceeded":
            summary = "\(rule.name) budget of \(scope) exceeded for \(key.period): \(amount(account.spend)) of \(amount(rule.limit))"
            description =
                "Spend \(amount(account.spend)) of the \(rule.name) limit \(amount(rule.limit)) (\(percent(share))) for \(key.period); crossed the limit \(crossed); \(pace)\(spenders)."
        case "BudgetWarning":
            summary = "\(rule.name) budget of \(scope) at \(percent(share)) for \(key.period): \(amount(account.spend)) of \(amount(rule.limit))"
            description =
                "Spend \(amount(account.spend)) of the \(rule.name) limit \(amount(rule.limit)) (\(percent(share))) for \(key.period); crossed warn_at \(rule.warnAt) \(crossed); \(pace)\(spenders)."
        default:
            let hoursLeft = account.lastHour > 0 ? (rule.limit - account.spend) / account.lastHour : .infinity
            summary = "\(scope) spends \(amount(account.lastHour)) an hour: the \(rule.name) budget runs out in \(String(format: "%.1f", hoursLeft)) h"
            description =
                "The last hour's spend \(amount(account.lastHour)) would use the remaining \(amount(rule.limit - account.spend)) of the \(rule.name) limit \(amount(rule.limit)) within \(String(format: "%.1f", hoursLeft)) h (runaway_within \(ConfigDuration.format(rule.runawayWithin))) for \(key.period); pace first seen \(crossed)\(spenders)."
        }
        return HealthAlerts.Draft(
            name: name, severity: severity, labels: labels, summary: summary, description: description,
            numbers: [
                "spend": account.spend, "limit": rule.limit, "share": share, "last_hour": account.lastHour, "crossed_at": crossing.at,
                "crossing_spend": crossing.spend, "warn_at": rule.warnAt,
            ])
    }

    static func percent(_ share: Double) -> String { String(format: "%.0f%%", share * 100) }
}
