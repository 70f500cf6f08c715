import Foundation

/// Provider-update drift for one (route, model): the versions the provider answered
/// with (`response_model` and `system_fingerprint`), each version's pass counts per metric,
/// and for every switch to a new version a sequential test per metric of the new version
/// against the previous version's baseline (`DriftSPRT`).
///
/// A version is "new" the first time it is seen. Samples always count for the version that
/// answered, so a fleet answering from two fingerprints at once does not mix their rates, and
/// a switch back to a known version starts no new test.
///
/// The false-alert probability per switch is kept at `drift_alpha` over all the metrics
/// watched: each metric's test gets alpha / m (Bonferroni), and each test alone keeps its
/// share however often it is checked (Ville's inequality, see `DriftSPRT`).
public struct ProviderVersionWatch: Codable, Sendable, Equatable {
    public struct VersionStats: Codable, Sendable, Equatable {
        public var firstSeenAt: Double
        public var firstEvaluationID: Int64
        public var samples = 0
        /// The watch's answer count when this version last answered.
        public var lastAnswer = 0
        /// metric -> pass counts of this version.
        public var metrics: [String: SeriesTally] = [:]
    }

    public enum SwitchState: String, Codable, Sendable {
        /// Tests are running.
        case watching
        /// At least one metric is worse: ProviderDrift fired.
        case drift
        /// Every metric's test ruled out a min_drop drop.
        case noDrift = "no_drift"
        /// The previous version had fewer than drift_min_samples samples on every metric.
        case insufficientBaseline = "insufficient_baseline"
        /// The new version answered 20 x drift_min_samples times and some metric's test got too
        /// few samples to decide (a judge that stopped, a check that rarely applies).
        case inconclusive
    }

    public struct MetricTest: Codable, Sendable, Equatable {
        public var test: DriftSPRT
        public var oldSamples: Int
        public var oldPassRate: Double
        public var alerted = false
        /// The new version's latest failing evaluations on this metric (up to 5).
        public var examples: [Int64] = []
    }

    /// A judge's mean score on the new version against the old one's (`MeanDriftTest`).
    public struct MeanTest: Codable, Sendable, Equatable {
        public var test: MeanDriftTest
        public var oldSamples: Int
        public var alerted = false
        public var examples: [Int64] = []
    }

    /// The key of a mean-score test: the judge metric with this suffix.
    public static let meanScoreSuffix = "#mean_score"

    /// A typical value's rise (latency, cost per call) on the new version (`LogValueDriftTest`).
    public struct ValueTest: Codable, Sendable, Equatable {
        public var test: LogValueDriftTest
        public var oldSamples: Int
        public var alerted = false
        public var examples: [Int64] = []
    }

    /// The key of a log-value test (and tally): the metric with this suffix.
    public static let logValueSuffix = "#log_value"

    public struct Switch: Codable, Sendable, Equatable {
        public var before: String
        public var after: String
        public var at: Double
        public var evaluationID: Int64
        public var tests: [String: MetricTest]
        /// Keyed by metric + `meanScoreSuffix`. "No drift" is decided by the pass-rate tests; a
        /// mean test can only find drift.
        public var meanTests: [String: MeanTest] = [:]
        /// Keyed by metric + `logValueSuffix`; like mean tests, they can only find drift. Only the
        /// change watches feed values (nil in states stored before they did).
        public var valueTests: [String: ValueTest]? = nil
        public var state: SwitchState
        /// A later switch on this (route, model) replaced it, or its version stopped answering
        /// (a rollback).
        public var superseded = false
        /// Answers from the new version since the switch.
        public var answers = 0
    }

    public let route: String
    public let model: String
    public var current: String?
    public var versions: [String: VersionStats] = [:]
    public var switches: [Switch] = []
    /// Answers seen, all versions.
    public var answers = 0

    /// Switches kept for `evald drift`; older ones are dropped.
    static let keptSwitches = 50
    /// A version that has not answered for this many answers of its (route, model) is taken
    /// for rolled back: its switch is settled and its alerts resolve.
    public static let rollbackAfter = 100

