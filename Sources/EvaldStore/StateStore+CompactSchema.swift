import EvaldCore
import Foundation
import GRDB

extension StateStore {
    /// The compact layout (migration v9-compact): repeated strings once, records deflated against a per-route
    /// dictionary, check details only for failures, rollups keyed by a series number, and only
    /// the indexes a query uses. `evaluation`, `check_result` and `judge_score` stay readable as
    /// views with their old columns (docs/storage.md).
    static let compactSchema = """
        -- Strings evaluations repeat (routes, models, tenants, versions, statuses, sample rates,
        -- judge identities, endpoints), stored once.
        CREATE TABLE text_value (
            id INTEGER PRIMARY KEY,
            value TEXT NOT NULL UNIQUE
        );

        -- Preset dictionaries of the compressed records: earlier records of one route. A
        -- dictionary grows in generations until it holds 32 KiB; each generation stores only
        -- what it adds (raw deflate against its parent's bytes), and is never changed.
        CREATE TABLE record_dictionary (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            route_id INTEGER,
            parent_id INTEGER REFERENCES record_dictionary(id),
            size INTEGER NOT NULL,
            added BLOB NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX record_dictionary_by_route ON record_dictionary(route_id, id);

        -- The checks (name, kind) and the sets of them that ran on an evaluation.
        CREATE TABLE check_def (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            UNIQUE (name, kind)
        );
        CREATE TABLE check_set (
            id INTEGER PRIMARY KEY,
            members TEXT NOT NULL UNIQUE
        );
        CREATE TABLE check_set_member (
            set_id INTEGER NOT NULL,
            check_id INTEGER NOT NULL,
            PRIMARY KEY (set_id, check_id)
        ) WITHOUT ROWID;

        -- A sampled record. trace_id is a 16-byte blob when it is 32 lowercase hex digits, else
        -- text; record_id is NULL when it equals the trace id and starts with ':' when it is
        -- the trace id followed by that suffix (OTLP spans). *_id columns point into
        -- text_value; record is the native JSON, raw deflate against dictionary_id (or none);
        -- record_form 1: the JSON's first "trace_id":"..." was stored as "trace_id":"" (the
        -- column holds it), 0: the JSON as it was.
        CREATE TABLE evaluation_data (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trace_id NOT NULL,
            record_id TEXT,
            file_id INTEGER NOT NULL,
            line_offset INTEGER NOT NULL,
            index_in_line INTEGER NOT NULL,
            ts REAL NOT NULL,
            ingested_at REAL NOT NULL,
            route_id INTEGER,
            tenant_id INTEGER,
            provider_id INTEGER,
            model_id INTEGER NOT NULL,
            response_model_id INTEGER,
            system_fingerprint_id INTEGER,
            prompt_version_id INTEGER,
            status_id INTEGER NOT NULL,
            error TEXT,
            finish_reason_id INTEGER,
            latency_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost_usd REAL,
            feedback REAL,
            has_content INTEGER NOT NULL,
            sample_rate_id INTEGER NOT NULL,
            check_set_id INTEGER,
            dictionary_id INTEGER,
            record_form INTEGER NOT NULL,
            record BLOB NOT NULL
        );
        CREATE INDEX evaluation_data_by_ts ON evaluation_data(ts);
        -- The first 8 bytes of a trace id find it (`evald explain TRACE_ID`) at half the size.
        CREATE INDEX evaluation_data_by_trace ON evaluation_data(substr(trace_id, 1, 8));

        -- Checks that failed, with their detail; a check of the evaluation's set without a row here passed.
        CREATE TABLE check_failure (
            evaluation_id INTEGER NOT NULL REFERENCES evaluation_data(id) ON DELETE CASCADE,
            check_id INTEGER NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (evaluation_id, check_id)
        ) WITHOUT ROWID;

        CREATE TABLE judge_verdict (
            evaluation_id INTEGER NOT NULL REFERENCES evaluation_data(id) ON DELETE CASCADE,
            judge_id INTEGER NOT NULL,
            judge_name_id INTEGER NOT NULL,
            score REAL,
            passed INTEGER,
            reason TEXT,
            error_kind TEXT,
            error TEXT,
            reply_excerpt TEXT,
            endpoint_id INTEGER NOT NULL,
            judge_model_id INTEGER,
            input_tokens INTEGER,
            output_tokens INTEGER,
            latency_ms REAL,
            attempts INTEGER NOT NULL,
            judged_at REAL NOT NULL,
            PRIMARY KEY (evaluation_id, judge_id)
        ) WITHOUT ROWID;
        CREATE INDEX judge_verdict_by_time ON judge_verdict(judged_at);

        CREATE TABLE judge_queue_v7 (
            evaluation_id INTEGER NOT NULL REFERENCES evaluation_data(id) ON DELETE CASCADE,
            judge_name TEXT NOT NULL,
            enqueued_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            PRIMARY KEY (evaluation_id, judge_name)
        ) WITHOUT ROWID;

        -- The last line (offset, index in line) of each spool file stored as an evaluation: a
        -- line at or before it is never stored twice, even if the file is read again (this
        -- replaces a unique index over every evaluation).
        ALTER TABLE spool_file ADD COLUMN stored_offset INTEGER NOT NULL DEFAULT -1;
        ALTER TABLE spool_file ADD COLUMN stored_index INTEGER NOT NULL DEFAULT -1;

        -- Rollups keyed by minute first (the windows and the pruning read by minute) and a
        -- series number; op series have metric ''.
        CREATE TABLE rollup_series (
            id INTEGER PRIMARY KEY,
            metric TEXT NOT NULL,
            route TEXT NOT NULL,
            model TEXT NOT NULL,
            UNIQUE (metric, route, model)
        );
        CREATE TABLE rollup_cell (
            minute INTEGER NOT NULL,
            series_id INTEGER NOT NULL,
            n INTEGER NOT NULL,
            pass_n INTEGER NOT NULL,
            sum REAL NOT NULL,
            sum_sq REAL NOT NULL,
            hist BLOB,
            PRIMARY KEY (minute, series_id)
        ) WITHOUT ROWID;
        CREATE TABLE rollup_op_cell (
            minute INTEGER NOT NULL,
            series_id INTEGER NOT NULL,
            calls INTEGER NOT NULL,
            ok_calls INTEGER NOT NULL,
            latency_n INTEGER NOT NULL,
            latency_sum REAL NOT NULL,
            latency_sq REAL NOT NULL,
            latency_hist BLOB,
            cost_n INTEGER NOT NULL,
            cost_sum REAL NOT NULL,
            cost_sq REAL NOT NULL,
            tokens_n INTEGER NOT NULL,
            tokens_sum REAL NOT NULL,
            tokens_sq REAL NOT NULL,
            PRIMARY KEY (minute, series_id)
        ) WITHOUT ROWID;
        """

