import Foundation

/// What a series measures: a pass rate (checks, judges, the error rate), a judge's
/// mean 1-5 score, or a positive value watched on its log (latency, cost per call).
public enum SeriesMeasure: String, Codable, Sendable, Comparable {
    case passRate = "pass_rate"
    case meanScore = "mean_score"
    case logValue = "log_value"

    public static func < (a: SeriesMeasure, b: SeriesMeasure) -> Bool { a.rawValue < b.rawValue }
}

/// A series is (metric, route, model); judges have two measures on one metric.
///
/// Detection looks a key up several times for every outcome, so the key hashes its four parts
/// once, when it is made, and hashing it is then a single word.
public struct SeriesKey: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public let metric: String
    public let measure: SeriesMeasure
    public let route: String
    public let model: String
    private let hashCode: Int

    public init(metric: String, measure: SeriesMeasure, route: String, model: String) {
        self.metric = metric
        self.measure = measure
        self.route = route
        self.model = model
        var hasher = Hasher()
        hasher.combine(metric)
        hasher.combine(measure)
        hasher.combine(route)
        hasher.combine(model)
        hashCode = hasher.finalize()
    }

    private enum CodingKeys: String, CodingKey { case metric, measure, route, model }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            metric: try container.decode(String.self, forKey: .metric), measure: try container.decode(SeriesMeasure.self, forKey: .measure),
            route: try container.decode(String.self, forKey: .route), model: try container.decode(String.self, forKey: .model))
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }

    public static func == (a: SeriesKey, b: SeriesKey) -> Bool {
        a.hashCode == b.hashCode && a.metric == b.metric && a.measure == b.measure && a.route == b.route && a.model == b.model
    }

    /// The row key in the store.
    public var description: String { "\(metric)|\(measure.rawValue)|\(route)|\(model)" }

    public static func < (a: SeriesKey, b: SeriesKey) -> Bool { a.description < b.description }
}

/// One sample of a series.
public enum SeriesObservation: Sendable, Equatable {
    case passed(Bool)
    /// A 1-5 judge score.
    case score(Int)
    /// A positive value: latency in ms, cost in USD.
    case value(Double)
}

/// Counts and sums of a stretch of a series, enough to rebuild any of its baselines.
public struct SeriesTally: Codable, Sendable, Equatable {
    public var n = 0
    public var passes = 0
    /// Scores 1...5 (mean-score series only).
    public var scores: [Int]?
    public var logSum = 0.0
    public var logSumOfSquares = 0.0

    public init() {}

    public mutating func add(_ observation: SeriesObservation) {
        switch observation {
        case .passed(let passed):
            n += 1
            if passed { passes += 1 }
        case .score(let score):
            guard (1...5).contains(score) else { return }
            n += 1
            var counts = scores ?? [0, 0, 0, 0, 0]
            counts[score - 1] += 1
            scores = counts
        case .value(let value):
            guard value > 0, value.isFinite else { return }
            n += 1
            let x = log(value)
            logSum += x
            logSumOfSquares += x * x
        }
    }

    public mutating func merge(_ other: SeriesTally) {
        n += other.n
        passes += other.passes
        if let more = other.scores {
            let counts = scores ?? [0, 0, 0, 0, 0]
            scores = zip(counts, more).map(+)
        }
        logSum += other.logSum
        logSumOfSquares += other.logSumOfSquares
    }

    public var passRateBaseline: PassRateBaseline { PassRateBaseline(samples: n, passes: passes) }
    public var scoreBaseline: ScoreBaseline { ScoreBaseline(counts: scores ?? [0, 0, 0, 0, 0]) }
    public var logValueBaseline: LogValueBaseline {
        guard n > 0 else { return LogValueBaseline() }
        let mean = logSum / Double(n)
        let variance = n > 1 ? max(0, (logSumOfSquares - Double(n) * mean * mean) / Double(n - 1)) : 0
        return LogValueBaseline(samples: n, mean: mean, standardDeviation: variance.squareRoot())
    }

    /// The series' level in its own unit: a pass rate, a mean score, or the geometric mean
    /// value (the typical latency or cost).
    public func level(_ measure: SeriesMeasure) -> Double? {
        guard n > 0 else { return nil }
        switch measure {
        case .passRate: return Double(passes) / Double(n)
        case .meanScore: return scoreBaseline.mean
        case .logValue: return exp(logSum / Double(n))
        }
    }
}