    public init(route: String, model: String) {
        self.route = route
        self.model = model
    }

    /// The version label of an answer: response_model, and the fingerprint when there is one.
    public static func version(responseModel: String?, systemFingerprint: String?) -> String? {
        switch (responseModel, systemFingerprint) {
        case (nil, nil): nil
        case (let model?, nil): model
        case (nil, let fingerprint?): fingerprint
        case (let model?, let fingerprint?): "\(model)/\(fingerprint)"
        }
    }

    public enum Event: Sendable, Equatable {
        /// A new version answered.
        case versionChanged(Switch)
        /// A metric of the switch's new version is worse than the old version's baseline.
        case drift(Switch, metric: String, numbers: [String: Double])
        /// The switch's watch ended (no drift on any metric, or no baseline to test against),
        /// or a later switch superseded it.
        case settled(Switch)
    }

    /// Records an evaluation's answer: notices a new version. Call before `observe`.
    public mutating func noteAnswer(version: String, at date: Date, evaluationID: Int64, settings: DriftSettings) -> [Event] {
        guard versions[version] == nil else { return noteKnownAnswer(version: version, at: date, evaluationID: evaluationID, settings: settings) }
        return noteNewVersion(version: version, before: current, at: date, evaluationID: evaluationID, settings: settings)
    }

    /// Records an answer of a version that starts no switch: one seen before, or (for a caller
    /// with its own definition of "new", `ChangeWatch`) a variant answering beside the others.
    /// `rollbackAfter`: the answers without a word from a switch's new version that settle it
    /// (default `rollbackAfter`; a caller watching a small slice waits longer).
    public mutating func noteKnownAnswer(
        version: String, at date: Date, evaluationID: Int64, settings: DriftSettings, rollbackAfter: Int = Self.rollbackAfter
    ) -> [Event] {
        answers += 1
        if versions[version] == nil {
            versions[version] = VersionStats(firstSeenAt: date.timeIntervalSince1970, firstEvaluationID: evaluationID)
        }
        versions[version]!.lastAnswer = answers
        current = version
        return settleStale(settings: settings, answering: version, rollbackAfter: rollbackAfter)
    }

    /// Records the first answer of a new version; with a `before` version, starts a switch from
    /// it (tests per metric against `before`'s counts). A version seen long ago starts afresh.
    public mutating func noteNewVersion(version: String, before: String?, at date: Date, evaluationID: Int64, settings: DriftSettings) -> [Event] {
        let t = date.timeIntervalSince1970
        answers += 1
        versions[version] = VersionStats(firstSeenAt: t, firstEvaluationID: evaluationID, lastAnswer: answers)
        current = version
        guard let before, before != version else { return [] }
        var events: [Event] = []
        for index in switches.indices where !switches[index].superseded {
            switches[index].superseded = true
            events.append(.settled(switches[index]))
        }
        let old = versions[before]?.metrics ?? [:]
        let eligible = old.filter { $0.value.n >= settings.minSamples && $0.value.scores == nil && !$0.key.hasSuffix(Self.logValueSuffix) }
        let scored = old.filter { $0.value.n >= settings.minSamples && $0.value.scores != nil }
        let valued = old.filter { $0.value.n >= settings.minSamples && $0.key.hasSuffix(Self.logValueSuffix) }
        // alpha is split over the metrics and, within each, between the test and the upper
        // confidence bound of the old rate it tests against (DriftSPRT's guarantee is alpha plus
        // the chance that bound is too low): 2m terms of alpha / 2m.
        let share = settings.alpha / Double(2 * max(1, eligible.count + scored.count + valued.count))
        let z = NormalDistribution.quantile(1 - share)
        var tests: [String: MetricTest] = [:]
        for (metric, tally) in eligible {
            if let test = DriftSPRT(oldBaseline: tally.passRateBaseline, alpha: share, minDrop: settings.minDrop, minSamples: settings.minSamples, z: z) {
                tests[metric] = MetricTest(test: test, oldSamples: tally.n, oldPassRate: tally.level(.passRate) ?? .nan)
            }
        }
        var meanTests: [String: MeanTest] = [:]
        for (metric, tally) in scored {
            if let test = MeanDriftTest(oldScores: tally.scoreBaseline, alpha: share, minSamples: settings.minSamples, z: z) {
                meanTests[metric] = MeanTest(test: test, oldSamples: tally.n)
            }
        }
        var valueTests: [String: ValueTest] = [:]
        for (metric, tally) in valued {
            if let test = LogValueDriftTest(old: tally.logValueBaseline, alpha: share, minSamples: settings.minSamples, z: z) {
                valueTests[metric] = ValueTest(test: test, oldSamples: tally.n)
            }
        }
        let untested = tests.isEmpty && meanTests.isEmpty && valueTests.isEmpty
        let change = Switch(
            before: before, after: version, at: t, evaluationID: evaluationID, tests: tests, meanTests: meanTests,
            valueTests: valueTests.isEmpty ? nil : valueTests, state: untested ? .insufficientBaseline : .watching)
        switches.append(change)
        if switches.count > Self.keptSwitches {
            switches.removeFirst(switches.count - Self.keptSwitches)
        }
        events.append(.versionChanged(change))
        if untested { events.append(.settled(change)) }
        return events
    }

