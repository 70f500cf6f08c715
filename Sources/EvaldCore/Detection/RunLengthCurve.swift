import Foundation

/// The in-control average run length (ARL) of one lattice CUSUM under one distribution of its
/// increments, as a function of the threshold, at a cost that does not grow with the threshold.
///
/// Exact region. The Brook-Evans (1972) system for threshold N is the leading N x N block of
/// one infinite banded matrix (raising the threshold only adds states), so one LU
/// factorisation without pivoting, grown row by row as far as a search asks, serves every
/// threshold below it, each ARL(N) a prefix sum (see `exact`). The region ends where the chain stops being worth solving: at an ARL of
/// `maxExactRunLength` (past about 1e12 a double can no longer tell 1 - p_stay from 1, and
/// no budget asks for more), or at `exactWork` operations.
///
/// Tail. Beyond the region the ARL of a CUSUM whose increments drift down grows exactly
/// exponentially: each excursion of S from 0 ends at 0 or at N, ARL(N) = E[excursion length,
/// truncated at N] / P(an excursion reaches N), and by the Cramer-Lundberg theorem for random
/// walks (in its lattice form; Feller 1971, XII.5; Siegmund 1985, ch. 8) P(reach N) =
/// K e^(-theta N) (1 + o(1)), with theta > 0 the root of E[e^(theta X)] = 1. So
/// c(N) = ln ARL(N) - theta N converges, geometrically, to a constant. The curve reads c at
/// three anchors at the end of the exact region and, when they converge monotonically,
/// extrapolates the geometric approach (Aitken's delta-squared, in closed form for every N),
/// else holds c at the last anchor. Both are continuous with the exact region and grow with N.
/// The tests and `Benchmarks/RESULTS.md` compare the tail with the exact chain wherever the
/// chain is feasible.
///
/// Memoizes its factorisation; made and used inside one design (not Sendable).
public final class RunLengthCurve {
    /// The increments with positive probability.
    public let steps: [LatticeStep]
    /// theta in 1/units: the exponential rate of the ARL in the threshold; 0 when the walk
    /// does not drift down (the ARL then grows polynomially, and is extrapolated linearly,
    /// which undercounts it: a threshold found that way only errs toward fewer false alarms).
    public let tailRate: Double
    /// S only visits multiples of the gcd of the increments: the ARL is a step function of N
    /// with this period.
    let period: Int
    let canRise: Bool
    let up: Int
    let down: Int
    let widest: Int
    let maxExactRunLength: Double
    let maxRows: Int

    /// Past this an ARL's last digits drown in rounding (a double cannot tell 1 - p_stay from
    /// 1), and no false-alarm budget asks for more.
    public static let defaultMaxExactRunLength = 1e13
    /// Multiply-adds of factorisation one curve may spend (a few milliseconds, release build).
    public static let defaultExactWork = 3_000_000
    /// The exact region spans at least this many of the widest steps whatever the budget: the
    /// tail's constant has settled by then (to well under 1% on every distribution the tests
    /// and the benchmark try).
    public static let minimumWidestSteps = 12

    /// The factorisation's frontier, all a further row needs: the last `down` rows of U
    /// (row k over columns k..k+up at `upper[(k % down) * (up + 1)]`) and of y = L^-1 1
    /// (`forward[k % down]`), and the right-hand sides of U^T z = e_0 for the next rows, each
    /// z_k pushed into them as soon as it is known (`dual[j - dualBase]`). Fixed in size, so a
    /// design touches the same few kilobytes whatever the threshold.
    private var upper: [Double]
    private var forward: [Double]
    private var dual: [Double]
    private var dualBase = 0
    /// `cumulative[n]` = sum over j < n of z_j y_j = ARL(n).
    private var cumulative: [Double] = [0]
    private var rows = 0
    /// Set once the exact region is closed: its last threshold and the tail's parameters.
    private var tail: (limit: Int, base: Double, gap: Double, ratio: Double, span: Double)?