/// The configuration a monitor is judged by, passed in on every call (a reload applies at once).
public struct DetectionSettings: Sendable, Equatable {
    public var minDrop: Double
    public var falseAlarmEvery: Double
    public var baselineMinSamples: Int
    public var resolveSamples: Int
    /// k: the number of series sharing the false-alarm budget.
    public var seriesCount: Int
    /// `min_pass_rate` of the check or judge, if any.
    public var minPassRate: Double?

    /// How far back the baseline looks: long enough for thousands of samples on a quiet
    /// series, short enough to follow a product that changes on purpose.
    public static let baselineDays: Int64 = 14
    /// A judge's mean score: the smallest drop that matters, tied to min_drop (0.1 points at
    /// the default 0.05, the drop the detection benchmark designs for).
    public var minMeanDrop: Double { 2 * minDrop }
    /// Latency and cost: the smallest rise that matters (25% slower or dearer).
    public static let minRatio = 1.25
    /// A series still min_drop below baseline resolves falsely less than once per this many samples.
    public static let falseResolveEvery = 100_000.0

    public init(
        minDrop: Double, falseAlarmEvery: Double, baselineMinSamples: Int, resolveSamples: Int,
        seriesCount: Int, minPassRate: Double? = nil
    ) {
        self.minDrop = minDrop
        self.falseAlarmEvery = falseAlarmEvery
        self.baselineMinSamples = baselineMinSamples
        self.resolveSamples = resolveSamples
        self.seriesCount = seriesCount
        self.minPassRate = minPassRate
    }

    public init(_ config: DetectionConfig, seriesCount: Int, minPassRate: Double? = nil) {
        self.init(
            minDrop: config.minDrop, falseAlarmEvery: config.falseAlarmEvery, baselineMinSamples: config.baselineMinSamples,
            resolveSamples: config.resolveSamples, seriesCount: seriesCount, minPassRate: minPassRate)
    }
}

/// What a monitor reports after a sample.
public enum SeriesEvent: Sendable, Equatable {
    /// The sequential detector crossed its threshold: fire a regression alert.
    case regression(SeriesFinding)
    /// The recovery detector resolved the open regression.
    case recovered(RecoveryNumbers)
    /// The static floor (`min_pass_rate`) was breached.
    case floorBreached(FloorFinding)
    /// The floor's alert ends: a fresh window at or above it, or the floor was removed (nil).
    case floorCleared(FloorNumbers?)
}

/// The numbers behind a regression alarm: baseline, current, counts, the statistic.
public struct RegressionNumbers: Sendable, Equatable {
    /// The baseline's level (pass rate, mean score, typical value) and its sample count.
    public var baseline: Double?
    public var baselineSamples: Int
    /// The level since the estimated start, over `samples` samples.
    public var current: Double?
    public var samples: Int
    public var statistic: Double
    public var threshold: Double
    /// The in-control run length the threshold was designed for.
    public var targetARL: Double
    /// The estimated start (unix time): the last time the statistic was 0.
    public var changeStart: Double?

    public init(
        baseline: Double?, baselineSamples: Int, current: Double?, samples: Int, statistic: Double, threshold: Double,
        targetARL: Double, changeStart: Double?
    ) {
        self.baseline = baseline
        self.baselineSamples = baselineSamples
        self.current = current
        self.samples = samples
        self.statistic = statistic
        self.threshold = threshold
        self.targetARL = targetARL
        self.changeStart = changeStart
    }

    /// The form stored with the alert and sent in payloads.
    public var values: [String: Double] {
        var values: [String: Double] = [
            "baseline_n": Double(baselineSamples), "n": Double(samples), "statistic": statistic,
            "threshold": threshold, "target_arl": targetARL,
        ]
        values["baseline"] = baseline
        values["current"] = current
        values["change_start"] = changeStart
        return values
    }
}

/// The numbers of a resolution: the frozen baseline and the level since the alert fired.
public struct RecoveryNumbers: Sendable, Equatable {
    public var baseline: Double
    public var baselineSamples: Int
    public var current: Double?
    public var samples: Int

