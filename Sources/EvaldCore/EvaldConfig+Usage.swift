import Foundation
import Yams

extension EvaldConfig {
    static let budgetAmountKeys = ["daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens"]

    /// `pricing`, `budgets`, `budgets_timezone`, `report` (SPEC 7b).
    static func readUsage(_ top: [String: Node], walker w: YAMLWalker, receivers: [String: ReceiverConfig.Kind]) -> UsageConfig {
        var usage = UsageConfig()
        if let name = w.string(top["budgets_timezone"], "budgets_timezone") {
            if let zone = TimeZone(identifier: name) {
                usage.timeZone = zone
            } else {
                w.report(top["budgets_timezone"], "budgets_timezone", "\"\(name)\" is not a time zone name (e.g. UTC, Europe/Berlin)")
            }
        }

        for (glob, node) in w.orderedMapping(top["pricing"], "pricing") {
            let at = "pricing.\(glob)"
            let p = w.mapping(node, at, allowed: ["input_per_mtok", "output_per_mtok"])
            if p["input_per_mtok"] == nil, p["output_per_mtok"] == nil {
                w.report(node, at, "needs input_per_mtok and output_per_mtok (USD per million tokens)")
                continue
            }
            usage.pricing.rules.append(
                Pricing.Rule(
                    model: Glob(glob), inputPerMTok: w.double(p["input_per_mtok"], "\(at).input_per_mtok", default: 0, range: 0...1e6),
                    outputPerMTok: w.double(p["output_per_mtok"], "\(at).output_per_mtok", default: 0, range: 0...1e6)))
        }

        for (index, node) in w.sequence(top["budgets"], "budgets").enumerated() {
            let at = "budgets[\(index)]"
            let b = w.mapping(node, at, allowed: Set(["route", "tenant", "warn_at", "runaway_within"] + budgetAmountKeys))
            let scope: BudgetRule.Scope
            switch (w.string(b["route"], "\(at).route"), w.string(b["tenant"], "\(at).tenant")) {
            case (let route?, nil): scope = .route(Glob(route))
            case (nil, let tenant?): scope = .tenant(tenant)
            case (.some, .some):
                w.report(node, at, "has both route and tenant; write one budget for each")
                continue
            case (nil, nil):
                w.report(node, at, "needs route (a glob) or tenant (a name, or \"*\" for each tenant)")
                continue
            }
            let amounts = budgetAmountKeys.filter { b[$0] != nil }
            guard amounts.count == 1, let key = amounts.first else {
                w.report(node, at, "needs exactly one of \(budgetAmountKeys.joined(separator: ", ")); write one budget per limit")
                continue
            }
            let parts = key.split(separator: "_")
            var rule = BudgetRule(
                scope: scope, period: BudgetRule.Period(rawValue: String(parts[0]))!, unit: BudgetRule.Unit(rawValue: String(parts[1]))!,
                limit: w.double(b[key], "\(at).\(key)", default: 0, range: 0...1e15))
            if rule.limit <= 0 { w.report(b[key], "\(at).\(key)", "must be greater than 0") }
            rule.warnAt = w.double(b["warn_at"], "\(at).warn_at", default: rule.warnAt, range: 0...1)
            rule.runawayWithin = w.duration(b["runaway_within"], "\(at).runaway_within", default: rule.runawayWithin)
            usage.budgets.append(rule)
        }

        if let node = top["report"], !w.isNull(node) {
            let r = w.mapping(node, "report", allowed: ["every", "at", "timezone", "receivers"])
            let every = w.duration(r["every"], "report.every", default: 7 * 86400)
            let atText = w.string(r["at"], "report.at", default: every >= 7 * 86400 ? "Mon 09:00" : "09:00")
            var zone = TimeZone(identifier: "UTC")!
            if let name = w.string(r["timezone"], "report.timezone") {
                if let named = TimeZone(identifier: name) {
                    zone = named
                } else {
                    w.report(r["timezone"], "report.timezone", "\"\(name)\" is not a time zone name (e.g. UTC, Europe/Berlin)")
                }
            }
            let names = w.sequence(r["receivers"], "report.receivers").enumerated().compactMap { w.string($1, "report.receivers[\($0)]") }
            if names.isEmpty { w.report(node, "report.receivers", "needs at least one receiver name from alerts.receivers") }
            for (index, name) in names.enumerated() {
                switch receivers[name] {
                case nil:
                    w.report(r["receivers"], "report.receivers[\(index)]", "names receiver \"\(name)\", which is not defined under alerts.receivers")
                case .alertmanager?, .pagerduty?:
                    w.report(
                        r["receivers"], "report.receivers[\(index)]",
                        "names receiver \"\(name)\" of kind \(receivers[name]!.rawValue), which takes alerts, not reports; name a webhook or slack receiver")
                default: break
                }
            }
            if let at = ReportSchedule.parseAt(atText) {
                let schedule = ReportSchedule(every: every, weekday: at.weekday, minuteOfDay: at.minuteOfDay, timeZone: zone, receivers: names)
                if let problem = schedule.problem { w.report(r["every"] ?? node, "report.every", problem) }
                usage.report = schedule
            } else {
                w.report(r["at"], "report.at", "\"\(atText)\" is not a time like \"Mon 09:00\" or \"09:00\"")
            }
        }
        return usage
    }
}