    /// - Parameters:
    ///   - maxExactRunLength: the exact region ends once the ARL passes this.
    ///   - exactWork: and at this many multiply-adds of factorisation.
    public init(
        steps: [LatticeStep], maxExactRunLength: Double = defaultMaxExactRunLength,
        exactWork: Int = defaultExactWork
    ) {
        let live = steps.filter { $0.probability > 0 }
        self.steps = live
        canRise = live.contains { $0.units > 0 }
        period = max(1, live.reduce(0) { Self.gcd($0, abs($1.units)) })
        tailRate = Self.tailRate(live)
        up = max(0, live.map(\.units).max() ?? 0)
        down = max(0, -(live.map(\.units).min() ?? 0))
        widest = max(1, up, down)
        self.maxExactRunLength = maxExactRunLength
        maxRows = max(Self.minimumWidestSteps * widest, exactWork / max(1, up * max(1, down)))
        upper = [Double](repeating: 0, count: max(1, down) * (up + 1))
        forward = [Double](repeating: 0, count: max(1, down))
        dual = [Double](repeating: 0, count: 2 * (up + 1))
        dual[0] = 1
    }

    /// The last threshold solved exactly, once the exact region is closed.
    public var exactLimit: Int? { tail?.limit }

    /// ln ARL from S = 0 at a threshold of `n` units; +infinity when S can never rise.
    public func logAverageRunLength(thresholdUnits n: Int) -> Double {
        precondition(n > 0)
        guard canRise else { return .infinity }
        let blocks = (n + period - 1) / period * period
        if tail == nil, blocks > rows { grow(toward: blocks) }
        if tail == nil, blocks > rows { closeRegion() }
        if let tail, blocks > tail.limit {
            let beyond = Double(blocks - tail.limit)
            if tailRate <= 0 { return tail.base + log(Double(blocks) / Double(tail.limit)) }
            // c(N) = c(L) + gap (1 - ratio^((N - L) / span)): the geometric approach to the limit.
            return tail.base + tailRate * beyond + tail.gap * (1 - pow(tail.ratio, beyond / tail.span))
        }
        return log(exact(blocks))
    }

    public func averageRunLength(thresholdUnits n: Int) -> Double {
        exp(logAverageRunLength(thresholdUnits: n))
    }

    /// Factorises toward `target` rows and closes the exact region where the chain stops
    /// being worth solving: at the first threshold whose ARL reaches the cap (checked at every
    /// row, a prefix sum), or at the work budget.
    private func grow(toward target: Int) {
        let reachedCap = factor(through: min(target, maxRows))
        if reachedCap || rows >= maxRows { closeRegion() }
    }

    /// Ends the exact region at the rows factorised so far and fits the tail there.
    ///
    /// The tail errs on the safe side only. Where c still rises at the end of the region
    /// (the usual approach from below), c is held at its last value: the ARL beyond is
    /// underestimated by the little c has left to rise, so a threshold found there is at
    /// worst a little high, never one that alarms more often than the budget. Where c falls,
    /// its geometric approach is extrapolated (Aitken's delta-squared) when it is one, and
    /// otherwise c is taken three spans further down.
    private func closeRegion() {
        // The last threshold within the cap (the last row factorised may be the first past it).
        var limit = rows
        if !(cumulative[limit] < maxExactRunLength) { limit -= 1 }
        limit = max(period, limit / period * period)
        let base = log(exact(limit))
        let span = max(period, limit / 4 / period * period)
        var gap = 0.0, ratio = 0.0
        if tailRate > 0, limit - 2 * span >= period {
            let c = { (n: Int) -> Double in log(self.exact(n)) - self.tailRate * Double(n) }
            let (c1, c2, c3) = (c(limit - 2 * span), c(limit - span), c(limit))
            let (d1, d2) = (c2 - c1, c3 - c2)
            if d2 < 0 {
                if d1 < 0, d2 / d1 < 0.9 {
                    ratio = d2 / d1
                    gap = d2 * ratio / (1 - ratio)
                } else {
                    gap = 3 * d2
                    ratio = 0.5
                }
            }
        }
        tail = (limit, base, gap, ratio, Double(span))
    }

    /// ARL(n) for n within the factorisation, as a prefix sum: ARL(n) = x_0 of U_n x = y
    /// = sum over j < n of z_j y_j, where z solves U^T z = e_0. Both z and y are prefixes of
    /// infinite sequences (triangular solves from the top), so one pass serves every n. U of
    /// an M-matrix has a nonnegative inverse, and y = L^-1 1 >= 0: the sum has no cancellation.
    private func exact(_ n: Int) -> Double {
        if n > rows { _ = factor(through: n) }
        return cumulative[min(n, rows)]
    }

