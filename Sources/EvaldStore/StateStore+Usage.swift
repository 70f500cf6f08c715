import EvaldCore
import Foundation
import GRDB
import Synchronization

/// Usage from every call (SPEC 7b): per-minute rows per (route, model) and per-day rows per
/// tenant, written in the ingest batch's transaction.
extension StateStore {
    static let usageSchema = """
        -- One row per trace-time minute and (route, model): every call, sampled or not.
        CREATE TABLE usage_minute (
            minute INTEGER NOT NULL,            -- Unix minute of trace time
            route TEXT NOT NULL,                -- '' for calls without a route
            model TEXT NOT NULL,
            calls INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            error_classes TEXT,                 -- JSON {class: calls}, NULL without errors
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,             -- of the calls whose cost is known or priced
            unknown_cost_calls INTEGER NOT NULL,
            latency_hist BLOB,                  -- LogHistogram of latency_ms
            PRIMARY KEY (minute, route, model)
        ) WITHOUT ROWID;
        -- One row per day (budgets_timezone) and tenant. Tenants named in a budget are exact;
        -- the others are the day's Space-Saving sketch of at most 1,000 tenants, whose err_*
        -- columns are what a row inherited when it took its place (the truth lies in
        -- [value - err, value]).
        CREATE TABLE usage_tenant_day (
            day TEXT NOT NULL,
            tenant TEXT NOT NULL,
            exact INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            unknown_cost_calls INTEGER NOT NULL,
            err_calls INTEGER NOT NULL DEFAULT 0,
            err_errors INTEGER NOT NULL DEFAULT 0,
            err_input_tokens INTEGER NOT NULL DEFAULT 0,
            err_output_tokens INTEGER NOT NULL DEFAULT 0,
            err_cost_usd REAL NOT NULL DEFAULT 0,
            err_unknown_cost_calls INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, tenant)
        ) WITHOUT ROWID;
        -- Calls that failed outside the sample, kept for `evald traces` (the sampled ones are
        -- evaluations). The record is its JSON, raw-deflated without a dictionary.
        CREATE TABLE failed_call (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trace_id TEXT NOT NULL,
            record_id TEXT NOT NULL,
            file_id INTEGER NOT NULL,
            line_offset INTEGER NOT NULL,
            index_in_line INTEGER NOT NULL,
            ts REAL NOT NULL,
            route TEXT,
            model TEXT NOT NULL,
            tenant TEXT,
            prompt_version TEXT,
            error_class TEXT NOT NULL,
            error TEXT,
            latency_ms REAL,
            record BLOB NOT NULL,
            UNIQUE (file_id, line_offset, index_in_line)
        );
        CREATE INDEX failed_call_by_ts ON failed_call(ts);
        -- Budget accounts (SPEC 7b), advanced call by call at ingest: the spend, the last hour's
        -- pace (a decaying sum), and the call at which each threshold was crossed.
        CREATE TABLE budget_account (
            budget TEXT NOT NULL,               -- route=GLOB|daily_usd, tenant=NAME|monthly_tokens, ...
            scope TEXT NOT NULL,                -- the tenant of a tenant "*" budget, else ''
            period TEXT NOT NULL,               -- YYYY-MM-DD or YYYY-MM (budgets_timezone)
            spend REAL NOT NULL,
            last_hour REAL NOT NULL,
            last_at REAL NOT NULL,
            warned_at REAL, warned_record TEXT, warned_spend REAL,
            exceeded_at REAL, exceeded_record TEXT, exceeded_spend REAL,
            runaway_at REAL, runaway_record TEXT, runaway_spend REAL,
            PRIMARY KEY (budget, scope, period)
        ) WITHOUT ROWID;
        """

    /// Migration v14-usage-feed: each batch's usage cells in commit order, for detection's `op:`
    /// series fed from every call; detection deletes what it has consumed in the transaction
    /// that moves its cursor, so the journal holds only what detection has not read yet.
    static let usageFeedSchema = """
        CREATE TABLE usage_feed (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            minute INTEGER NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            calls INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            latency_hist BLOB,
            cost_hist BLOB
        );
        """