    /// Ends the watch of the switch to `version` (a rollback decided by the caller): it is
    /// superseded, and its alerts resolve.
    public mutating func supersede(after version: String) -> [Event] {
        var events: [Event] = []
        for index in switches.indices where switches[index].after == version && !switches[index].superseded {
            switches[index].superseded = true
            events.append(.settled(switches[index]))
        }
        return events
    }

    /// Settles what answering `version` ends: a drifted version that stopped answering (rolled
    /// back), and a watch that got too few samples to ever decide.
    private mutating func settleStale(settings: DriftSettings, answering version: String, rollbackAfter: Int) -> [Event] {
        var events: [Event] = []
        for index in switches.indices where !switches[index].superseded {
            let after = switches[index].after
            if after == version {
                switches[index].answers += 1
                if switches[index].state == .watching, switches[index].answers >= 20 * max(1, settings.minSamples) {
                    switches[index].state = .inconclusive
                    events.append(.settled(switches[index]))
                }
            } else if answers - (versions[after]?.lastAnswer ?? 0) >= rollbackAfter {
                switches[index].superseded = true
                events.append(.settled(switches[index]))
            }
        }
        return events
    }

    /// Counts one pass/fail outcome of `metric` for the version that answered, and feeds the
    /// drift tests of switches to that version.
    public mutating func observe(version: String, metric: String, passed: Bool, evaluationID: Int64 = 0) -> [Event] {
        if versions[version] == nil { return [] }
        versions[version]!.samples += 1
        versions[version]!.metrics[metric, default: SeriesTally()].add(.passed(passed))
        var events: [Event] = []
        for index in switches.indices where switches[index].after == version && switches[index].state == .watching {
            guard var test = switches[index].tests[metric] else { continue }
            var pendingDrift: (String, [String: Double])?
            let verdict = test.test.update(failed: !passed)
            if !passed, evaluationID > 0 {
                test.examples.append(evaluationID)
                if test.examples.count > 5 { test.examples.removeFirst() }
            }
            if verdict == .drift, !test.alerted {
                test.alerted = true
                pendingDrift = (
                    metric,
                    [
                        "rate_before": test.oldPassRate, "n_before": Double(test.oldSamples),
                        "rate_after": 1 - test.test.newFailRate, "n_after": Double(test.test.samples),
                        "statistic": test.test.logLikelihoodRatio, "threshold": test.test.logThreshold,
                        "alpha": test.test.alpha,
                    ]
                )
            }
            switches[index].tests[metric] = test
            let verdicts = switches[index].tests.values.map(\.test.verdict)
            if verdicts.contains(.drift) {
                switches[index].state = .drift
            } else if !verdicts.isEmpty, verdicts.allSatisfy({ $0 == .noDrift }) {
                switches[index].state = .noDrift
                events.append(.settled(switches[index]))
            }
            if let (metric, numbers) = pendingDrift { events.append(.drift(switches[index], metric: metric, numbers: numbers)) }
        }
        return events
    }