    /// Extends the factorisation (Doolittle, row by row: row i of I - R, less the multiples of
    /// the rows above it that clear its entries left of the diagonal) through row `n - 1`, with
    /// z, y and their running dot product. Stops early, returning true, after the first row
    /// whose ARL reaches the cap.
    @discardableResult
    private func factor(through n: Int) -> Bool {
        guard n > rows else { return false }
        let width = up + 1, slots = max(1, down)
        // Row i of I - R over columns i - down ... i + up.
        var row = [Double](repeating: 0, count: down + width)
        var total = cumulative[rows]
        var sums: [Double] = []
        sums.reserveCapacity(n - rows)
        let cap = maxExactRunLength
        var i = rows, base = dualBase
        upper.withUnsafeMutableBufferPointer { u in
            forward.withUnsafeMutableBufferPointer { y in
                dual.withUnsafeMutableBufferPointer { z in
                    row.withUnsafeMutableBufferPointer { a in
                        while i < n {
                            for c in 0..<a.count { a[c] = 0 }
                            a[down] = 1
                            for step in steps {
                                // Column max(0, i + d) sits at a[column - i + down].
                                a[max(0, i + step.units) - i + down] -= step.probability
                            }
                            var rhs = 1.0
                            for k in max(0, i - down)..<i {
                                let at = k - i + down
                                let rowK = u.baseAddress! + (k % slots) * width
                                let factor = a[at] / rowK[0]
                                if factor == 0 { continue }
                                a[at] = 0
                                // Row k of U spans columns k..k+up; those past k are left to clear.
                                // Plain offsets and a counted loop, so the compiler vectorises it.
                                let target = a.baseAddress! + (k + 1 - i + down)
                                let source = rowK + 1
                                for t in 0..<up { target[t] -= factor * source[t] }
                                rhs -= factor * y[k % slots]
                            }
                            // Row i - down's slot: its last use was just above.
                            let rowI = u.baseAddress! + (i % slots) * width
                            for j in 0..<width { rowI[j] = a[down + j] }
                            y[i % slots] = rhs
                            // z_i, then its share of the right-hand sides of rows i+1 ... i+up (the
                            // column sums of U^T z, in the order a dot product would add them).
                            if i - base >= width {
                                let kept = 2 * width - (i - base)
                                for j in 0..<kept { z[j] = z[i - base + j] }
                                for j in kept..<(2 * width) { z[j] = 0 }
                                base = i
                            }
                            let zi = z[i - base] / rowI[0]
                            let push = z.baseAddress! + (i - base + 1)
                            let above = rowI + 1
                            for t in 0..<up { push[t] -= above[t] * zi }
                            total += zi * rhs
                            sums.append(total)
                            i += 1
                            if !(total < cap) { break }
                        }
                    }
                }
            }
        }
        dualBase = base
        cumulative.append(contentsOf: sums)
        let reachedCap = i < n || !(total < cap)
        rows = i
        return reachedCap
    }

    /// theta > 0 with sum p_d e^(theta d) = 1 (the adjustment coefficient), by bisection on the
    /// convex cumulant ln E[e^(theta X)], which is 0 at 0, negative just right of 0 (negative
    /// drift) and positive past the root. 0 when the drift is not negative or nothing rises.
    static func tailRate(_ steps: [LatticeStep]) -> Double {
        let drift = steps.reduce(0) { $0 + Double($1.units) * $1.probability }
        guard drift < 0, let up = steps.map(\.units).max(), up > 0 else { return 0 }
        func cumulant(_ theta: Double) -> Double {
            let top = steps.map { theta * Double($0.units) }.max()!
            return top + log(steps.reduce(0) { $0 + $1.probability * exp(theta * Double($1.units) - top) })
        }
        var high = 1 / Double(up)
        var doublings = 0
        while cumulant(high) <= 0 {
            high *= 2
            doublings += 1
            if doublings > 200 { return 0 }
        }
        var low = 0.0
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if cumulant(mid) > 0 { high = mid } else { low = mid }
            if high - low <= 1e-14 * high { break }
        }
        return (low + high) / 2
    }

    static func gcd(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