    /// The old tables' names as views over the compact ones. Interned strings are scalar
    /// subqueries, not joins, so a view stays one table to SQLite and can be flattened into a
    /// query, also on the right of a LEFT JOIN, and its indexes used.
    static let compactViews = """
        CREATE VIEW evaluation AS SELECT
            e.id,
            CASE WHEN typeof(e.trace_id) = 'blob' THEN lower(hex(e.trace_id)) ELSE e.trace_id END AS trace_id,
            CASE WHEN e.record_id IS NULL THEN (CASE WHEN typeof(e.trace_id) = 'blob' THEN lower(hex(e.trace_id)) ELSE e.trace_id END)
                 WHEN substr(e.record_id, 1, 1) = ':' THEN (CASE WHEN typeof(e.trace_id) = 'blob' THEN lower(hex(e.trace_id)) ELSE e.trace_id END) || e.record_id
                 ELSE e.record_id END AS record_id,
            e.file_id, e.line_offset, e.index_in_line,
            e.ts, strftime('%Y-%m-%dT%H:%M:%fZ', e.ts, 'unixepoch') AS timestamp, e.ingested_at,
            (SELECT value FROM text_value WHERE id = e.route_id) AS route,
            (SELECT value FROM text_value WHERE id = e.tenant_id) AS tenant,
            (SELECT value FROM text_value WHERE id = e.provider_id) AS provider,
            (SELECT value FROM text_value WHERE id = e.model_id) AS model,
            (SELECT value FROM text_value WHERE id = e.response_model_id) AS response_model,
            (SELECT value FROM text_value WHERE id = e.system_fingerprint_id) AS system_fingerprint,
            (SELECT value FROM text_value WHERE id = e.prompt_version_id) AS prompt_version,
            (SELECT value FROM text_value WHERE id = e.status_id) AS status,
            e.error,
            (SELECT value FROM text_value WHERE id = e.finish_reason_id) AS finish_reason,
            e.latency_ms, e.input_tokens, e.output_tokens, e.cost_usd, e.feedback, e.has_content,
            (SELECT CAST(value AS REAL) FROM text_value WHERE id = e.sample_rate_id) AS sample_rate,
            e.dictionary_id, e.record_form, e.record
        FROM evaluation_data e;

        CREATE VIEW check_result AS SELECT
            e.id AS evaluation_id, c.name, c.kind, f.check_id IS NULL AS passed, COALESCE(f.detail, '') AS detail
        FROM evaluation_data e
        JOIN check_set_member m ON m.set_id = e.check_set_id
        JOIN check_def c ON c.id = m.check_id
        LEFT JOIN check_failure f ON f.evaluation_id = e.id AND f.check_id = m.check_id;

        CREATE VIEW judge_score AS SELECT
            v.evaluation_id,
            (SELECT value FROM text_value WHERE id = v.judge_id) AS judge,
            (SELECT value FROM text_value WHERE id = v.judge_name_id) AS judge_name,
            v.score, v.passed, v.reason, v.error_kind, v.error, v.reply_excerpt,
            (SELECT value FROM text_value WHERE id = v.endpoint_id) AS endpoint,
            (SELECT value FROM text_value WHERE id = v.judge_model_id) AS judge_model,
            v.input_tokens, v.output_tokens, v.latency_ms, v.attempts, v.judged_at
        FROM judge_verdict v;

        CREATE VIEW rollup_minute AS SELECT s.metric, s.route, s.model, c.minute, c.n, c.pass_n, c.sum, c.sum_sq, c.hist
        FROM rollup_cell c JOIN rollup_series s ON s.id = c.series_id;
        """
}