    public var values: [String: Double] {
        var values: [String: Double] = ["baseline": baseline, "baseline_n": Double(baselineSamples), "n": Double(samples)]
        values["current"] = current
        return values
    }
}

/// A static floor's window: its pass rate against `min_pass_rate`, and the window's upper
/// bound (z = 3) when it fired.
public struct FloorNumbers: Sendable, Equatable {
    public var minPassRate: Double
    public var current: Double
    public var samples: Int
    public var upperBound: Double?

    public init(minPassRate: Double, current: Double, samples: Int, upperBound: Double? = nil) {
        self.minPassRate = minPassRate
        self.current = current
        self.samples = samples
        self.upperBound = upperBound
    }

    public var values: [String: Double] {
        var values: [String: Double] = ["min_pass_rate": minPassRate, "current": current, "n": Double(samples)]
        values["ci_high"] = upperBound
        return values
    }
}

/// A regression alarm: its numbers, up to 5 evaluations that pushed the statistic up (newest
/// last), and the estimated start of the regression (Page 1954).
public struct SeriesFinding: Sendable, Equatable {
    public var numbers: RegressionNumbers
    public var examples: [Int64]
    public var changeStart: Date? { numbers.changeStart.map(Date.init(timeIntervalSince1970:)) }
}

/// A floor breach: its window's numbers and the last failing evaluations.
public struct FloorFinding: Sendable, Equatable {
    public var numbers: FloorNumbers
    public var examples: [Int64]
}

/// One series' detection state: its baseline by UTC day, the sequential detector and
/// its state, the recovery detector while an alert is open, and a static floor. Codable, so
/// the daemon stores it after every round and a restart resumes exactly.
///
/// Baseline hygiene: a sample joins the baseline only once the excursion it belongs to has
/// ended with the statistic back at 0; the samples of an excursion that ends in an alarm (the
/// regression itself, from its estimated start) never do, and nothing does while an alert is
/// open (the baseline is frozen). So the baseline is the series' own history minus the periods
/// under alert, without any look-back query.
public struct SeriesMonitor: Codable, Sendable, Equatable {
    public enum Detector: Codable, Sendable, Equatable {
        case passRate(BernoulliCUSUM.Design)
        case meanScore(ScoreCUSUM.Design)
        case logValue(LogValueCUSUM.Design)
    }

    public enum Recovery: Codable, Sendable, Equatable {
        case passRate(RecoveryCUSUM.Design)
        case meanScore(ScoreRecovery.Design)
        case logValue(LogValueRecovery.Design)
    }

    public struct OpenRegression: Codable, Sendable, Equatable {
        public var firedAt: Double
        public var recovery: Recovery
        public var recoveryState = CUSUMState()
        public var sinceFiring = SeriesTally()
        /// The frozen baseline's level and count, for the resolution's numbers.
        public var baselineLevel: Double
        public var baselineSamples: Int
    }

    public struct Floor: Codable, Sendable, Equatable {
        /// The last outcomes, oldest first (1 = pass).
        public var window: [UInt8] = []
        public var open = false
        public var sinceFiring = 0
        public var examples: [Int64] = []
    }

    public let key: SeriesKey
    /// The judge identity the series belongs to; a new identity starts a new series.
    public var identity: String?
    /// Baseline samples per UTC day (by unix day number; a JSON object keyed by the number, as
    /// state written with string keys was).
    public var baselineDays: [Int: SeriesTally] = [:]
    /// Every sample seen per UTC day, for the sampled rate.
    public var trafficDays: [Int: Int] = [:]
    public var firstSeenAt: Double?
    /// Samples of the current excursion (statistic above 0), not yet in the baseline.
    public var pending = SeriesTally()
    public var detector: Detector?
    public var state = CUSUMState()
    public var designedSamples = 0
    public var designedARL = 0.0
    /// The last design attempt failed (e.g. the series can never fail): wait for the baseline
    /// or the target to move 2x before trying again, as for a redesign.
    public var designFailed: Bool?
    /// Designs made (or attempted) since the series started, for the daemon's counters.
    public var designs: Int?
    public var changeStartAt: Double?
    public var examples: [Int64] = []
    public var open: OpenRegression?
    public var floor: Floor?
    /// The statistic is past half its threshold and no alert is open (the confirmation boost).
    public private(set) var suspect = false
    public var lastSampleAt: Double?

