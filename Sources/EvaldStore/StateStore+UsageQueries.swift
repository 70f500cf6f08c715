import EvaldCore
import Foundation
import GRDB

/// One (route, model)'s usage over a period.
public struct RouteUsage: Sendable {
    public var route: String
    public var model: String
    public var usage: UsageCell
}

/// One tenant's usage over whole days.
public struct TenantTotal: Sendable, Equatable {
    public var tenant: String
    public var usage: TenantUsage
    /// How much the numbers may overstate (zero for exact tenants).
    public var error: TenantUsage
    /// Named in a budget: counted exactly on every day of the period.
    public var exact: Bool
}

extension StateStore {
    /// Usage per (route, model) over the trace-time minutes that start in [since, until).
    public func routeUsage(since: Date, until: Date) throws -> [RouteUsage] {
        let first = Int64((since.timeIntervalSince1970 / 60).rounded(.up))
        let end = Int64((until.timeIntervalSince1970 / 60).rounded(.up))
        return try read { db in
            var byKey: [UsageMinuteKey: UsageCell] = [:]
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT route, model, calls, errors, error_classes, input_tokens, output_tokens, cost_usd, unknown_cost_calls, latency_hist
                    FROM usage_minute WHERE minute >= ? AND minute < ?
                    """, arguments: [first, end])
            while let row = try rows.next() {
                let key = UsageMinuteKey(minute: 0, route: row["route"], model: row["model"])
                byKey[key, default: UsageCell()].merge(Self.usageCell(row))
            }
            return byKey.map { RouteUsage(route: $0.key.route, model: $0.key.model, usage: $0.value) }
                .sorted { ($0.usage.costUSD, $1.route, $1.model) > ($1.usage.costUSD, $0.route, $0.model) }
        }
    }

    static func usageCell(_ row: Row) -> UsageCell {
        var cell = UsageCell()
        cell.calls = row["calls"]
        cell.errors = row["errors"]
        cell.errorClasses = errorClassCounts(row["error_classes"])
        cell.inputTokens = row["input_tokens"]
        cell.outputTokens = row["output_tokens"]
        cell.costUSD = row["cost_usd"]
        cell.unknownCostCalls = row["unknown_cost_calls"]
        if let blob: Data = row["latency_hist"], let histogram = LogHistogram(serialized: blob) { cell.latency = histogram }
        return cell
    }

    /// Per-tenant usage over the days `firstDay...lastDay` (`YYYY-MM-DD`, budgets_timezone).
    public func tenantUsage(firstDay: String, lastDay: String) throws -> [TenantTotal] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT tenant, MIN(exact) AS exact, COUNT(*) AS days,
                        SUM(calls) AS calls, SUM(errors) AS errors, SUM(input_tokens) AS input_tokens,
                        SUM(output_tokens) AS output_tokens, SUM(cost_usd) AS cost_usd, SUM(unknown_cost_calls) AS unknown_cost_calls,
                        SUM(err_calls) AS err_calls, SUM(err_errors) AS err_errors, SUM(err_input_tokens) AS err_input_tokens,
                        SUM(err_output_tokens) AS err_output_tokens, SUM(err_cost_usd) AS err_cost_usd,
                        SUM(err_unknown_cost_calls) AS err_unknown_cost_calls
                    FROM usage_tenant_day WHERE day >= ? AND day <= ? GROUP BY tenant
                    """, arguments: [firstDay, lastDay]
            ).map { row in
                TenantTotal(
                    tenant: row["tenant"], usage: Self.tenantUsage(row), error: Self.tenantUsage(row, prefix: "err_"), exact: (row["exact"] as Int64) == 1)
            }
        }
    }

    /// The largest error bound among the days' sketches: the smallest kept count of a full day.
    public func tenantSketchErrorBound(firstDay: String, lastDay: String) throws -> Int64 {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT day, COUNT(*) AS kept, MIN(calls) AS smallest FROM usage_tenant_day
                    WHERE day >= ? AND day <= ? AND exact = 0 GROUP BY day
                    """, arguments: [firstDay, lastDay])
            return rows.reduce(Int64(0)) { bound, row in
                (row["kept"] as Int64) < Int64(TenantSketch.defaultCapacity) ? bound : bound + (row["smallest"] as Int64)
            }
        }
    }
}

/// A budget account as stored, for the budget alerts and `evald status`.
public struct StoredBudgetAccount: Sendable, Equatable {
    public var key: BudgetAccountKey
    public var account: BudgetAccount
}

extension StateStore {
    /// The accounts of these periods (the current day and month).
    public func budgetAccounts(periods: [String]) throws -> [StoredBudgetAccount] {
        guard !periods.isEmpty else { return [] }
        return try read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM budget_account WHERE period IN (\(periods.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(periods)
            ).map { row in
                StoredBudgetAccount(key: BudgetAccountKey(budget: row["budget"], scope: row["scope"], period: row["period"]), account: Self.budgetAccount(row))
            }
        }
    }

    /// The newest trace time counted in usage (the budgets' "now"), nil before any call: the end
    /// of the newest minute at or before `notAfter` (a call dated years ahead, milliseconds
    /// written as seconds, must not make its far period the current one).
    public func newestUsageTime(notAfter: Date) throws -> Date? {
        try read { db in
            try Int64.fetchOne(
                db, sql: "SELECT MAX(minute) FROM usage_minute WHERE minute <= ?", arguments: [Int64((notAfter.timeIntervalSince1970 / 60).rounded(.down))]
            ).map { Date(timeIntervalSince1970: Double($0) * 60 + 59) }
        }
    }

    /// Spend per (route, model) in [since, until) among routes matching `glob`, largest first.
    public func topRouteSpenders(glob: Glob, since: Date, until: Date, tokens: Bool, limit: Int) throws -> [(name: String, spend: Double)] {
        try routeUsage(since: since, until: until).filter { glob.matches($0.route) }
            .map { (name: "\($0.route)/\($0.model)", spend: tokens ? Double($0.usage.tokens) : $0.usage.costUSD) }
            .sorted { $0.spend > $1.spend }.prefix(limit).map { $0 }
    }

    /// Spend per tenant over the days, largest first.
    public func topTenantSpenders(firstDay: String, lastDay: String, tokens: Bool, limit: Int) throws -> [(name: String, spend: Double)] {
        try tenantUsage(firstDay: firstDay, lastDay: lastDay).map { (name: $0.tenant, spend: tokens ? Double($0.usage.tokens) : $0.usage.costUSD) }
            .sorted { $0.spend > $1.spend }.prefix(limit).map { $0 }
    }
}
