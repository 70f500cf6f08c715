/// The Wilson score interval for a binomial proportion: unlike the normal approximation it
/// stays inside [0, 1] and behaves at small n and at pass rates near 0 or 1, which is where
/// quality series at 1% sampling live.
public enum WilsonInterval {
    /// 95% by default (z = 1.959964).
    public static func bounds(passes: Int64, n: Int64, z: Double = 1.959964) -> (low: Double, high: Double)? {
        guard n > 0 else { return nil }
        let nn = Double(n)
        let p = Double(passes) / nn
        let z2 = z * z
        let denominator = 1 + z2 / nn
        let center = (p + z2 / (2 * nn)) / denominator
        let half = z * ((p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()) / denominator
        return (max(0, center - half), min(1, center + half))
    }
}

extension WilsonInterval {
    /// The same interval for a proportion given as a fraction (a mean score mapped onto [0, 1]).
    public static func bounds(proportion p: Double, n: Int, z: Double = 1.959964) -> (low: Double, high: Double)? {
        guard n > 0, p.isFinite else { return nil }
        let nn = Double(n), z2 = z * z
        let p = min(1, max(0, p))
        let denominator = 1 + z2 / nn
        let center = (p + z2 / (2 * nn)) / denominator
        let half = z * ((p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()) / denominator
        return (max(0, center - half), min(1, center + half))
    }
}