    public init(key: SeriesKey, identity: String? = nil) {
        self.key = key
        self.identity = identity
    }

    static func day(_ t: Double) -> Int64 { Int64((t / 86400).rounded(.down)) }

    /// The baseline tally over the window ending at `t`.
    public func baseline(at t: Double) -> SeriesTally {
        let first = Self.day(t) - DetectionSettings.baselineDays + 1
        var total = SeriesTally()
        for (day, tally) in baselineDays where Int64(day) >= first { total.merge(tally) }
        return total
    }

    /// Samples per second this series observes: its traffic over the baseline window.
    public func sampledPerSecond(at t: Double) -> Double {
        let first = Self.day(t) - DetectionSettings.baselineDays + 1
        let count = trafficDays.reduce(0) { $0 + (Int64($1.key) >= first ? $1.value : 0) }
        let windowStart = Double(first) * 86400
        let since = max(windowStart, firstSeenAt ?? t)
        return Double(count) / max(3600, t - since)
    }

    /// Feeds one sample; returns what the daemon must act on.
    public mutating func observe(
        _ observation: SeriesObservation, at date: Date, evaluationID: Int64,
        settings: DetectionSettings
    ) -> [SeriesEvent] {
        let t = date.timeIntervalSince1970
        if firstSeenAt == nil { firstSeenAt = t }
        lastSampleAt = max(lastSampleAt ?? t, t)
        trafficDays[Int(Self.day(t)), default: 0] += 1
        var events: [SeriesEvent] = []
        if let event = observeFloor(observation, evaluationID: evaluationID, settings: settings) { events.append(event) }

        if var regression = open {
            suspect = false
            regression.sinceFiring.add(observation)
            if updateRecovery(&regression, observation) {
                let numbers = RecoveryNumbers(
                    baseline: regression.baselineLevel, baselineSamples: regression.baselineSamples,
                    current: regression.sinceFiring.level(key.measure), samples: regression.sinceFiring.n)
                open = nil
                restartDetector()
                events.append(.recovered(numbers))
            } else {
                open = regression
            }
            return events
        }

        guard let detector else {
            addToBaseline(observation, at: t)
            designIfDue(at: t, settings: settings)
            return events
        }
        let before = state.statistic
        let decision = step(detector, observation)
        if state.statistic == 0 {
            pending.add(observation)
            addPendingToBaseline(at: t)
            changeStartAt = nil
            examples = []
            suspect = false
            // Armed: a redesign only matters when the baseline doubled or halved, so look every
            // 64 samples rather than on each (the check sums the baseline's days).
            if state.samplesSeen % 64 == 0 { designIfDue(at: t, settings: settings) }
            return events
        }
        pending.add(observation)
        if changeStartAt == nil { changeStartAt = t }
        if state.statistic > before {
            examples.append(evaluationID)
            if examples.count > 5 { examples.removeFirst(examples.count - 5) }
        }
        switch decision {
        case .quiet: suspect = false
        case .suspect: suspect = true
        case .alarm(let alarm):
            suspect = false
            if let finding = fire(alarm, at: t, settings: settings) { events.append(.regression(finding)) }
        }
        return events
    }

    private mutating func step(_ detector: Detector, _ observation: SeriesObservation) -> CUSUMDecision {
        switch (detector, observation) {
        case (.passRate(let design), .passed(let passed)):
            var cusum = BernoulliCUSUM(design: design, state: state)
            defer { state = cusum.state }
            return cusum.update(failed: !passed)
        case (.meanScore(let design), .score(let score)) where (1...5).contains(score):
            var cusum = ScoreCUSUM(design: design, state: state)
            defer { state = cusum.state }
            return cusum.update(score: score)
        case (.logValue(let design), .value(let value)):
            var cusum = LogValueCUSUM(design: design, state: state)
            defer { state = cusum.state }
            return cusum.update(value: value)
        default:
            return .quiet
        }
    }