extension StateStore {
    /// Copies a v6 database into the compact tables, old records included, then drops the old
    /// tables (their names come back as views).
    static func migrateToCompact(_ db: Database) throws {
        var writer = CompactWriter(db)
        // Evaluations in id order, a thousand at a time, with their check results; ids are kept
        // (alerts, the judge feed and detection's cursors refer to them).
        var after: Int64 = 0
        while true {
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM evaluation WHERE id > ? ORDER BY id LIMIT 1000", arguments: [after])
            guard let last = rows.last else { break }
            after = last["id"]
            var checks: [Int64: [CheckResult]] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT evaluation_id, name, kind, passed, detail FROM check_result WHERE evaluation_id BETWEEN ? AND ? ORDER BY evaluation_id, name",
                arguments: [rows[0]["id"] as Int64, after])
            {
                checks[row["evaluation_id"], default: []].append(
                    CheckResult(name: row["name"], kind: row["kind"], passed: row["passed"], detail: row["detail"]))
            }
            let copies = rows.map { row -> CompactWriter.Row in
                var record = TraceRecord(
                    recordID: row["record_id"], traceID: row["trace_id"], timestamp: Date(timeIntervalSince1970: row["ts"]), model: row["model"])
                record.route = row["route"]
                record.tenant = row["tenant"]
                record.provider = row["provider"]
                record.responseModel = row["response_model"]
                record.systemFingerprint = row["system_fingerprint"]
                record.promptVersion = row["prompt_version"]
                record.status = TraceRecord.Status(rawValue: row["status"]) ?? .ok
                record.error = row["error"]
                record.finishReason = row["finish_reason"]
                record.latencyMs = row["latency_ms"]
                record.inputTokens = row["input_tokens"]
                record.outputTokens = row["output_tokens"]
                record.costUSD = row["cost_usd"]
                record.feedback = row["feedback"]
                let id: Int64 = row["id"]
                return CompactWriter.Row(
                    record: record, sampleRate: row["sample_rate"], fileID: row["file_id"], lineOffset: row["line_offset"],
                    indexInLine: row["index_in_line"], ingestedAt: row["ingested_at"], json: Array((row["record_json"] as String).utf8),
                    checks: checks[id] ?? [], hasContent: row["has_content"], id: id)
            }
            _ = try writer.insert(copies)
        }
        try db.execute(
            sql: """
                UPDATE spool_file SET (stored_offset, stored_index) = (
                    SELECT line_offset, index_in_line FROM evaluation WHERE file_id = spool_file.id
                    ORDER BY line_offset DESC, index_in_line DESC LIMIT 1)
                WHERE EXISTS (SELECT 1 FROM evaluation WHERE file_id = spool_file.id);

                DELETE FROM sqlite_sequence WHERE name = 'evaluation_data';
                INSERT INTO sqlite_sequence (name, seq) SELECT 'evaluation_data', MAX(
                    COALESCE((SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'evaluation'), 0),
                    COALESCE((SELECT MAX(id) FROM evaluation_data), 0));

                INSERT INTO judge_queue_v7 SELECT * FROM judge_queue;
                """)
        for row in try Row.fetchAll(db, sql: "SELECT * FROM judge_score") {
            try db.execute(
                sql: """
                    INSERT INTO judge_verdict (evaluation_id, judge_id, judge_name_id, score, passed, reason, error_kind, error, reply_excerpt,
                        endpoint_id, judge_model_id, input_tokens, output_tokens, latency_ms, attempts, judged_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    row["evaluation_id"], try writer.textID(row["judge"] as String) as Int64, try writer.textID(row["judge_name"] as String) as Int64,
                    row["score"], row["passed"], row["reason"], row["error_kind"], row["error"], row["reply_excerpt"],
                    try writer.textID(row["endpoint"] as String) as Int64, try writer.textID(row["judge_model"] as String?),
                    row["input_tokens"], row["output_tokens"], row["latency_ms"], row["attempts"], row["judged_at"],
                ])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM rollup_minute") {
            let series = try writer.seriesID(metric: row["metric"], route: row["route"], model: row["model"])
            try db.execute(
                sql: "INSERT INTO rollup_cell (minute, series_id, n, pass_n, sum, sum_sq, hist) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [row["minute"], series, row["n"], row["pass_n"], row["sum"], row["sum_sq"], row["hist"]])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM rollup_op_minute") {
            let series = try writer.seriesID(metric: "", route: row["route"], model: row["model"])
            try db.execute(
                sql: """
                    INSERT INTO rollup_op_cell (minute, series_id, calls, ok_calls, latency_n, latency_sum, latency_sq, latency_hist,
                        cost_n, cost_sum, cost_sq, tokens_n, tokens_sum, tokens_sq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    row["minute"], series, row["calls"], row["ok_calls"], row["latency_n"], row["latency_sum"], row["latency_sq"],
                    row["latency_hist"], row["cost_n"], row["cost_sum"], row["cost_sq"], row["tokens_n"], row["tokens_sum"], row["tokens_sq"],
                ])
        }
        try db.execute(
            sql: """
                DROP TABLE check_result;
                DROP TABLE judge_score;
                DROP TABLE judge_queue;
                DROP TABLE evaluation;
                DROP TABLE rollup_minute;
                DROP TABLE rollup_op_minute;
                DELETE FROM sqlite_sequence WHERE name = 'evaluation';
                ALTER TABLE judge_queue_v7 RENAME TO judge_queue;
                CREATE INDEX judge_queue_by_age ON judge_queue(enqueued_at);
                """)
    }
}
