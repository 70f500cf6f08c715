import Foundation

/// The threshold of a lattice CUSUM for a target in-control average run length (ARL), by
/// the Markov chain of Brook and Evans (1972).
///
/// With S on the lattice {0, 1, ..., N-1} (in units; N = threshold) and the increment taking
/// value d with probability p_d, the transient states form a chain with R[i][j] = sum of p_d
/// over d with max(0, i + d) = j and i + d < N. The expected run lengths from every state
/// solve (I - R) L = 1, and the ARL from a fresh start is L[0]. I - R is banded (lower
/// bandwidth = the largest downward step, upper = the largest upward step), and it is a
/// nonsingular M-matrix whenever an upward step has positive probability, so Gaussian
/// elimination without pivoting is stable and costs N x up x down.
public enum CUSUMThreshold {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The ARL from S = 0 for threshold N units: exact where the chain is small, the
    /// chain's exponential tail beyond (`RunLengthCurve`).
    public static func averageRunLength(steps: [LatticeStep], thresholdUnits n: Int) -> Double {
        RunLengthCurve(steps: steps).averageRunLength(thresholdUnits: n)
    }

    /// The ARL from S = 0 for threshold N units by the chain itself (cost N x up x down).
    public static func exactAverageRunLength(steps: [LatticeStep], thresholdUnits n: Int) -> Double {
        precondition(n > 0)
        let up = max(0, steps.map(\.units).max() ?? 0)
        let down = max(0, -(steps.map(\.units).min() ?? 0))
        let width = up + down + 1
        // band[i * width + (j - i + down)] holds (I - R)[i][j].
        var band = [Double](repeating: 0, count: n * width)
        var rhs = [Double](repeating: 1, count: n)
        band.withUnsafeMutableBufferPointer { buffer in
            // Raw pointers: the loops below stay inside the band by construction, and
            // unchecked access keeps debug builds (the tests) fast.
            let m = buffer.baseAddress!
            for i in 0..<n {
                m[i * width + down] += 1
                for step in steps where step.probability > 0 {
                    let target = i + step.units
                    if target >= n { continue }  // absorbed: the alarm
                    let j = max(0, target)
                    m[i * width + (j - i + down)] -= step.probability
                }
            }
            rhs.withUnsafeMutableBufferPointer { rhsBuffer in
                let b = rhsBuffer.baseAddress!
                // Forward elimination within the band; no fill-in outside it without pivoting.
                for k in 0..<n {
                    let pivot = m[k * width + down]
                    let lastRow = min(n - 1, k + down)
                    let lastColumn = min(n - 1, k + up)
                    if k + 1 > lastRow { continue }
                    for i in (k + 1)...lastRow {
                        let ik = i * width + (k - i + down)
                        let factor = m[ik] / pivot
                        if factor == 0 { continue }
                        m[ik] = 0
                        if k + 1 <= lastColumn {
                            for j in (k + 1)...lastColumn {
                                m[i * width + (j - i + down)] -= factor * m[k * width + (j - k + down)]
                            }
                        }
                        b[i] -= factor * b[k]
                    }
                }
                for i in stride(from: n - 1, through: 0, by: -1) {
                    var sum = b[i]
                    let lastColumn = min(n - 1, i + up)
                    if i + 1 <= lastColumn {
                        for j in (i + 1)...lastColumn { sum -= m[i * width + (j - i + down)] * b[j] }
                    }
                    b[i] = sum / m[i * width + down]
                }
            }
        }
        return rhs[0]
    }

    /// The smallest threshold N (in units) whose in-control ARL is at least `targetARL`.
    public static func thresholdUnits(steps: [LatticeStep], targetARL: Double, maxUnits: Int = maxThresholdUnits) throws -> Int {
        guard steps.contains(where: { $0.units > 0 && $0.probability > 0 }) else {
            throw Problem(description: "the CUSUM can never rise under this distribution; no threshold is needed")
        }
        return try thresholdUnits(curves: [(RunLengthCurve(steps: steps), 1)], targetARL: targetARL, maxUnits: maxUnits)
    }

    /// Thresholds are searched up to this many units; the tail makes any of them cheap, and a
    /// threshold this high would never fire on a real drop anyway.
    public static let maxThresholdUnits = 1 << 40