    private func updateRecovery(_ regression: inout OpenRegression, _ observation: SeriesObservation) -> Bool {
        switch (regression.recovery, observation) {
        case (.passRate(let design), .passed(let passed)):
            var recovery = RecoveryCUSUM(design: design, state: regression.recoveryState)
            defer { regression.recoveryState = recovery.state }
            return recovery.update(failed: !passed)
        case (.meanScore(let design), .score(let score)) where (1...5).contains(score):
            var recovery = ScoreRecovery(design: design, state: regression.recoveryState)
            defer { regression.recoveryState = recovery.state }
            return recovery.update(score: score)
        case (.logValue(let design), .value(let value)):
            var recovery = LogValueRecovery(design: design, state: regression.recoveryState)
            defer { regression.recoveryState = recovery.state }
            return recovery.update(value: value)
        default:
            return false
        }
    }

    /// The alarm: freeze the baseline, drop the excursion's samples (they are the regression),
    /// start the recovery detector.
    private mutating func fire(_ alarm: CUSUMAlarm, at t: Double, settings: DetectionSettings) -> SeriesFinding? {
        let base = baseline(at: t)
        // The design outlived its baseline (the series was idle longer than the window):
        // disarm and learn again rather than fire against nothing.
        guard base.n >= settings.baselineMinSamples, let level = base.level(key.measure), level.isFinite else {
            detector = nil
            designedSamples = 0
            restartDetector()
            return nil
        }
        let recovery: Recovery
        do {
            switch key.measure {
            case .passRate:
                recovery = .passRate(
                    try RecoveryCUSUM(
                        baseline: base.passRateBaseline, minDrop: settings.minDrop,
                        resolveSamples: settings.resolveSamples,
                        falseResolveEvery: DetectionSettings.falseResolveEvery
                    ).design)
            case .meanScore:
                recovery = .meanScore(
                    try ScoreRecovery(
                        baseline: base.scoreBaseline, minMeanDrop: settings.minMeanDrop,
                        resolveSamples: settings.resolveSamples,
                        falseResolveEvery: DetectionSettings.falseResolveEvery
                    ).design)
            case .logValue:
                recovery = .logValue(
                    try LogValueRecovery(
                        baseline: base.logValueBaseline, minRatio: DetectionSettings.minRatio,
                        resolveSamples: settings.resolveSamples,
                        falseResolveEvery: DetectionSettings.falseResolveEvery
                    ).design)
            }
        } catch {
            // No recovery detector can be built for this baseline (it leaves no room for the
            // drop); the design step refuses such baselines, so this is a corrupt state: start over.
            restartDetector()
            return nil
        }
        let numbers = RegressionNumbers(
            baseline: base.level(key.measure), baselineSamples: base.n, current: pending.level(key.measure),
            samples: alarm.samplesSinceChange, statistic: alarm.statistic, threshold: alarm.threshold,
            targetARL: designedARL, changeStart: changeStartAt)
        let finding = SeriesFinding(numbers: numbers, examples: examples)
        open = OpenRegression(firedAt: t, recovery: recovery, baselineLevel: level, baselineSamples: base.n)
        pending = SeriesTally()
        return finding
    }

    private mutating func restartDetector() {
        state = CUSUMState(lastZeroIndex: state.samplesSeen, samplesSeen: state.samplesSeen)
        pending = SeriesTally()
        changeStartAt = nil
        examples = []
        suspect = false
    }

    private mutating func addToBaseline(_ observation: SeriesObservation, at t: Double) {
        let day = Int(Self.day(t))
        if baselineDays[day] == nil { pruneDays(at: t) }
        baselineDays[day, default: SeriesTally()].add(observation)
    }

    private mutating func addPendingToBaseline(at t: Double) {
        let day = Int(Self.day(t))
        if baselineDays[day] == nil { pruneDays(at: t) }
        baselineDays[day, default: SeriesTally()].merge(pending)
        pending = SeriesTally()
    }

    private mutating func pruneDays(at t: Double) {
        let first = Self.day(t) - DetectionSettings.baselineDays + 1
        // Keep a day of slack: samples arrive a little out of order.
        baselineDays = baselineDays.filter { Int64($0.key) >= first - 1 }
        trafficDays = trafficDays.filter { Int64($0.key) >= first - 1 }
    }