    /// Usage cells committed after `after`, in commit order.
    public func detectionUsage(after: Int64, limit: Int) throws -> [(id: Int64, cell: UsageFeedCell)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM usage_feed WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit]).map { row in
                let latency = (row["latency_hist"] as Data?).flatMap(LogHistogram.init(serialized:)) ?? LogHistogram()
                let costs = (row["cost_hist"] as Data?).flatMap(LogHistogram.init(serialized:)) ?? LogHistogram()
                return (
                    row["id"],
                    UsageFeedCell(
                        minute: row["minute"], route: row["route"], model: row["model"], calls: row["calls"], errors: row["errors"],
                        latencyMs: latency, costNanoUSD: costs)
                )
            }
        }
    }

    /// Usage cells detection has not consumed yet.
    public func usageFeedBacklog(after: Int64) throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM usage_feed WHERE id > ?", arguments: [after]) ?? 0 }
    }

    /// What the usage journal holds past detection's cursor: rows and the calls in them, which
    /// the `op:` detectors have not been fed yet (`evald status`).
    public func usageFeedBacklog() throws -> (rows: Int, calls: Int64) {
        try read { db in
            let cursor =
                try String.fetchOne(db, sql: "SELECT state_json FROM detection_state WHERE kind = 'cursor' AND key = 'usage_feed'")
                .flatMap { Int64($0) } ?? 0
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(calls), 0) FROM usage_feed WHERE id > ?", arguments: [cursor])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
    }

    /// Stores the batch's failed calls from outside the sample; a line already stored (read
    /// again after a lost offset) is passed over.
    static func addFailedCalls(_ db: Database, _ calls: [FailedCall], fileID: Int64) throws {
        guard !calls.isEmpty else { return }
        let insert = try SQLiteInsert(
            db,
            sql: """
                INSERT OR IGNORE INTO failed_call (trace_id, record_id, file_id, line_offset, index_in_line, ts, route, model, tenant,
                    prompt_version, error_class, error, latency_ms, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for call in calls {
            let r = call.record
            try insert.run(
                r.traceID, r.recordID, fileID, call.lineOffset, call.indexInLine, r.timestamp.timeIntervalSince1970, r.route, r.model, r.tenant,
                r.promptVersion, CallUsage.errorClass(of: r.error), r.error, r.latencyMs, call.compressedRecord)
        }
    }

    /// SQL function adding two `{name: count}` JSON objects (either may be NULL).
    static let countsMerge = DatabaseFunction("evald_counts_merge", argumentCount: 2, pure: true) { values in
        let texts = values.compactMap { String.fromDatabaseValue($0) }
        guard texts.count == 2 else { return texts.first }
        var merged = errorClassCounts(texts[0])
        for (name, count) in errorClassCounts(texts[1]) { merged[name, default: 0] += count }
        return errorClassJSON(merged)
    }

    static func errorClassCounts(_ json: String?) -> [String: Int64] {
        guard let json, case .object(let members)? = try? JSONParser.parse(json) else { return [:] }
        var counts: [String: Int64] = [:]
        for (name, value) in members { counts[name, default: 0] += Int64(value.numberValue ?? 0) }
        return counts
    }

    static func errorClassJSON(_ counts: [String: Int64]) -> String? {
        guard !counts.isEmpty else { return nil }
        return JSONValue.object(counts.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.int($0.value)) }).serialized()
    }

    /// Adds a batch's usage inside its transaction; returns the sketches it changed, which the
    /// caller keeps once the transaction has committed.
    static func addUsage(_ db: Database, _ usage: UsageBatch, sketches: TenantSketchCache) throws -> [String: TenantSketch] {
        guard !usage.isEmpty else { return [:] }
        let upsertMinute = try SQLiteInsert(
            db,
            sql: """
                INSERT INTO usage_minute (minute, route, model, calls, errors, error_classes, input_tokens, output_tokens,
                    cost_usd, unknown_cost_calls, latency_hist) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(minute, route, model) DO UPDATE SET
                    calls = calls + excluded.calls, errors = errors + excluded.errors,
                    error_classes = evald_counts_merge(error_classes, excluded.error_classes),
                    input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
                    cost_usd = cost_usd + excluded.cost_usd, unknown_cost_calls = unknown_cost_calls + excluded.unknown_cost_calls,
                    latency_hist = evald_histogram_merge(latency_hist, excluded.latency_hist)
                """)
        let feed = try SQLiteInsert(
            db, sql: "INSERT INTO usage_feed (minute, route, model, calls, errors, latency_hist, cost_hist) VALUES (?, ?, ?, ?, ?, ?, ?)")
        // In trace-time order, so detection sees a batch's minutes as they happened.
        for (key, cell) in usage.cells.sorted(by: { ($0.key.minute, $0.key.route, $0.key.model) < ($1.key.minute, $1.key.route, $1.key.model) }) {
            let latency = cell.latency.total > 0 ? cell.latency.serialized : nil
            try upsertMinute.run(
                key.minute, key.route, key.model, cell.calls, cell.errors, errorClassJSON(cell.errorClasses), cell.inputTokens,
                cell.outputTokens, cell.costUSD, cell.unknownCostCalls, latency)
            try feed.run(key.minute, key.route, key.model, cell.calls, cell.errors, latency, cell.costs.total > 0 ? cell.costs.serialized : nil)
        }

        let upsertExact = try db.cachedStatement(
            sql: """
                INSERT INTO usage_tenant_day (day, tenant, exact, calls, errors, input_tokens, output_tokens, cost_usd, unknown_cost_calls)
                VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(day, tenant) DO UPDATE SET
                    calls = calls + excluded.calls, errors = errors + excluded.errors,
                    input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
                    cost_usd = cost_usd + excluded.cost_usd, unknown_cost_calls = unknown_cost_calls + excluded.unknown_cost_calls
                """)
        var sketched: [String: [(String, TenantUsage)]] = [:]
        // Sorted, so that the sketch's evictions do not depend on dictionary order.
        for (key, tenantUsage) in usage.tenantDays.sorted(by: { ($0.key.day, $0.key.tenant) < ($1.key.day, $1.key.tenant) }) {
            if usage.exactTenants.contains(key.tenant) {
                let u = tenantUsage
                try upsertExact.execute(arguments: [key.day, key.tenant, u.calls, u.errors, u.inputTokens, u.outputTokens, u.costUSD, u.unknownCostCalls])
            } else {
                sketched[key.day, default: []].append((key.tenant, tenantUsage))
            }
        }
        var changed: [String: TenantSketch] = [:]
        let write = try SQLiteInsert(
            db,
            sql: """
                INSERT OR REPLACE INTO usage_tenant_day (day, tenant, exact, calls, errors, input_tokens, output_tokens, cost_usd,
                    unknown_cost_calls, err_calls, err_errors, err_input_tokens, err_output_tokens, err_cost_usd, err_unknown_cost_calls)
                VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let delete = try db.cachedStatement(sql: "DELETE FROM usage_tenant_day WHERE day = ? AND tenant = ? AND exact = 0")
        for (day, tenants) in sketched {
            var sketch = try sketches.committed(day: day) ?? loadSketch(db, day: day)
            for (tenant, tenantUsage) in tenants {
                let change = sketch.add(tenant, tenantUsage)
                if let evicted = change.evicted { try delete.execute(arguments: [day, evicted]) }
                let entry = sketch.entries[tenant]!
                let u = entry.usage, e = entry.error
                try write.run(
                    day, tenant, u.calls, u.errors, u.inputTokens, u.outputTokens, u.costUSD, u.unknownCostCalls,
                    e.calls, e.errors, e.inputTokens, e.outputTokens, e.costUSD, e.unknownCostCalls)
            }
            changed[day] = sketch
        }
        return changed
    }

    /// Advances the budget accounts by the batch's calls, in the order they were read.
    static func addBudgetCalls(_ db: Database, _ usage: UsageBatch, timeZone: TimeZone) throws {
        guard !usage.budgetCalls.isEmpty else { return }
        var ledger = BudgetLedger(rules: usage.budgets, timeZone: timeZone)
        var accounts: [BudgetAccountKey: BudgetAccount] = [:]
        for call in usage.budgetCalls {
            for (key, rule, amount) in ledger.entries(for: call) {
                var account = try accounts[key] ?? loadAccount(db, key) ?? BudgetAccount()
                ledger.add(amount, of: call, to: &account, rule: rule)
                accounts[key] = account
            }
        }
        let save = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO budget_account (budget, scope, period, spend, last_hour, last_at, warned_at, warned_record, warned_spend,
                    exceeded_at, exceeded_record, exceeded_spend, runaway_at, runaway_record, runaway_spend)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for (key, a) in accounts {
            try save.execute(arguments: [
                key.budget, key.scope, key.period, a.spend, a.lastHour, a.lastAt, a.warned?.at, a.warned?.recordID, a.warned?.spend,
                a.exceeded?.at, a.exceeded?.recordID, a.exceeded?.spend, a.runaway?.at, a.runaway?.recordID, a.runaway?.spend,
            ])
        }
    }

    static func loadAccount(_ db: Database, _ key: BudgetAccountKey) throws -> BudgetAccount? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM budget_account WHERE budget = ? AND scope = ? AND period = ?", arguments: [key.budget, key.scope, key.period]
        ).map(budgetAccount)
    }

    static func budgetAccount(_ row: Row) -> BudgetAccount {
        func crossing(_ prefix: String) -> BudgetAccount.Crossing? {
            guard let at: Double = row[prefix + "_at"] else { return nil }
            return .init(at: at, recordID: row[prefix + "_record"], spend: row[prefix + "_spend"])
        }
        var account = BudgetAccount()
        account.spend = row["spend"]
        account.lastHour = row["last_hour"]
        account.lastAt = row["last_at"]
        account.warned = crossing("warned")
        account.exceeded = crossing("exceeded")
        account.runaway = crossing("runaway")
        return account
    }

    static func loadSketch(_ db: Database, day: String) throws -> TenantSketch {
        var entries: [String: TenantSketch.Entry] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM usage_tenant_day WHERE day = ? AND exact = 0", arguments: [day]) {
            entries[row["tenant"]] = TenantSketch.Entry(usage: tenantUsage(row), error: tenantUsage(row, prefix: "err_"))
        }
        return TenantSketch(entries: entries)
    }

    static func tenantUsage(_ row: Row, prefix: String = "") -> TenantUsage {
        TenantUsage(
            calls: row[prefix + "calls"], errors: row[prefix + "errors"], inputTokens: row[prefix + "input_tokens"],
            outputTokens: row[prefix + "output_tokens"], costUSD: row[prefix + "cost_usd"], unknownCostCalls: row[prefix + "unknown_cost_calls"])
    }
}

/// The committed sketches of the newest days, so that a batch does not read a day's 1,000 rows
/// back. Filled only after a transaction commits: a rolled-back batch leaves it as it was.
final class TenantSketchCache: Sendable {
    private let days = Mutex<[String: TenantSketch]>([:])
    /// Days kept: today and yesterday (late traces).
    private static let keptDays = 2

    func committed(day: String) throws -> TenantSketch? { days.withLock { $0[day] } }

    func keep(_ changed: [String: TenantSketch]) {
        guard !changed.isEmpty else { return }
        days.withLock { days in
            for (day, sketch) in changed { days[day] = sketch }
            for day in days.keys.sorted().dropLast(Self.keptDays) { days[day] = nil }
        }
    }

    func forget() { days.withLock { $0 = [:] } }
}
