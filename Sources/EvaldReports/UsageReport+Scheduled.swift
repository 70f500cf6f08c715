import EvaldCore
import EvaldStore
import Foundation

extension UsageReport {
    /// The report as the scheduled delivery sends it: the JSON and markdown of `evald report`,
    /// the headline numbers with their change, and the top lists a chat message shows.
    public func scheduled() -> ScheduledReport {
        let t = totals, p = previousTotals
        let period = "\(RFC3339.format(since, fractional: false)) .. \(RFC3339.format(until, fractional: false))"
        var headline: [ScheduledReport.Fact] = [
            .init("Calls", "\(Self.count(t.calls)) (\(Self.changeText(Double(t.calls), Double(p.calls))))"),
            .init("Errors", "\(Self.count(t.errors)) (\(Self.percent(Self.errorRate(t))))"),
            .init("Cost", "\(Self.money(t.costUSD)) (\(Self.changeText(t.costUSD, p.costUSD)))"),
            .init(
                "Tokens in / out",
                "\(Self.count(t.inputTokens)) / \(Self.count(t.outputTokens))"),
            .init("Latency p50 / p95 / p99", [0.5, 0.95, 0.99].map { Self.milliseconds(t.latency.quantile($0)) }.joined(separator: " / ") + " ms"),
        ]
        if t.unknownCostCalls > 0 { headline.append(.init("Calls with unknown cost", Self.count(t.unknownCostCalls))) }
        let firing = alerts.filter { $0.state == "firing" }.count
        headline.append(.init("Alerts", "\(alerts.count) in the period, \(firing) still firing"))

        let routesByCost = routes.sorted { ($0.usage.costUSD, $1.route) > ($1.usage.costUSD, $0.route) }.prefix(top).map { r in
            "\(r.route.isEmpty ? "-" : r.route) (\(r.model)): \(Self.money(r.usage.costUSD)), \(Self.count(r.usage.calls)) calls, "
                + "\(Self.percent(Self.errorRate(r.usage))) errors"
        }
        let bySpend = topBySpend.map { "\($0.tenant): \(Self.money($0.usage.costUSD)), \(Self.count($0.usage.calls)) calls" }
        let byTokens = topByTokensPerCall.map { "\($0.tenant): \(String(format: "%.0f", Self.tokensPerCall($0.usage))) tokens per call" }
        return ScheduledReport(
            periodStart: since, periodEnd: until, title: "evald usage report, \(period)", json: json.serialized(pretty: false),
            markdown: rendered(.markdown), headline: headline,
            topLists: [
                .init(title: "Routes by cost", lines: Array(routesByCost)),
                .init(title: "Tenants by spend", lines: bySpend),
                .init(title: "Tenants by tokens per call", lines: byTokens),
            ])
    }
}
