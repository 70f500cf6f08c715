/// Which judges will grade a sampled record, decided when the record is read so the
/// evaluation and its judge-queue entries commit in one transaction (the queue is durable).
public struct JudgeRouting: Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var appliesTo: [Glob]
        public init(name: String, appliesTo: [Glob]) {
            self.name = name
            self.appliesTo = appliesTo
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    public static let none = JudgeRouting([])

    /// The judges for a record. A record without an answer (an error, or an OTLP span
    /// recorded without content) gives a judge nothing to grade, so it is not queued.
    public func judges(for record: TraceRecord) -> [String] {
        guard !entries.isEmpty, let output = record.output, !output.isEmpty else { return [] }
        let route = record.route ?? ""
        return entries.compactMap { entry in entry.appliesTo.contains { $0.matches(route) } ? entry.name : nil }
    }
}
