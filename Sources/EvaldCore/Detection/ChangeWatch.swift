import Foundation

/// The team's own changes on one route along one dimension: a new prompt version, or a new
/// model. The before/after tests are the provider drift watch's (`ProviderVersionWatch`, with
/// its per-change alpha split); this adds what a team's change needs on top of it:
///
/// - New means not answered on the route within `detection.change_lookback`, so versions that
///   alternate (routing, fallbacks, a running A/B) are variants, not changes, and a version seen
///   once a month ago is new again. Versions that answer before the route has
///   `drift_min_samples` answers are its initial mix, not changes: there is nothing to compare
///   them with yet.
/// - Deploy or slice: a change is a deploy once the new version answers at least 80% of the
///   route's traffic (over the last `window` answers) within an hour of its first answer, a
///   slice if that hour passes first. A regression the before/after tests find is alerted for a
///   deploy only (held while the change is pending); a slice is compared side by side instead.
/// - Rollback: the previous version answering 80% of the traffic again after a deploy ends the
///   change's watch and resolves its alerts (a slice that stops answering is settled by the
///   provider watch's rule: no answer for 100 answers of the route).
/// - Side by side: from the change on, every metric of the incumbent is compared with the new
///   version on the samples both answered since, by an anytime-valid confidence sequence of the
///   difference (`VariantDifference`), at `drift_alpha` split over the metrics.
///
/// For prompt versions the watch's metric keys carry the model (`model|check:ok`): a route that
/// runs two models has each model's rates compared with its own.
public struct ChangeWatch: Codable, Sendable, Equatable {
    public enum Dimension: String, Codable, Sendable, CaseIterable {
        case promptVersion = "prompt_version"
        case model
    }

    public enum Kind: String, Codable, Sendable {
        /// Under an hour old and not yet at 80% of the traffic.
        case pending
        case deploy
        case slice
    }

    public struct VariantComparison: Codable, Sendable, Equatable {
        public var binary: Bool
        public var alpha: Double
        public var incumbent = ArmTally()
        public var variant = ArmTally()
        public var alerted = false
        /// The variant's latest failing (or below-incumbent) evaluations, up to 5.
        public var examples: [Int64] = []
    }

    public struct Change: Codable, Sendable, Equatable {
        public var before: String
        public var after: String
        public var at: Double
        public var evaluationID: Int64
        public var kind: Kind
        /// Answers on the route since the change, its first included, and those of the new version.
        public var answers = 0
        public var newAnswers = 0
        public var rolledBack = false
        /// Superseded by a later change, rolled back, or stopped answering.
        public var ended = false
        /// Regressions found while pending (metric -> numbers): alerted if it turns out a deploy.
        public var held: [String: [String: Double]] = [:]
        /// Metric key -> the incumbent and the new version since the change.
        public var comparisons: [String: VariantComparison] = [:]
    }

    public enum Event: Sendable, Equatable {
        /// A new version answered on the route.
        case changed(Change, ProviderVersionWatch.Switch)
        /// A deploy's before/after test found a metric worse.
        case regression(Change, ProviderVersionWatch.Switch, metric: String, numbers: [String: Double])
        /// The change's watch ended; when the switch is superseded (a later change, a rollback),
        /// its regression and variant alerts end too.
        case settled(Change?, ProviderVersionWatch.Switch)
        /// The new version is worse than the incumbent side by side.
        case variantWorse(Change, metric: String, numbers: [String: Double], examples: [Int64])
    }

    public let route: String
    public let dimension: Dimension
    public var watch: ProviderVersionWatch
    /// Version -> the last time it answered on the route (trace time).
    public var lastSeenAt: [String: Double] = [:]
    /// The versions of the route's last `window` answers, oldest first.
    public var recent: [String] = []
    /// The changes, oldest first (as many as the watch keeps switches).
    public var changes: [Change] = []

    /// Answers over which traffic shares are taken.
    public static let window = 20
    /// Answers of a change before it may be called a deploy.
    static let deployAfter = 10
    static let takeover = 0.8
    static let pendingFor = 3600.0
    static let keptVersions = 200

    public init(route: String, dimension: Dimension) {
        self.route = route
        self.dimension = dimension
        watch = ProviderVersionWatch(route: route, model: "")
    }

    /// The version that answered most of the recent traffic, other than `version` (the latest
    /// of them on a tie).
    func incumbent(excluding version: String) -> String? {
        var counts: [String: Int] = [:]
        for answer in recent where answer != version { counts[answer, default: 0] += 1 }
        var best: String?
        for answer in recent.reversed() where answer != version {
            if best == nil || counts[answer]! > counts[best!]! { best = answer }
        }
        return best
    }

    /// The answers without the latest change's new version that mean it stopped: 100, or for a
    /// small slice 30 of its typical gaps (a 5% slice is silent for 100 answers about once in
    /// 170 stretches; for 30 gaps, practically never).
    var rollbackAfter: Int {
        guard let change = changes.last, !change.ended, change.answers > 0 else { return ProviderVersionWatch.rollbackAfter }
        let share = Double(max(1, change.newAnswers)) / Double(change.answers)
        return max(ProviderVersionWatch.rollbackAfter, Int((30 / share).rounded(.up)))
    }