    /// The smallest threshold N whose ARL averaged over several distributions (the nodes of a
    /// guard against an uncertain baseline, with weights summing to 1) reaches the target: the
    /// false-alarm rate sum w_i / ARL_i(N) is at most 1 / target.
    ///
    /// The cost does not grow with the target: each curve factorises its chain once, up to
    /// its exact limit, and answers every threshold below it in O(1) and every one beyond it in
    /// closed form; the search is a bracket by doubling and a bracketed secant on ln ARL
    /// (close to linear in N).
    public static func thresholdUnits(
        curves: [(curve: RunLengthCurve, weight: Double)], targetARL: Double,
        maxUnits: Int = maxThresholdUnits
    ) throws -> Int {
        guard targetARL > 1 else { return 1 }
        let goal = log(targetARL)
        // ln of the averaged run length, -ln sum w_i e^(-ln ARL_i), without overflow.
        func logRunLength(_ n: Int) -> Double {
            let logs = curves.map { $0.curve.logAverageRunLength(thresholdUnits: n) }
            let finite = zip(logs, curves).filter { $0.0.isFinite && $0.1.weight > 0 }
            guard let smallest = finite.map(\.0).min() else { return .infinity }
            let sum = finite.reduce(0) { $0 + $1.1.weight * exp(smallest - $1.0) }
            return smallest - log(sum)
        }
        // Bracket: low < N* <= high (low = 0 stands for "nothing shorter", ln ARL = 0). The
        // steps aim with the steepest tail rate, which ln ARL never outgrows, so they land
        // short of N* rather than past it (a step past it would factorise chains no threshold
        // needs); after a few, doubling takes over in case the averaged curve grows slowly.
        let steepest = curves.map(\.curve.tailRate).max() ?? 0
        func aim(from value: Double) -> Int {
            guard steepest > 0 else { return 1 }
            return max(1, Int(min(Double(maxUnits), ((goal - value) / steepest).rounded(.up))))
        }
        var low = 0, lowValue = 0.0
        var high = min(maxUnits, aim(from: 0))
        var highValue = logRunLength(high)
        var steps = 0
        while highValue < goal {
            guard high < maxUnits else {
                throw Problem(description: "no threshold below \(maxUnits) units reaches an ARL of \(targetARL)")
            }
            steps += 1
            let step = steps <= 4 ? aim(from: highValue) : max(1, high - low) * 2
            low = high; lowValue = highValue
            high = min(maxUnits, low + step)
            highValue = logRunLength(high)
        }
        return refine(low: low, lowValue: lowValue, high: high, highValue: highValue, goal: goal, logRunLength)
    }

    /// Regula falsi on ln ARL (Illinois-like, so one end cannot stick), rounded to integers
    /// and kept strictly inside the bracket, with bisection once the secant stops halving it.
    private static func refine(
        low: Int, lowValue: Double, high: Int, highValue: Double, goal: Double,
        _ logRunLength: (Int) -> Double
    ) -> Int {
        var low = low, lowValue = lowValue, high = high, highValue = highValue
        var lowWeight = 1.0, highWeight = 1.0
        while high - low > 1 {
            let width = high - low
            var mid: Int
            let denominator = highWeight * (highValue - goal) - lowWeight * (lowValue - goal)
            if denominator > 0, highValue.isFinite {
                let t = -lowWeight * (lowValue - goal) / denominator
                mid = low + Int((t * Double(width)).rounded())
            } else {
                mid = low + width / 2
            }
            mid = min(high - 1, max(low + 1, mid))
            let value = logRunLength(mid)
            if value >= goal {
                high = mid; highValue = value
                lowWeight /= 2; highWeight = 1
            } else {
                low = mid; lowValue = value
                highWeight /= 2; lowWeight = 1
            }
            if high - low > width / 2 {
                // The secant moved the bracket by little: also test the midpoint.
                let half = low + (high - low) / 2
                if half > low, half < high {
                    let halfValue = logRunLength(half)
                    if halfValue >= goal { high = half; highValue = halfValue } else { low = half; lowValue = halfValue }
                }
            }
        }
        return high
    }

    /// A lattice unit for the given real increments: the smallest nonzero increment spans
    /// about `resolution` units (rounding error <= 1/(2 x resolution) of it), unless that
    /// makes the largest span more than `maxSpan` units (the cost of the chain grows with it).
    public static func unit(for increments: [Double], resolution: Double = 10, maxSpan: Double = 200) -> Double {
        let magnitudes = increments.map(abs).filter { $0 > 1e-12 }
        guard let smallest = magnitudes.min(), let largest = magnitudes.max() else { return 1 }
        return max(smallest / resolution, largest / maxSpan)
    }
}
