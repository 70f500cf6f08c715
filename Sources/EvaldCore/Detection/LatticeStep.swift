/// One possible increment of a lattice CUSUM, in units, with its probability under the
/// distribution a run length is computed for.
public struct LatticeStep: Sendable, Equatable {
    public var units: Int
    public var probability: Double

    public init(units: Int, probability: Double) {
        self.units = units
        self.probability = probability
    }
}
