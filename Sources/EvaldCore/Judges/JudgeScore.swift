/// A judge's verdict on one trace, read from its reply.
public struct JudgeScore: Sendable, Equatable {
    /// On the rubric's scale; a pass_fail judge scores 1 (pass) or 0 (fail).
    public var score: Double
    public var passed: Bool
    public var reason: String?

    public init(score: Double, passed: Bool, reason: String?) {
        self.score = score
        self.passed = passed
        self.reason = reason
    }
}
