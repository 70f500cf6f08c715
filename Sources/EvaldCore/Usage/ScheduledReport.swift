import Foundation

/// The usage report of one scheduled period as the outbox sends it (SPEC 7b). Built once when
/// its period ends and stored, so every receiver and every retry sends the same numbers.
public struct ScheduledReport: Sendable, Codable, Equatable {
    /// One headline number: `Calls` `1,204,331 (+4.2%)`.
    public struct Fact: Sendable, Codable, Equatable {
        public var label: String
        public var value: String

        public init(_ label: String, _ value: String) {
            self.label = label
            self.value = value
        }
    }

    /// A ranked list: `Top tenants by spend` and its lines.
    public struct TopList: Sendable, Codable, Equatable {
        public var title: String
        public var lines: [String]

        public init(title: String, lines: [String]) {
            self.title = title
            self.lines = lines
        }
    }

    public var periodStart: Date
    public var periodEnd: Date
    public var title: String
    /// `evald report --json` of the period.
    public var json: String
    /// `evald report --format markdown` of the period.
    public var markdown: String
    public var headline: [Fact]
    public var topLists: [TopList]

    public init(
        periodStart: Date, periodEnd: Date, title: String, json: String, markdown: String, headline: [Fact], topLists: [TopList]
    ) {
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.title = title
        self.json = json
        self.markdown = markdown
        self.headline = headline
        self.topLists = topLists
    }
}
