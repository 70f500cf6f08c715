import EvaldCore
import EvaldStore
import Foundation

/// What `evald report` shows (SPEC 7b): usage from every call over a period (totals, per route
/// and model, per tenant, the top spenders), the change against the period before, and the
/// sample's quality per route with the alerts of the period.
public struct UsageReport: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case text, markdown, json
    }

    public struct QualityRow: Sendable {
        public var metric: String
        public var route: String
        public var model: String
        public var n: Int64
        public var passRate: Double?
        public var ciLow: Double?
        public var ciHigh: Double?
    }

    public var since: Date
    public var until: Date
    public var totals: UsageCell
    public var previousTotals: UsageCell
    public var routes: [RouteUsage]
    /// Whole days (budgets_timezone) the tenant numbers cover.
    public var tenantDays: (first: String, last: String)
    public var tenants: [TenantTotal]
    /// Calls whose numbers the tenant sketch may overstate, at most (0 when every tenant is exact).
    public var sketchErrorBound: Int64
    public var top: Int
    public var quality: [QualityRow]
    public var alerts: [StoredAlert]

    public static func gather(store: StateStore?, since: Date, until: Date, top: Int, timeZone: TimeZone) throws -> UsageReport {
        var calendar = UsageCalendar(timeZone: timeZone)
        let days = (calendar.day(since.timeIntervalSince1970), calendar.day(max(since, until - 1).timeIntervalSince1970))
        var report = UsageReport(
            since: since, until: until, totals: UsageCell(), previousTotals: UsageCell(), routes: [], tenantDays: days, tenants: [],
            sketchErrorBound: 0, top: top, quality: [], alerts: [])
        guard let store else { return report }
        report.routes = try store.routeUsage(since: since, until: until)
        for route in report.routes { report.totals.merge(route.usage) }
        for route in try store.routeUsage(since: since - until.timeIntervalSince(since), until: since) { report.previousTotals.merge(route.usage) }
        report.tenants = try store.tenantUsage(firstDay: days.0, lastDay: days.1)
        report.sketchErrorBound = try store.tenantSketchErrorBound(firstDay: days.0, lastDay: days.1)
        let metrics = try MetricsReport.gather(
            store: store, window: ConfigDuration.format(until.timeIntervalSince(since)), seconds: until.timeIntervalSince(since), until: until,
            route: nil, model: nil)
        // Checks and judges: the op: series are in the usage numbers, counted from every call.
        report.quality = metrics.rows.filter { $0.passRate != nil && !$0.metric.hasPrefix("op:") }.map { row in
            QualityRow(
                metric: row.judge.map { "judge:\($0)" } ?? row.metric, route: row.route, model: row.model, n: row.n, passRate: row.passRate,
                ciLow: row.ciLow, ciHigh: row.ciHigh)
        }
        report.alerts = try store.alerts(includeResolved: true).filter { alert in
            (alert.startedAt >= since && alert.startedAt < until) || (alert.resolvedAt.map { $0 >= since && $0 < until } ?? false)
        }
        return report
    }

    public var topBySpend: [TenantTotal] {
        Array(tenants.sorted { ($0.usage.costUSD, $1.tenant) > ($1.usage.costUSD, $0.tenant) }.prefix(top))
    }

    public var topByTokensPerCall: [TenantTotal] {
        Array(
            tenants.filter { $0.usage.calls > 0 }.sorted { (Self.tokensPerCall($0.usage), $1.tenant) > (Self.tokensPerCall($1.usage), $0.tenant) }.prefix(top))
    }

    static func tokensPerCall(_ usage: TenantUsage) -> Double {
        usage.calls > 0 ? Double(usage.tokens) / Double(usage.calls) : 0
    }

    static func tokensPerCall(_ cell: UsageCell) -> Double? {
        cell.calls > 0 ? Double(cell.tokens) / Double(cell.calls) : nil
    }

    static func errorRate(_ cell: UsageCell) -> Double? {
        cell.calls > 0 ? Double(cell.errors) / Double(cell.calls) : nil
    }

    // MARK: JSON

    public var json: JSONValue {
        func money(_ value: Double) -> JSONValue { .double((value * 1e6).rounded() / 1e6) }
        func ratio(_ value: Double?) -> JSONValue { value.map { .double(($0 * 1e4).rounded() / 1e4) } ?? .null }
        func latency(_ cell: UsageCell) -> JSONValue {
            .object(
                [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)].map { name, q in
                    (name, cell.latency.quantile(q).map { .double(($0 * 10).rounded() / 10) } ?? .null)
                })
        }
        func summary(_ cell: UsageCell) -> JSONValue {
            .object([
                ("calls", .int(cell.calls)), ("errors", .int(cell.errors)), ("error_rate", ratio(Self.errorRate(cell))),
                ("error_classes", .object(cell.errorClasses.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
                ("input_tokens", .int(cell.inputTokens)), ("output_tokens", .int(cell.outputTokens)),
                ("tokens_per_call", ratio(Self.tokensPerCall(cell))), ("cost_usd", money(cell.costUSD)),
                ("unknown_cost_calls", .int(cell.unknownCostCalls)), ("latency_ms", latency(cell)),
            ])
        }
        func tenant(_ t: TenantTotal) -> JSONValue {
            .object([
                ("tenant", .string(t.tenant)), ("calls", .int(t.usage.calls)), ("errors", .int(t.usage.errors)),
                ("input_tokens", .int(t.usage.inputTokens)), ("output_tokens", .int(t.usage.outputTokens)),
                ("cost_usd", money(t.usage.costUSD)), ("unknown_cost_calls", .int(t.usage.unknownCostCalls)),
                ("tokens_per_call", ratio(Self.tokensPerCall(t.usage))), ("exact", .bool(t.exact)),
                ("error_bound", .object([("calls", .int(t.error.calls)), ("tokens", .int(t.error.tokens)), ("cost_usd", money(t.error.costUSD))])),
            ])
        }
        func change(_ now: Double, _ before: Double) -> JSONValue { before > 0 ? ratio((now - before) / before) : .null }
        return .object([
            ("period", .object([("since", .string(RFC3339.format(since, fractional: false))), ("until", .string(RFC3339.format(until, fractional: false)))])),
            ("totals", summary(totals)),
            ("previous", summary(previousTotals)),
            (
                "change",
                .object([
                    ("calls", change(Double(totals.calls), Double(previousTotals.calls))),
                    ("cost_usd", change(totals.costUSD, previousTotals.costUSD)),
                    ("tokens", change(Double(totals.tokens), Double(previousTotals.tokens))),
                    ("error_rate_points", Self.errorRate(totals).flatMap { now in Self.errorRate(previousTotals).map { ratio(now - $0) } } ?? .null),
                ])
            ),
            (
                "routes",
                .array(
                    routes.map { r in
                        var fields: [(String, JSONValue)] = [("route", .string(r.route)), ("model", .string(r.model))]
                        if case .object(let rest) = summary(r.usage) { fields += rest }
                        return .object(fields)
                    })
            ),
            ("tenant_days", .object([("first", .string(tenantDays.first)), ("last", .string(tenantDays.last))])),
            ("tenants", .array(tenants.sorted { ($0.usage.costUSD, $1.tenant) > ($1.usage.costUSD, $0.tenant) }.map(tenant))),
            ("tenant_sketch_error_bound_calls", .int(sketchErrorBound)),
            ("top_by_spend", .array(topBySpend.map { .string($0.tenant) })),
            ("top_by_tokens_per_call", .array(topByTokensPerCall.map { .string($0.tenant) })),
            (
                "quality",
                .array(
                    quality.map { q in
                        .object([
                            ("metric", .string(q.metric)), ("route", .string(q.route)), ("model", .string(q.model)), ("n", .int(q.n)),
                            ("pass_rate", ratio(q.passRate)), ("ci_low", ratio(q.ciLow)), ("ci_high", ratio(q.ciHigh)),
                        ])
                    })
            ),
            (
                "alerts",
                .array(
                    alerts.map { a in
                        .object([
                            ("id", .string(a.publicID)), ("alertname", .string(a.name)), ("severity", .string(a.severity)), ("state", .string(a.state)),
                            ("labels", .object(a.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                            ("started_at", .string(RFC3339.format(a.startedAt, fractional: false))),
                            ("resolved_at", a.resolvedAt.map { .string(RFC3339.format($0, fractional: false)) } ?? .null),
                        ])
                    })
            ),
        ])
    }

    // MARK: text and markdown

    public func rendered(_ format: Format) -> String {
        switch format {
        case .json: return json.serialized(pretty: true)
        case .text: return document(markdown: false)
        case .markdown: return document(markdown: true)
        }
    }

    static func money(_ value: Double) -> String {
        value >= 100 ? String(format: "$%.0f", value) : value >= 1 ? String(format: "$%.2f", value) : String(format: "$%.4f", value)
    }

    static func percent(_ value: Double?) -> String { value.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }

    static func count(_ value: Int64) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0, character != "-" { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }

    static func milliseconds(_ value: Double?) -> String { value.map { String(format: "%.0f", $0) } ?? "-" }

    static func changeText(_ now: Double, _ before: Double) -> String {
        guard before > 0 else { return "new" }
        return String(format: "%+.1f%%", (now - before) / before * 100)
    }

    private func document(markdown: Bool) -> String {
        let period = "\(RFC3339.format(since, fractional: false)) .. \(RFC3339.format(until, fractional: false))"
        var out: [String] = []
        func heading(_ text: String) { out.append(markdown ? "\n## \(text)\n" : "\n\(text.uppercased())") }
        out.append(markdown ? "# Usage report, \(period)" : "usage report, \(period)")
        if totals.calls == 0 {
            out.append("")
            out.append("no calls in this period (try a longer --since, or an RFC 3339 --since and --until for an older spool)")
        }
        heading("Totals")
        let t = totals, p = previousTotals
        let totalsTable: [[String]] = [
            ["", "THIS PERIOD", "PREVIOUS", "CHANGE"],
            ["calls", Self.count(t.calls), Self.count(p.calls), Self.changeText(Double(t.calls), Double(p.calls))],
            [
                "errors", "\(Self.count(t.errors)) (\(Self.percent(Self.errorRate(t))))", "\(Self.count(p.errors)) (\(Self.percent(Self.errorRate(p))))",
                Self.errorRate(t).flatMap { now in Self.errorRate(p).map { String(format: "%+.1f pts", (now - $0) * 100) } } ?? "",
            ],
            ["input tokens", Self.count(t.inputTokens), Self.count(p.inputTokens), Self.changeText(Double(t.inputTokens), Double(p.inputTokens))],
            ["output tokens", Self.count(t.outputTokens), Self.count(p.outputTokens), Self.changeText(Double(t.outputTokens), Double(p.outputTokens))],
            ["cost", Self.money(t.costUSD), Self.money(p.costUSD), Self.changeText(t.costUSD, p.costUSD)],
            ["calls with unknown cost", Self.count(t.unknownCostCalls), Self.count(p.unknownCostCalls), ""],
            [
                "latency p50/p95/p99 ms", [0.5, 0.95, 0.99].map { Self.milliseconds(t.latency.quantile($0)) }.joined(separator: "/"),
                [0.5, 0.95, 0.99].map { Self.milliseconds(p.latency.quantile($0)) }.joined(separator: "/"), "",
            ],
        ]
        out.append(Self.table(totalsTable, markdown: markdown))
        if t.unknownCostCalls > 0 {
            out.append(
                "\n\(Self.count(t.unknownCostCalls)) calls carried no cost_usd and matched no `pricing:` rule: their cost is not in the totals.")
        }

        heading("By route and model")
        var routeTable: [[String]] = [
            ["ROUTE", "MODEL", "CALLS", "ERRORS", "ERROR CLASSES", "TOKENS IN", "TOKENS OUT", "TOK/CALL", "COST", "P50", "P95", "P99"]
        ]
        for r in routes {
            let u = r.usage
            routeTable.append([
                r.route.isEmpty ? "-" : r.route, r.model, Self.count(u.calls), "\(Self.count(u.errors)) (\(Self.percent(Self.errorRate(u))))",
                u.errorClasses.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3).map { "\($0.key) \($0.value)" }.joined(separator: ", "),
                Self.count(u.inputTokens), Self.count(u.outputTokens), Self.tokensPerCall(u).map { String(format: "%.0f", $0) } ?? "-",
                Self.money(u.costUSD), Self.milliseconds(u.latency.quantile(0.5)), Self.milliseconds(u.latency.quantile(0.95)),
                Self.milliseconds(u.latency.quantile(0.99)),
            ])
        }
        out.append(routes.isEmpty ? "none" : Self.table(routeTable, markdown: markdown))

        heading("Tenants (days \(tenantDays.first) .. \(tenantDays.last))")
        if tenants.isEmpty {
            out.append("no calls with a tenant")
        } else {
            func tenantRows(_ list: [TenantTotal]) -> [[String]] {
                [["TENANT", "CALLS", "TOKENS/CALL", "COST", "COUNTED"]]
                    + list.map { t in
                        [
                            t.tenant, Self.count(t.usage.calls), String(format: "%.0f", Self.tokensPerCall(t.usage)), Self.money(t.usage.costUSD),
                            t.exact || t.error.calls == 0 ? "exact" : "up to \(Self.count(t.error.calls)) calls over",
                        ]
                    }
            }
            out.append(markdown ? "\nTop \(top) by spend:\n" : "top \(top) by spend:")
            out.append(Self.table(tenantRows(topBySpend), markdown: markdown))
            out.append(markdown ? "\nTop \(top) by tokens per call:\n" : "\ntop \(top) by tokens per call:")
            out.append(Self.table(tenantRows(topByTokensPerCall), markdown: markdown))
            if sketchErrorBound > 0 {
                out.append(
                    "\nTenants not named in a budget are counted by a heavy-hitter sketch (top \(TenantSketch.defaultCapacity) a day): "
                        + "a sketched tenant's calls may be overstated by at most \(Self.count(sketchErrorBound)).")
            }
        }

        heading("Quality (the sample)")
        if quality.isEmpty {
            out.append("no evaluations in this period")
        } else {
            var qualityTable: [[String]] = [["METRIC", "ROUTE", "MODEL", "N", "PASS", "95% CI"]]
            for q in quality.sorted(by: { ($0.route, $0.model, $0.metric) < ($1.route, $1.model, $1.metric) }) {
                qualityTable.append([
                    q.metric, q.route.isEmpty ? "-" : q.route, q.model, Self.count(q.n), Self.percent(q.passRate),
                    q.ciLow.map { "\(Self.percent($0))-\(Self.percent(q.ciHigh))" } ?? "",
                ])
            }
            out.append(Self.table(qualityTable, markdown: markdown))
        }

        heading("Alerts")
        if alerts.isEmpty {
            out.append("none fired or resolved in this period")
        } else {
            var alertTable: [[String]] = [["ID", "ALERT", "SEVERITY", "STATE", "LABELS", "STARTED", "RESOLVED"]]
            for a in alerts {
                let labels = ["route", "model", "metric", "tenant", "budget"].compactMap { key in a.labels[key].map { "\(key)=\($0)" } }.joined(separator: " ")
                alertTable.append([
                    a.publicID, a.name, a.severity, a.state, labels, RFC3339.format(a.startedAt, fractional: false),
                    a.resolvedAt.map { RFC3339.format($0, fractional: false) } ?? "",
                ])
            }
            out.append(Self.table(alertTable, markdown: markdown))
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// A plain aligned table, or a GitHub markdown table.
    static func table(_ rows: [[String]], markdown: Bool) -> String {
        if markdown {
            let escaped = rows.map { $0.map { $0.replacingOccurrences(of: "|", with: "\\|") } }
            let header = "| " + escaped[0].joined(separator: " | ") + " |"
            let rule = "|" + escaped[0].map { _ in " --- " }.joined(separator: "|") + "|"
            return ([header, rule] + escaped.dropFirst().map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            String(
                cells.enumerated().map { index, cell in cell + String(repeating: " ", count: widths[index] - cell.count) }.joined(separator: "  ")
                    .reversed().drop { $0 == " " }.reversed())
        }.joined(separator: "\n")
    }
}