    /// Records an evaluation's answer on the route. Call before `observe`.
    public mutating func noteAnswer(version: String, at date: Date, evaluationID: Int64, settings: ChangeSettings) -> [Event] {
        let t = date.timeIntervalSince1970
        let seen = lastSeenAt[version]
        let isNew = seen.map { t - $0 > settings.lookback } ?? true
        lastSeenAt[version] = max(seen ?? t, t)
        let raw: [ProviderVersionWatch.Event]
        if isNew, watch.answers >= settings.drift.minSamples, let before = incumbent(excluding: version) {
            raw = watch.noteNewVersion(version: version, before: before, at: date, evaluationID: evaluationID, settings: settings.drift)
        } else if isNew, watch.versions[version] != nil {
            // Back after the lookback while the route has no baseline: its old counts are stale.
            raw = watch.noteNewVersion(version: version, before: nil, at: date, evaluationID: evaluationID, settings: settings.drift)
        } else {
            raw = watch.noteKnownAnswer(
                version: version, at: date, evaluationID: evaluationID, settings: settings.drift, rollbackAfter: rollbackAfter)
        }
        recent.append(version)
        if recent.count > Self.window { recent.removeFirst(recent.count - Self.window) }
        var events = translate(raw, settings)
        events += classify(at: t, settings)
        // Now and then (and on a change), so the common answer costs no scan of the versions.
        if isNew || watch.answers % 1_000 == 0 { forgetOldVersions(now: t, lookback: settings.lookback) }
        return events
    }

    /// Counts one pass/fail outcome of `metric` for the version that answered.
    public mutating func observe(version: String, metric: String, passed: Bool, evaluationID: Int64, settings: ChangeSettings) -> [Event] {
        translate(watch.observe(version: version, metric: metric, passed: passed, evaluationID: evaluationID), settings)
            + compare(version: version, metric: metric, value: passed ? 1 : 0, bad: !passed, evaluationID: evaluationID, settings: settings)
    }

    /// Counts one 1-5 score of a judge `metric` for the version that answered.
    public mutating func observe(version: String, metric: String, score: Int, evaluationID: Int64, settings: ChangeSettings) -> [Event] {
        guard (1...5).contains(score) else { return [] }
        let key = metric + ProviderVersionWatch.meanScoreSuffix
        let incumbentMean = changes.last?.comparisons[key]?.incumbent.mean ?? .nan
        return translate(watch.observe(version: version, metric: metric, score: score, evaluationID: evaluationID), settings)
            + compare(
                version: version, metric: key, value: Double(score), bad: Double(score) < incumbentMean, evaluationID: evaluationID,
                settings: settings)
    }

    /// Counts one positive value of `metric` (latency, cost per call) for the version that
    /// answered: a before/after test of its typical value (not compared side by side).
    public mutating func observe(version: String, metric: String, value: Double, evaluationID: Int64, settings: ChangeSettings) -> [Event] {
        translate(watch.observe(version: version, metric: metric, value: value, evaluationID: evaluationID), settings)
    }

    /// The change whose first answer lies near `start` (a regression's estimated start).
    public func changeNear(_ start: Date, alarmAt: Date) -> Change? {
        guard let near = watch.switchNear(start, alarmAt: alarmAt) else { return nil }
        return changes.last { $0.after == near.after && $0.at == near.at }
    }

    // MARK: inside

    private func index(of change: ProviderVersionWatch.Switch) -> Int? {
        changes.lastIndex { $0.after == change.after && $0.at == change.at }
    }

    private mutating func translate(_ raw: [ProviderVersionWatch.Event], _ settings: ChangeSettings) -> [Event] {
        var events: [Event] = []
        for event in raw {
            switch event {
            case .versionChanged(let change):
                var new = Change(before: change.before, after: change.after, at: change.at, evaluationID: change.evaluationID, kind: .pending)
                // Typical values get a before/after test, not a side-by-side comparison.
                let metrics = (watch.versions[change.before]?.metrics ?? [:]).filter { !$0.key.hasSuffix(ProviderVersionWatch.logValueSuffix) }
                let share = metrics.isEmpty ? 0 : settings.drift.alpha / Double(metrics.count)
                for (metric, tally) in metrics {
                    new.comparisons[metric] = VariantComparison(binary: tally.scores == nil, alpha: share)
                }
                changes.append(new)
                if changes.count > ProviderVersionWatch.keptSwitches { changes.removeFirst(changes.count - ProviderVersionWatch.keptSwitches) }
                events.append(.changed(new, change))
            case .drift(let change, let metric, let numbers):
                guard let i = index(of: change) else { continue }
                switch changes[i].kind {
                case .deploy: events.append(.regression(changes[i], change, metric: metric, numbers: numbers))
                case .pending: changes[i].held[metric] = numbers
                case .slice: break
                }
            case .settled(let change):
                let i = index(of: change)
                if let i, change.superseded { changes[i].ended = true }
                events.append(.settled(i.map { changes[$0] }, change))
            }
        }
        return events
    }

