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

    /// The ARL from S = 0 for threshold N units.
    public static func averageRunLength(steps: [LatticeStep], thresholdUnits n: Int) -> Double {
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

    /// The smallest threshold N (in units) whose in-control ARL is at least `targetARL`:
    /// doubling, then bisection on the integer N (the ARL grows with N).
    public static func thresholdUnits(steps: [LatticeStep], targetARL: Double, maxUnits: Int = 1 << 16) throws -> Int {
        guard steps.contains(where: { $0.units > 0 && $0.probability > 0 }) else {
            throw Problem(description: "the CUSUM can never rise under this distribution; no threshold is needed")
        }
        return try thresholdUnits(targetARL: targetARL, maxUnits: maxUnits) {
            averageRunLength(steps: steps, thresholdUnits: $0)
        }
    }

    /// The same search for any run length that grows with the threshold (e.g. one averaged
    /// over an uncertain baseline, `BaselineGuard`).
    /// `atLeast`: a threshold known to fall short or be just enough (e.g. the one for the
    /// point estimate when the run length is averaged over an uncertain baseline); the search
    /// then starts there instead of at 1.
    public static func thresholdUnits(targetARL: Double, maxUnits: Int = 1 << 16, atLeast start: Int = 1,
                                      runLength: (Int) -> Double) throws -> Int {
        guard targetARL > 1 else { return 1 }
        // Bracket: ARL(low) < target <= ARL(high); low = 0 stands for "nothing shorter".
        var low = 0, lowARL = 1.0, high = 1, highARL = 0.0
        if start > 1 {
            let startARL = runLength(start)
            if startARL >= targetARL { return start }
            low = start; lowARL = startARL
            var stride = max(1, start / 16)
            high = start + stride
            while true {
                highARL = runLength(high)
                if highARL >= targetARL { break }
                low = high; lowARL = highARL
                stride *= 2
                high += stride
                if high > maxUnits { throw Problem(description: "no threshold below \(maxUnits) units reaches an ARL of \(targetARL)") }
            }
        } else {
            while true {
                highARL = runLength(high)
                if highARL >= targetARL { break }
                low = high; lowARL = highARL
                high *= 2
                if high > maxUnits { throw Problem(description: "no threshold below \(maxUnits) units reaches an ARL of \(targetARL)") }
            }
        }
        // ln ARL is close to linear in the threshold (ARL grows like exp(h), Siegmund 1985), so
        // interpolating on it finds N in a few solves; bisection takes over if it stalls.
        var iteration = 0
        while high - low > 1 {
            iteration += 1
            var mid = (low + high) / 2
            if iteration <= 4, lowARL > 0, highARL > lowARL {
                let t = (log(targetARL) - log(lowARL)) / (log(highARL) - log(lowARL))
                mid = min(high - 1, max(low + 1, low + Int((t * Double(high - low)).rounded())))
            }
            let midARL = runLength(mid)
            if midARL >= targetARL {
                high = mid; highARL = midARL
                if iteration <= 4, mid - 1 > low {
                    let belowARL = runLength(mid - 1)
                    if belowARL < targetARL { low = mid - 1; lowARL = belowARL } else { high = mid - 1; highARL = belowARL }
                }
            } else {
                low = mid; lowARL = midARL
                if iteration <= 4, mid + 1 < high {
                    let aboveARL = runLength(mid + 1)
                    if aboveARL >= targetARL { high = mid + 1; highARL = aboveARL } else { low = mid + 1; lowARL = aboveARL }
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
