/// What a judge's reply means: a number on a closed range, or a verdict.
public enum JudgeScale: Sendable, Equatable {
    case numeric(min: Double, max: Double)
    /// The reply carries `{"pass": true|false}`; stored as the score 1 or 0, so pass rates and
    /// mean scores of both kinds of judges go through the same series.
    case passFail

    /// The `pass_at` a numeric rubric gets when it names none: three quarters of the way up the
    /// scale, rounded to a whole score (4 on 1-5, 8 on 0-10, 3 on 0-4). Judges grade leniently,
    /// so the upper quarter is where an answer a reviewer would accept usually lands.
    public var defaultPassAt: Double {
        switch self {
        case .numeric(let min, let max): return (min + 0.75 * (max - min)).rounded(.toNearestOrAwayFromZero)
        case .passFail: return 1
        }
    }

    /// Whether scores must be whole numbers: a numeric scale whose bounds are whole numbers at
    /// least 2 apart (1-5, 0-10, 1-100), as rubrics ask for "<integer 1-5>". A 0-1 scale takes
    /// fractions (a probability, a share of claims supported).
    public var takesWholeNumbers: Bool {
        switch self {
        case .numeric(let min, let max): return min == min.rounded() && max == max.rounded() && max - min >= 2
        case .passFail: return false
        }
    }

    public var range: ClosedRange<Double> {
        switch self {
        case .numeric(let min, let max): return min...max
        case .passFail: return 0...1
        }
    }
}

extension JudgeScale: CustomStringConvertible {
    /// As written in the front matter: `{min: 1, max: 5}` or `pass_fail`.
    public var description: String {
        switch self {
        case .numeric(let min, let max): return "{min: \(JudgeNumber.text(min)), max: \(JudgeNumber.text(max))}"
        case .passFail: return "pass_fail"
        }
    }
}

/// Numbers in messages for people: 4 rather than 4.0.
enum JudgeNumber {
    static func text(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