    /// Deploy or slice for a pending change; a rollback for a deploy.
    private mutating func classify(at t: Double, _ settings: ChangeSettings) -> [Event] {
        guard let i = changes.indices.last, !changes[i].ended else { return [] }
        changes[i].answers += 1
        if recent.last == changes[i].after { changes[i].newAnswers += 1 }
        let change = changes[i]
        let window = recent.suffix(min(Self.window, change.answers))
        func share(_ version: String) -> Double { Double(window.count { $0 == version }) / Double(max(1, window.count)) }
        var events: [Event] = []
        switch change.kind {
        case .pending:
            if change.answers >= Self.deployAfter, share(change.after) >= Self.takeover {
                changes[i].kind = .deploy
                guard let current = watch.switches.last(where: { $0.after == change.after && $0.at == change.at }) else { break }
                for (metric, numbers) in change.held.sorted(by: { $0.key < $1.key }) {
                    events.append(.regression(changes[i], current, metric: metric, numbers: numbers))
                }
                changes[i].held = [:]
            } else if t - change.at >= Self.pendingFor {
                changes[i].kind = .slice
                changes[i].held = [:]
            }
        case .deploy:
            if change.answers >= Self.window, window.count == Self.window, share(change.before) >= Self.takeover {
                changes[i].rolledBack = true
                events += translate(watch.supersede(after: change.after), settings)
            }
        case .slice:
            break
        }
        return events
    }

    /// Feeds the side-by-side comparison of the latest change, while it runs beside its
    /// incumbent (pending or a slice; a deploy's incumbent has stopped answering).
    private mutating func compare(version: String, metric: String, value: Double, bad: Bool, evaluationID: Int64, settings: ChangeSettings) -> [Event] {
        guard let i = changes.indices.last, !changes[i].ended, changes[i].kind != .deploy,
            var comparison = changes[i].comparisons[metric]
        else { return [] }
        let isVariant = version == changes[i].after
        guard isVariant || version == changes[i].before else { return [] }
        if isVariant {
            comparison.variant.add(value)
            if bad, evaluationID > 0 {
                comparison.examples.append(evaluationID)
                if comparison.examples.count > 5 { comparison.examples.removeFirst() }
            }
        } else {
            comparison.incumbent.add(value)
        }
        var events: [Event] = []
        if !comparison.alerted,
            let result = VariantDifference.compare(
                incumbent: comparison.incumbent, variant: comparison.variant, alpha: comparison.alpha,
                minDrop: comparison.binary ? settings.drift.minDrop : 2 * settings.drift.minDrop,
                widestVariance: comparison.binary ? 0.25 : 4),
            result.verdict == .worse
        {
            comparison.alerted = true
            let level = comparison.binary ? "rate" : "mean"
            changes[i].comparisons[metric] = comparison
            events.append(
                .variantWorse(
                    changes[i], metric: metric,
                    numbers: [
                        "\(level)_incumbent": comparison.incumbent.mean, "n_incumbent": Double(comparison.incumbent.n),
                        "\(level)_variant": comparison.variant.mean, "n_variant": Double(comparison.variant.n),
                        "difference": result.difference, "ci_low": result.low, "ci_high": result.high, "alpha": comparison.alpha,
                    ], examples: comparison.examples))
        }
        changes[i].comparisons[metric] = comparison
        return events
    }

    /// Versions not seen within the lookback are forgotten (their counts too), unless a change
    /// still being watched involves them: a route that deploys daily stays bounded.
    private mutating func forgetOldVersions(now t: Double, lookback: Double) {
        guard lastSeenAt.count > 1 else { return }
        let live = Set(changes.filter { !$0.ended }.flatMap { [$0.before, $0.after] })
        let stale = lastSeenAt.filter { t - $0.value > lookback && !live.contains($0.key) }.map(\.key)
        var drop = Set(stale)
        if lastSeenAt.count - drop.count > Self.keptVersions {
            let oldest = lastSeenAt.filter { !drop.contains($0.key) && !live.contains($0.key) }.sorted { $0.value < $1.value }
            for (version, _) in oldest.prefix(lastSeenAt.count - drop.count - Self.keptVersions) { drop.insert(version) }
        }
        for version in drop {
            lastSeenAt[version] = nil
            watch.versions[version] = nil
        }
    }
}

public struct ChangeSettings: Sendable, Equatable {
    public var drift: DriftSettings
    /// A version not answered on the route for this long is new again.
    public var lookback: Double

    public init(drift: DriftSettings, lookback: Double) {
        self.drift = drift
        self.lookback = lookback
    }

    public init(_ config: DetectionConfig) {
        self.init(drift: DriftSettings(config), lookback: config.changeLookback)
    }
}
