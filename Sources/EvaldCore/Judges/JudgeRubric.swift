/// One reference-model judge: a Markdown file with YAML front matter and a Mustache
/// prompt template, parsed and compiled by `parse(path:bytes:)`.
public struct JudgeRubric: Sendable {
    /// `[a-z0-9][a-z0-9_-]*`; the metric is `judge:NAME`.
    public var name: String
    public var version: String
    /// Route globs; a rubric without `applies_to` judges every route.
    public var appliesTo: [Glob]
    public var appliesToPatterns: [String]
    /// nil: `judge.default_endpoint`.
    public var endpoint: String?
    public var scale: JudgeScale
    /// A score at or above it passes. pass_fail: 1.
    public var passAt: Double
    public var temperature: Double
    public var maxOutputTokens: Int
    /// The front matter's `description`: free text for people.
    public var summary: String?
    /// `min_pass_rate`: an optional static floor on the judge's pass rate, fired as
    /// QualityRegression beside the sequential detector.
    public var minPassRate: Double?
    public var sourcePath: String
    /// The first 8 hex digits of the SHA-256 of the file's bytes.
    public var contentHash: String
    /// The line of each front-matter key in the file, so problems found later (an endpoint the
    /// config lacks, a name used twice) can point at it.
    public var keyLines: [String: Int]
    /// The file line the prompt template starts on.
    public var templateLine: Int

    let template: JudgePromptTemplate

    /// Scores of different identities are different series, so editing a rubric never
    /// shows up as an application regression.
    public var identity: String { "\(name)@\(version)+\(contentHash)" }

    /// A rendered prompt longer than this is refused: at about 4 characters a token it is beyond
    /// what judge models take, and sending it would spend the daily budget on one trace.
    public static let maxPromptCharacters = 200_000

    /// A trace without a route is judged only by rubrics whose globs match the empty string (`*`).
    public func applies(toRoute route: String?) -> Bool {
        let route = route ?? ""
        return appliesTo.contains { $0.matches(route) }
    }

    public func passes(score: Double) -> Bool { score >= passAt }

    public func render(_ variables: JudgePromptVariables) throws(JudgeRubricError) -> String {
        let prompt = template.render(variables)
        guard prompt.count <= Self.maxPromptCharacters else {
            throw JudgeRubricError(
                path: sourcePath, line: nil, key: "template",
                message:
                    "the rendered prompt has \(prompt.count) characters, more than the \(Self.maxPromptCharacters) a judge is sent; the trace is too large to judge"
            )
        }
        return prompt
    }
}
