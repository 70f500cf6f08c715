import GRDB

extension StateStore {
    /// Append-only: a shipped migration is never edited; changes come as new ones.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-spine") { db in
            try db.execute(
                sql: """
                    CREATE TABLE spool_file (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        path TEXT NOT NULL,
                        device INTEGER NOT NULL,
                        inode INTEGER NOT NULL,
                        fingerprint TEXT NOT NULL,
                        offset INTEGER NOT NULL DEFAULT 0,
                        state TEXT NOT NULL DEFAULT 'active',
                        first_seen_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        retired_at REAL
                    );
                    CREATE INDEX spool_file_by_state ON spool_file(state);

                    CREATE TABLE evaluation (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        record_id TEXT NOT NULL,
                        trace_id TEXT NOT NULL,
                        file_id INTEGER NOT NULL REFERENCES spool_file(id),
                        line_offset INTEGER NOT NULL,
                        index_in_line INTEGER NOT NULL DEFAULT 0,
                        ts REAL NOT NULL,
                        ingested_at REAL NOT NULL,
                        route TEXT,
                        tenant TEXT,
                        provider TEXT,
                        model TEXT NOT NULL,
                        response_model TEXT,
                        system_fingerprint TEXT,
                        prompt_version TEXT,
                        status TEXT NOT NULL,
                        error TEXT,
                        finish_reason TEXT,
                        latency_ms REAL,
                        input_tokens INTEGER,
                        output_tokens INTEGER,
                        cost_usd REAL,
                        feedback REAL,
                        has_content INTEGER NOT NULL,
                        sample_rate REAL NOT NULL,
                        record_json TEXT NOT NULL,
                        UNIQUE (file_id, line_offset, index_in_line)
                    );
                    CREATE INDEX evaluation_by_ts ON evaluation(ts);
                    CREATE INDEX evaluation_by_series ON evaluation(route, model, ts);
                    CREATE INDEX evaluation_by_trace ON evaluation(trace_id);

                    CREATE TABLE quarantine (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        file_id INTEGER,
                        file_path TEXT NOT NULL,
                        line_offset INTEGER NOT NULL,
                        line_bytes INTEGER NOT NULL,
                        reason TEXT NOT NULL,
                        detail TEXT NOT NULL,
                        excerpt BLOB NOT NULL,
                        quarantined_at REAL NOT NULL,
                        UNIQUE (file_id, line_offset)
                    );

                    CREATE TABLE counter (
                        name TEXT PRIMARY KEY,
                        value INTEGER NOT NULL
                    );

                    CREATE TABLE daemon_heartbeat (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        pid INTEGER NOT NULL,
                        hostname TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        heartbeat_at REAL NOT NULL,
                        stopped_at REAL,
                        version TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2-checks-rollups") { db in
            try db.execute(
                sql: """
                    CREATE TABLE check_result (
                        evaluation_id INTEGER NOT NULL REFERENCES evaluation(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        passed INTEGER NOT NULL,
                        detail TEXT NOT NULL,
                        PRIMARY KEY (evaluation_id, name)
                    ) WITHOUT ROWID;
                    CREATE INDEX check_result_failed ON check_result(name) WHERE passed = 0;

                    CREATE TABLE rollup_minute (
                        metric TEXT NOT NULL,
                        route TEXT NOT NULL,
                        model TEXT NOT NULL,
                        minute INTEGER NOT NULL,
                        n INTEGER NOT NULL,
                        pass_n INTEGER NOT NULL,
                        sum REAL NOT NULL,
                        sum_sq REAL NOT NULL,
                        hist BLOB,
                        PRIMARY KEY (metric, route, model, minute)
                    ) WITHOUT ROWID;
                    CREATE INDEX rollup_by_minute ON rollup_minute(minute);

                    CREATE TABLE rollup_op_minute (
                        route TEXT NOT NULL,
                        model TEXT NOT NULL,
                        minute INTEGER NOT NULL,
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
                        PRIMARY KEY (route, model, minute)
                    ) WITHOUT ROWID;
                    CREATE INDEX rollup_op_by_minute ON rollup_op_minute(minute);
                    """)
        }
        migrator.registerMigration("v3-judges") { db in
            try db.execute(
                sql: """
                    -- Sampled traces waiting for a judge. Keyed by the judge's name, not its
                    -- identity: a rubric edited while a trace waits grades it with the new version.
                    CREATE TABLE judge_queue (
                        evaluation_id INTEGER NOT NULL REFERENCES evaluation(id) ON DELETE CASCADE,
                        judge_name TEXT NOT NULL,
                        enqueued_at REAL NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        not_before REAL NOT NULL DEFAULT 0,
                        last_error TEXT,
                        PRIMARY KEY (evaluation_id, judge_name)
                    ) WITHOUT ROWID;
                    CREATE INDEX judge_queue_by_age ON judge_queue(enqueued_at);

                    -- One verdict per evaluation and judge identity: a score, or a judge error
                    -- (error_kind set, score NULL), which is never a failing score.
                    CREATE TABLE judge_score (
                        evaluation_id INTEGER NOT NULL REFERENCES evaluation(id) ON DELETE CASCADE,
                        judge TEXT NOT NULL,
                        judge_name TEXT NOT NULL,
                        score REAL,
                        passed INTEGER,
                        reason TEXT,
                        error_kind TEXT,
                        error TEXT,
                        reply_excerpt TEXT,
                        endpoint TEXT NOT NULL,
                        judge_model TEXT,
                        input_tokens INTEGER,
                        output_tokens INTEGER,
                        latency_ms REAL,
                        attempts INTEGER NOT NULL,
                        judged_at REAL NOT NULL,
                        PRIMARY KEY (evaluation_id, judge)
                    ) WITHOUT ROWID;
                    CREATE INDEX judge_score_by_time ON judge_score(judged_at);

                    -- Tokens spent per endpoint and UTC day, for daily_token_budget across restarts.
                    CREATE TABLE judge_token_usage (
                        endpoint TEXT NOT NULL,
                        day INTEGER NOT NULL,
                        tokens INTEGER NOT NULL,
                        PRIMARY KEY (endpoint, day)
                    ) WITHOUT ROWID;

                    -- What the daemon last knew about each judge (running, or why not), for `evald status`.
                    CREATE TABLE judge_state (
                        judge_name TEXT PRIMARY KEY,
                        identity TEXT NOT NULL,
                        endpoint TEXT,
                        state TEXT NOT NULL,
                        reason TEXT,
                        updated_at REAL NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v4-alerts") { db in
            try db.execute(
                sql: """
                    -- Alerts: one row per firing episode of a label set; the fingerprint
                    -- is a hash of the labels, so at most one open alert per fingerprint.
                    CREATE TABLE alert (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        fingerprint TEXT NOT NULL,
                        alertname TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        labels_json TEXT NOT NULL,
                        annotations_json TEXT NOT NULL,
                        state TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        resolved_at REAL,
                        updated_at REAL NOT NULL
                    );
                    CREATE UNIQUE INDEX alert_open_by_fingerprint ON alert(fingerprint) WHERE state = 'firing';
                    CREATE INDEX alert_by_start ON alert(started_at);

                    -- Each state change with the numbers behind it (baseline, current, n, statistic, threshold).
                    CREATE TABLE alert_transition (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        alert_id INTEGER NOT NULL REFERENCES alert(id) ON DELETE CASCADE,
                        state TEXT NOT NULL,
                        at REAL NOT NULL,
                        numbers_json TEXT NOT NULL
                    );

                    -- Evaluations behind an alert, for `evald explain a-N`.
                    CREATE TABLE alert_example (
                        alert_id INTEGER NOT NULL REFERENCES alert(id) ON DELETE CASCADE,
                        evaluation_id INTEGER NOT NULL,
                        PRIMARY KEY (alert_id, evaluation_id)
                    ) WITHOUT ROWID;

                    -- The durable outbox: a notification is stored with its state change, sent
                    -- later, and marked sent only after the receiver answered 2xx.
                    CREATE TABLE outbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        alert_id INTEGER NOT NULL REFERENCES alert(id) ON DELETE CASCADE,
                        receiver TEXT NOT NULL,
                        event TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at REAL NOT NULL,
                        sent_at REAL,
                        gave_up_at REAL,
                        last_error TEXT
                    );
                    CREATE INDEX outbox_pending ON outbox(next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
                    CREATE INDEX outbox_by_alert ON outbox(alert_id, receiver);
                    """)
        }
        migrator.registerMigration("v5-detection") { db in
            try db.execute(
                sql: """
                    -- Judge scores in commit order, for the detection service: judge_score has no rowid
                    -- and its judged_at is not a safe cursor (workers commit out of clock order).
                    -- Rows are deleted once detection has consumed them.
                    CREATE TABLE judge_feed (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        evaluation_id INTEGER NOT NULL,
                        judge TEXT NOT NULL
                    );
                    INSERT INTO judge_feed (evaluation_id, judge)
                        SELECT evaluation_id, judge FROM judge_score WHERE score IS NOT NULL ORDER BY judged_at;

                    -- Detection state as JSON, written with the alerts it decides in one
                    -- transaction: kind 'series' (one per metric, measure, route, model), 'versions'
                    -- (provider versions per route and model), 'cursor' (what has been consumed).
                    CREATE TABLE detection_state (
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        state_json TEXT NOT NULL,
                        updated_at REAL NOT NULL,
                        PRIMARY KEY (kind, key)
                    ) WITHOUT ROWID;

                    -- What the database held when detection was installed: replayed to build the
                    -- baselines, but its findings are history and are not notified.
                    INSERT INTO detection_state (kind, key, state_json, updated_at)
                        SELECT 'cursor', 'warmup_evaluation', CAST(COALESCE(MAX(id), 0) AS TEXT), 0 FROM evaluation;
                    INSERT INTO detection_state (kind, key, state_json, updated_at)
                        SELECT 'cursor', 'warmup_judge_feed', CAST(COALESCE(MAX(seq), 0) AS TEXT), 0 FROM judge_feed;
                    """)
        }
        migrator.registerMigration("v6-canary") { db in
            try db.execute(
                sql: """
                    -- Golden-set canary runs: what the production endpoint answered, how the
                    -- set scored, and what regressed against the baseline.
                    CREATE TABLE canary_run (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        golden_set TEXT NOT NULL,
                        endpoint TEXT NOT NULL,
                        started_at REAL NOT NULL,
                        finished_at REAL NOT NULL,
                        cases INTEGER NOT NULL,
                        answered INTEGER NOT NULL,
                        versions_json TEXT NOT NULL,
                        regressed_json TEXT NOT NULL,
                        error TEXT,
                        result_json TEXT NOT NULL
                    );
                    CREATE INDEX canary_run_by_set ON canary_run(golden_set, started_at);
                    """)
        }
        migrator.registerMigration("v7-replay") { db in
            try db.execute(
                sql: """
                    -- `evald replay`: a candidate prompt or model on stored production inputs.
                    -- An item is sent at most once: 'sent' is committed before the request, and a
                    -- resumed replay marks what it finds 'sent' as 'interrupted' rather than sending
                    -- it again.
                    CREATE TABLE replay (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        route TEXT NOT NULL,
                        endpoint TEXT NOT NULL,
                        model TEXT,
                        system_prompt TEXT,
                        system_prompt_file TEXT,
                        prompt_version TEXT,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        tokens_used INTEGER NOT NULL DEFAULT 0,
                        stopped TEXT
                    );
                    CREATE TABLE replay_item (
                        replay_id INTEGER NOT NULL REFERENCES replay(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        evaluation_id INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        production_output TEXT,
                        candidate_output TEXT,
                        error TEXT,
                        production_json TEXT,
                        candidate_json TEXT,
                        tokens INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (replay_id, position)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v8-judge-endpoint-health") { db in
            try db.execute(
                sql: """
                    -- How each judge's endpoint's recent calls went (timeouts against the timeout,
                    -- the concurrency in force, the last failure's cause), as JSON for `evald status`.
                    ALTER TABLE judge_state ADD COLUMN endpoint_health_json TEXT;
                    -- `daemon` or `once` (evald run --once), and the one-shot run's progress as JSON.
                    ALTER TABLE daemon_heartbeat ADD COLUMN mode TEXT;
                    ALTER TABLE daemon_heartbeat ADD COLUMN progress_json TEXT;
                    """)
        }
        migrator.registerMigration("v9-compact") { db in
            try db.execute(sql: compactSchema)
            try migrateToCompact(db)
            try db.execute(sql: compactViews)
        }
        migrator.registerMigration("v10-usage") { db in
            try db.execute(sql: usageSchema)
        }
        migrator.registerMigration("v11-feedback") { db in
            try db.execute(sql: feedbackSchema)
        }
        migrator.registerMigration("v12-judge-versions") { db in
            try db.execute(sql: judgeVersionsSchema)
        }
        migrator.registerMigration("v13-report-outbox") { db in
            try db.execute(sql: reportSchema)
        }
        migrator.registerMigration("v14-usage-feed") { db in
            try db.execute(sql: usageFeedSchema)
        }
        return migrator
    }
}
