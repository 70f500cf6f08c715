/// One check's verdict on one trace. A check that does not apply to a trace (a
/// `reference_match` without a reference, a `latency` check on a trace without latency, an
/// output check on an error trace) yields no result at all, so it does not move the pass rate.
public struct CheckResult: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var passed: Bool
    /// What failed, for an on-call engineer (never raw PII).
    public var detail: String

    public init(name: String, kind: String, passed: Bool, detail: String) {
        self.name = name
        self.kind = kind
        self.passed = passed
        self.detail = detail
    }
}
