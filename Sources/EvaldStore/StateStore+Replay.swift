import EvaldCore
import Foundation
import GRDB

/// A replay as stored: what was asked, and each input's state and scores.
public struct StoredReplay: Sendable, Equatable {
    public var id: Int64
    public var route: String
    public var endpoint: String
    public var model: String?
    public var systemPrompt: String?
    public var systemPromptFile: String?
    public var promptVersion: String?
    public var createdAt: Date
    public var tokensUsed: Int
    /// Why the last run stopped before the end; nil when every input was handled.
    public var stopped: String?
    public var items: [Item]

    public var publicID: String { "r-\(id)" }

    /// The number of a replay id as users write it: `r-3`, or `3`.
    public static func number(_ id: String) -> Int64? { Int64(id.hasPrefix("r-") ? String(id.dropFirst(2)) : id) }

    public struct Item: Sendable, Equatable {
        public enum State: String, Sendable {
            /// Not sent yet.
            case pending
            /// Sent; no answer stored yet (after a crash: interrupted on resume, never resent).
            case sent
            case done
            case failed
            case interrupted
        }

        public var position: Int
        public var evaluationID: Int64
        public var state: State
        public var productionOutput: String?
        public var candidateOutput: String?
        public var error: String?
        public var production: ReplayScores?
        public var candidate: ReplayScores?
        public var tokens: Int
    }
}