    /// Counts one 1-5 score of a judge `metric` for the version that answered, and feeds the
    /// mean-score drift tests of switches to that version.
    public mutating func observe(version: String, metric: String, score: Int, evaluationID: Int64 = 0) -> [Event] {
        guard versions[version] != nil, (1...5).contains(score) else { return [] }
        let key = metric + Self.meanScoreSuffix
        versions[version]!.metrics[key, default: SeriesTally()].add(.score(score))
        var events: [Event] = []
        for index in switches.indices where switches[index].after == version && switches[index].state == .watching {
            guard var test = switches[index].meanTests[key] else { continue }
            let oldMean = test.test.oldMean
            if Double(score) < oldMean, evaluationID > 0 {
                test.examples.append(evaluationID)
                if test.examples.count > 5 { test.examples.removeFirst() }
            }
            var fire = false
            if test.test.update(score: score), !test.alerted {
                test.alerted = true
                fire = true
            }
            switches[index].meanTests[key] = test
            if fire {
                switches[index].state = .drift
                events.append(
                    .drift(
                        switches[index], metric: key,
                        numbers: [
                            "mean_before": oldMean, "n_before": Double(test.oldSamples),
                            "mean_after": test.test.newMean, "n_after": Double(test.test.samples),
                            "reference_mean": test.test.referenceMean,
                            "statistic": test.test.logStatistic, "threshold": test.test.logThreshold, "alpha": test.test.alpha,
                        ]))
            }
        }
        return events
    }

    /// Counts one positive value of `metric` (latency, cost per call) for the version that
    /// answered, and feeds the log-value drift tests of switches to that version.
    public mutating func observe(version: String, metric: String, value: Double, evaluationID: Int64 = 0) -> [Event] {
        guard versions[version] != nil, value > 0, value.isFinite else { return [] }
        let key = metric + Self.logValueSuffix
        versions[version]!.metrics[key, default: SeriesTally()].add(.value(value))
        var events: [Event] = []
        for index in switches.indices where switches[index].after == version && switches[index].state == .watching {
            guard var test = switches[index].valueTests?[key] else { continue }
            if value > test.test.oldTypical, evaluationID > 0 {
                test.examples.append(evaluationID)
                if test.examples.count > 5 { test.examples.removeFirst() }
            }
            var fire = false
            if test.test.update(value: value), !test.alerted {
                test.alerted = true
                fire = true
            }
            switches[index].valueTests?[key] = test
            if fire {
                switches[index].state = .drift
                events.append(
                    .drift(
                        switches[index], metric: key,
                        numbers: [
                            "value_before": test.test.oldTypical, "n_before": Double(test.oldSamples),
                            "value_after": test.test.newTypical, "n_after": Double(test.test.samples),
                            "statistic": test.test.logStatistic, "threshold": test.test.logThreshold, "alpha": test.test.alpha,
                        ]))
            }
        }
        return events
    }

    /// The switch on this (route, model) whose time lies near `start`, for attributing a
    /// regression alarm to it: within 15 minutes or a quarter of the time from `start` to
    /// the alarm, whichever is longer.
    public func switchNear(_ start: Date, alarmAt: Date) -> Switch? {
        let tolerance = max(900, 0.25 * alarmAt.timeIntervalSince(start))
        return switches.filter { abs($0.at - start.timeIntervalSince1970) <= tolerance }
            .min { abs($0.at - start.timeIntervalSince1970) < abs($1.at - start.timeIntervalSince1970) }
    }
}

public struct DriftSettings: Sendable, Equatable {
    public var alpha: Double
    public var minDrop: Double
    public var minSamples: Int

    public init(alpha: Double, minDrop: Double, minSamples: Int) {
        self.alpha = alpha
        self.minDrop = minDrop
        self.minSamples = minSamples
    }

    public init(_ config: DetectionConfig) {
        self.init(alpha: config.driftAlpha, minDrop: config.minDrop, minSamples: config.driftMinSamples)
    }
}