    /// (Re)designs the detector when the baseline is ready and has changed enough since the
    /// last design (twice or half the samples, or a target run length off by 2x): a design
    /// solves Brook-Evans chains (tens of milliseconds), and the guard already allows for the
    /// smaller baseline's error. Only called with the statistic at 0, where a new design loses
    /// nothing.
    mutating func designIfDue(at t: Double, settings: DetectionSettings) {
        let base = baseline(at: t)
        guard base.n >= settings.baselineMinSamples else {
            detector = nil
            return
        }
        let arl = DetectionBudget.targetARL(
            falseAlarmEvery: settings.falseAlarmEvery, sampledPerSecond: sampledPerSecond(at: t),
            seriesCount: settings.seriesCount)
        if detector != nil || designFailed == true, designedSamples > 0, base.n < 2 * designedSamples, 2 * base.n > designedSamples,
            arl / designedARL < 2, designedARL / arl < 2
        {
            return
        }
        designs = (designs ?? 0) + 1
        designedSamples = base.n
        designedARL = arl
        designFailed = nil
        do {
            switch key.measure {
            case .passRate:
                detector = .passRate(
                    try BernoulliCUSUM(
                        baseline: base.passRateBaseline, minDrop: settings.minDrop, targetARL: arl,
                        guard: .standard(minDrop: settings.minDrop)
                    ).design)
            case .meanScore:
                detector = .meanScore(try ScoreCUSUM(baseline: base.scoreBaseline, minMeanDrop: settings.minMeanDrop, targetARL: arl).design)
            case .logValue:
                detector = .logValue(
                    try LogValueCUSUM(
                        baseline: base.logValueBaseline, minRatio: DetectionSettings.minRatio,
                        targetARL: arl
                    ).design)
            }
        } catch {
            detector = nil
            designFailed = true
        }
    }

    // MARK: static floor

    static let floorZ = 3.0

    /// The floor's window: at least 100 samples and resolve_samples, and enough that a window
    /// without a failure has its upper bound clear of the floor by a margin (9 floor / (1 -
    /// floor) samples put the z = 3 bound of a perfect window at the floor itself), so a high
    /// floor (0.99) is not blind to drops a small window cannot resolve.
    public static func floorWindow(minimum: Double, resolveSamples: Int) -> Int {
        let resolving = minimum < 1 ? Int((9 * minimum / (1 - minimum)).rounded(.up)) : 2_000
        return max(100, resolveSamples, min(2_000, resolving))
    }

    private mutating func observeFloor(_ observation: SeriesObservation, evaluationID: Int64, settings: DetectionSettings) -> SeriesEvent? {
        guard key.measure == .passRate, let minimum = settings.minPassRate, case .passed(let passed) = observation else {
            // A floor removed from the config while it fired: its alert must not stay open.
            let wasOpen = floor?.open == true
            floor = nil
            return wasOpen ? .floorCleared(nil) : nil
        }
        var floor = self.floor ?? Floor()
        defer { self.floor = floor }
        let size = Self.floorWindow(minimum: minimum, resolveSamples: settings.resolveSamples)
        floor.window.append(passed ? 1 : 0)
        if floor.window.count > size { floor.window.removeFirst(floor.window.count - size) }
        if !passed {
            floor.examples.append(evaluationID)
            if floor.examples.count > 5 { floor.examples.removeFirst() }
        }
        let n = floor.window.count
        let passes = floor.window.reduce(0) { $0 + Int($1) }
        let rate = Double(passes) / Double(n)
        var numbers = FloorNumbers(minPassRate: minimum, current: rate, samples: n)
        let bounds = WilsonInterval.bounds(passes: Int64(passes), n: Int64(n), z: Self.floorZ)
        if floor.open {
            floor.sinceFiring += 1
            // Cleared by a whole fresh window at or above the floor: firing needed a confident
            // breach, so a series sitting on the floor clears and does not fire again at once.
            if floor.sinceFiring >= size, rate >= minimum {
                floor.open = false
                return .floorCleared(numbers)
            }
            return nil
        }
        // Fire only when the window is full and even its upper bound is under the floor: a floor
        // is a hard line, but not one crossed by a few unlucky samples. z = 3 because the window
        // slides: it is tested after every sample.
        guard n == size, let bounds, bounds.high < minimum else {
            return nil
        }
        floor.open = true
        floor.sinceFiring = 0
        numbers.upperBound = bounds.high
        return .floorBreached(FloorFinding(numbers: numbers, examples: floor.examples))
    }
}