extension StateStore {
    /// The prompt version of the route's newest stored answer since `since` (nil inside: the
    /// route's traces carry none), or nil when the route has no stored answer then.
    public func newestPromptVersion(route: String, since: Date) throws -> String?? {
        try read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT prompt_version FROM evaluation
                    WHERE route = ? AND ts >= ? AND status = 'ok' AND has_content = 1
                    ORDER BY ts DESC LIMIT 1
                    """, arguments: [route, since.timeIntervalSince1970])
            return row.map { $0[0] as String? }
        }
    }

    /// Up to `count` stored answers of the route and prompt version since `since`, newest
    /// first and spread over the period: the newest of each of `count` equal slices of time,
    /// then (where slices were empty) the newest not yet taken.
    public func replaySample(route: String, promptVersion: String?, since: Date, count: Int) throws -> [Int64] {
        guard count > 0 else { return [] }
        return try read { db in
            let filter = "route = ? AND prompt_version IS ? AND status = 'ok' AND has_content = 1"
            let base: StatementArguments = [route, promptVersion]
            guard
                let span = try Row.fetchOne(
                    db, sql: "SELECT MIN(ts), MAX(ts) FROM evaluation WHERE \(filter) AND ts >= ?",
                    arguments: base + [since.timeIntervalSince1970]),
                let oldest = span[0] as Double?, let newest = span[1] as Double?
            else { return [] }
            var chosen: [Int64] = []
            var taken = Set<Int64>()
            let width = (newest - oldest) / Double(count)
            if width > 0 {
                for slice in 0..<count {
                    let high = newest - Double(slice) * width
                    let low = slice == count - 1 ? oldest - 1 : newest - Double(slice + 1) * width
                    if let id = try Int64.fetchOne(
                        db, sql: "SELECT id FROM evaluation WHERE \(filter) AND ts > ? AND ts <= ? ORDER BY ts DESC, id DESC LIMIT 1",
                        arguments: base + [low, high]), taken.insert(id).inserted
                    {
                        chosen.append(id)
                    }
                }
            }
            if chosen.count < count {
                for id in try Int64.fetchAll(
                    db, sql: "SELECT id FROM evaluation WHERE \(filter) AND ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
                    arguments: base + [since.timeIntervalSince1970, 2 * count])
                where chosen.count < count && taken.insert(id).inserted {
                    chosen.append(id)
                }
            }
            return chosen
        }
    }

    /// Creates a replay with its inputs pending; returns its id.
    public func createReplay(
        route: String, endpoint: String, model: String?, systemPrompt: String?, systemPromptFile: String?,
        promptVersion: String?, evaluations: [Int64], at: Date
    ) throws -> Int64 {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO replay (route, endpoint, model, system_prompt, system_prompt_file, prompt_version, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [route, endpoint, model, systemPrompt, systemPromptFile, promptVersion, at.timeIntervalSince1970, at.timeIntervalSince1970])
            let id = db.lastInsertedRowID
            for (position, evaluation) in evaluations.enumerated() {
                try db.execute(
                    sql: "INSERT INTO replay_item (replay_id, position, evaluation_id, state) VALUES (?, ?, ?, 'pending')",
                    arguments: [id, position, evaluation])
            }
            return id
        }
    }

    public func replay(id: Int64) throws -> StoredReplay? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM replay WHERE id = ?", arguments: [id]) else { return nil }
            let decoder = JSONDecoder()
            let items = try Row.fetchAll(db, sql: "SELECT * FROM replay_item WHERE replay_id = ? ORDER BY position", arguments: [id]).map { item in
                StoredReplay.Item(
                    position: item["position"], evaluationID: item["evaluation_id"],
                    state: StoredReplay.Item.State(rawValue: item["state"]) ?? .failed,
                    productionOutput: item["production_output"], candidateOutput: item["candidate_output"], error: item["error"],
                    production: (item["production_json"] as String?).flatMap { try? decoder.decode(ReplayScores.self, from: Data($0.utf8)) },
                    candidate: (item["candidate_json"] as String?).flatMap { try? decoder.decode(ReplayScores.self, from: Data($0.utf8)) },
                    tokens: item["tokens"])
            }
            return StoredReplay(
                id: id, route: row["route"], endpoint: row["endpoint"], model: row["model"], systemPrompt: row["system_prompt"],
                systemPromptFile: row["system_prompt_file"], promptVersion: row["prompt_version"],
                createdAt: Date(timeIntervalSince1970: row["created_at"]), tokensUsed: row["tokens_used"], stopped: row["stopped"],
                items: items)
        }
    }

    /// Committed before the request goes out: an item is sent at most once.
    public func markReplayItemSent(replayID: Int64, position: Int) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE replay_item SET state = 'sent' WHERE replay_id = ? AND position = ? AND state = 'pending'",
                arguments: [replayID, position])
        }
    }

    /// What a resumed replay finds sent without an answer was cut off by a crash or a kill: it
    /// is not sent again. Returns how many.
    public func interruptSentReplayItems(replayID: Int64) throws -> Int {
        try write { db in
            try db.execute(
                sql:
                    "UPDATE replay_item SET state = 'interrupted', error = 'sent when the replay was interrupted; not sent again' WHERE replay_id = ? AND state = 'sent'",
                arguments: [replayID])
            return db.changesCount
        }
    }

    /// An item's outcome, and its tokens added to the replay's.
    public func recordReplayItem(
        replayID: Int64, position: Int, state: StoredReplay.Item.State, productionOutput: String?, candidateOutput: String?,
        error: String?, production: ReplayScores?, candidate: ReplayScores?, tokens: Int, at: Date
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let productionJSON = try production.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        let candidateJSON = try candidate.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try write { db in
            try db.execute(
                sql: """
                    UPDATE replay_item SET state = ?, production_output = ?, candidate_output = ?, error = ?,
                        production_json = ?, candidate_json = ?, tokens = ?
                    WHERE replay_id = ? AND position = ?
                    """,
                arguments: [state.rawValue, productionOutput, candidateOutput, error, productionJSON, candidateJSON, tokens, replayID, position])
            try db.execute(
                sql: "UPDATE replay SET tokens_used = tokens_used + ?, updated_at = ? WHERE id = ?",
                arguments: [tokens, at.timeIntervalSince1970, replayID])
        }
    }

    public func finishReplayRun(replayID: Int64, stopped: String?, at: Date) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE replay SET stopped = ?, updated_at = ? WHERE id = ?", arguments: [stopped, at.timeIntervalSince1970, replayID])
        }
    }
}
