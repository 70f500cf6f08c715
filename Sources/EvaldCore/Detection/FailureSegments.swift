import Foundation

/// Where the failures behind a regression concentrate (`evald explain a-N`): for each segment
/// (tenant, prompt version, provider version, tool, error class, input length, input
/// language), its share of the failing traces and of the traffic since the alarm's estimated
/// start, and whether it is significantly over-represented, corrected for the number of
/// segments tried. On-call's first question: everyone, or one customer, one tool, one kind of
/// input?
public enum FailureSegments {
    /// One evaluated trace as the analysis sees it.
    public struct Trace: Sendable, Equatable {
        public var failed: Bool
        /// Dimension name -> value (`tenant` -> `acme`); a missing dimension is not a segment.
        public var segments: [String: String]

        public init(failed: Bool, segments: [String: String]) {
            self.failed = failed
            self.segments = segments
        }
    }

    public struct Segment: Sendable, Equatable {
        public var dimension: String
        public var value: String
        /// Since the estimated start: the segment's failures and traces, and the totals.
        public var failures: Int
        public var traces: Int
        public var failureShare: Double
        public var trafficShare: Double
        /// The segment's failure rate now and in the baseline period (nil without baseline traces).
        public var failureRate: Double
        public var baselineFailureRate: Double?
        /// One-sided p-value that the segment fails more than the rest now, and (when there is a
        /// baseline) that it fails more than it did before; the larger of the two.
        public var pValue: Double
        /// Significant at `alpha` after the Bonferroni correction for the segments tried.
        public var significant: Bool
    }

    /// Segments need this many failing traces to be tried (fewer cannot be significant anyway).
    public static let minFailures = 5

    /// - Returns: every segment with at least `minFailures` failures, over-represented ones
    ///   first (by failure share minus traffic share).
    public static func analyze(current: [Trace], baseline: [Trace], alpha: Double = 0.05) -> [Segment] {
        let totalFailures = current.count { $0.failed }
        guard totalFailures > 0 else { return [] }
        struct Tally {
            var failures = 0
            var traces = 0
        }
        var now: [String: [String: Tally]] = [:]
        var before: [String: [String: Tally]] = [:]
        for trace in current {
            for (dimension, value) in trace.segments {
                now[dimension, default: [:]][value, default: Tally()].traces += 1
                if trace.failed { now[dimension, default: [:]][value, default: Tally()].failures += 1 }
            }
        }
        for trace in baseline {
            for (dimension, value) in trace.segments {
                before[dimension, default: [:]][value, default: Tally()].traces += 1
                if trace.failed { before[dimension, default: [:]][value, default: Tally()].failures += 1 }
            }
        }
        var segments: [Segment] = []
        for (dimension, values) in now {
            // A dimension only some traces carry is compared among those that carry it.
            let carrying = values.values.reduce(Tally()) { Tally(failures: $0.failures + $1.failures, traces: $0.traces + $1.traces) }
            for (value, tally) in values where tally.failures >= minFailures {
                let rest = Tally(failures: carrying.failures - tally.failures, traces: carrying.traces - tally.traces)
                // A segment that is all the traffic is everyone, not a concentration.
                guard rest.traces > 0 else { continue }
                let rate = Double(tally.failures) / Double(tally.traces)
                var p = oneSidedP(tally.failures, tally.traces, rest.failures, rest.traces)
                var baselineRate: Double?
                if let old = before[dimension]?[value], old.traces > 0 {
                    baselineRate = Double(old.failures) / Double(old.traces)
                    p = max(p, oneSidedP(tally.failures, tally.traces, old.failures, old.traces))
                }
                segments.append(
                    Segment(
                        dimension: dimension, value: value, failures: tally.failures, traces: tally.traces,
                        failureShare: Double(tally.failures) / Double(carrying.failures), trafficShare: Double(tally.traces) / Double(carrying.traces),
                        failureRate: rate, baselineFailureRate: baselineRate, pValue: p, significant: false))
            }
        }
        let tried = max(1, segments.count)
        for index in segments.indices { segments[index].significant = segments[index].pValue < alpha / Double(tried) }
        return segments.sorted {
            ($0.significant ? 1 : 0, $0.failureShare - $0.trafficShare, $1.dimension, $1.value)
                > ($1.significant ? 1 : 0, $1.failureShare - $1.trafficShare, $0.dimension, $0.value)
        }
    }

    /// One-sided p-value of a two-proportion z-test that x1/n1 > x2/n2 (pooled variance).
    static func oneSidedP(_ x1: Int, _ n1: Int, _ x2: Int, _ n2: Int) -> Double {
        guard n1 > 0, n2 > 0 else { return 1 }
        let p1 = Double(x1) / Double(n1), p2 = Double(x2) / Double(n2)
        let pooled = Double(x1 + x2) / Double(n1 + n2)
        let variance = pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))
        guard variance > 0 else { return p1 > p2 ? 0 : 1 }
        let z = (p1 - p2) / variance.squareRoot()
        return 0.5 * erfc(z / 2.squareRoot())
    }

    /// `<500`, `500-2k`, `2k-8k`, `8k+` input tokens.
    public static func inputLengthBucket(_ tokens: Int?) -> String? {
        guard let tokens else { return nil }
        switch tokens {
        case ..<500: return "<500 tokens"
        case ..<2000: return "500-2k tokens"
        case ..<8000: return "2k-8k tokens"
        default: return "8k+ tokens"
        }
    }

    /// The input's script, and for Latin text its language among a few by stop words: enough to
    /// tell "the German inputs fail" from "everyone fails".
    public static func language(of text: String) -> String? {
        var latin = 0, cyrillic = 0, cjk = 0, arabic = 0, other = 0
        for scalar in text.unicodeScalars.prefix(2000) where scalar.properties.isAlphabetic {
            switch scalar.value {
            case 0x41...0x24F: latin += 1
            case 0x400...0x4FF: cyrillic += 1
            case 0x3040...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7AF: cjk += 1
            case 0x600...0x6FF: arabic += 1
            default: other += 1
            }
        }
        let total = latin + cyrillic + cjk + arabic + other
        guard total >= 3 else { return nil }
        if cyrillic * 2 > total { return "cyrillic" }
        if cjk * 2 > total { return "cjk" }
        if arabic * 2 > total { return "arabic" }
        guard latin * 2 > total else { return "other" }
        let words = text.lowercased().split { !$0.isLetter }.prefix(300)
        let stopWords: [(String, Set<Substring>)] = [
            ("en", ["the", "and", "is", "are", "you", "what", "my", "to", "of", "it", "how", "where"]),
            ("de", ["der", "die", "das", "und", "ist", "nicht", "ich", "mein", "wie", "wo", "ein", "eine"]),
            ("fr", ["le", "la", "les", "et", "est", "je", "mon", "ma", "pas", "une", "des", "où"]),
            ("es", ["el", "los", "las", "y", "es", "mi", "no", "una", "por", "qué", "dónde", "está"]),
            ("nl", ["de", "het", "een", "en", "is", "niet", "ik", "mijn", "waar", "wat", "van", "zijn"]),
        ]
        var best: (String, Int)?
        for (language, set) in stopWords {
            let hits = words.count { set.contains($0) }
            if hits > (best?.1 ?? 0) { best = (language, hits) }
        }
        return best?.0 ?? "latin"
    }
}
