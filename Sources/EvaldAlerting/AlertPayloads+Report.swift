import EvaldCore
import Foundation

extension AlertPayloads {
    /// The webhook's report body: `evald report --json` of the period with `kind`
    /// (`evald.report`), `report_id` (the same for every delivery of the period: a consumer
    /// that gets it twice, after a timeout, can drop the second) and `markdown` (the report a
    /// team pastes into its review) added.
    public static func webhookReport(_ report: ScheduledReport) -> [UInt8] {
        var fields: [(String, JSONValue)] = [
            ("kind", "evald.report"), ("report_id", .string("report-\(Int(report.periodEnd.timeIntervalSince1970))")),
        ]
        if case .object(let pairs)? = try? JSONParser.parse(report.json) {
            fields += pairs
        } else {
            // Never expected (evald wrote the JSON), but a report is still worth its markdown.
            fields.append(("json", .string(report.json)))
        }
        fields.append(("markdown", .string(report.markdown)))
        return bytes(.object(fields))
    }

    /// A Slack message for the report: a header with the period, the headline numbers as
    /// fields (at most 10), one section per top list, and a context line saying how to see
    /// the whole report.
    public static func slackReport(_ report: ScheduledReport) -> [UInt8] {
        var blocks: [JSONValue] = [
            .object([
                ("type", "header"),
                ("text", .object([("type", "plain_text"), ("text", .string(TextLimit.truncate(report.title, maxUTF16: slackHeaderLimit)))])),
            ])
        ]
        let fields = report.headline.prefix(10).map { mrkdwn(field($0.label, $0.value)) }
        if !fields.isEmpty { blocks.append(.object([("type", "section"), ("fields", .array(Array(fields)))])) }
        for list in report.topLists where !list.lines.isEmpty {
            let text = "*\(list.title)*\n" + list.lines.enumerated().map { "\($0 + 1). \($1)" }.joined(separator: "\n")
            blocks.append(.object([("type", "section"), ("text", mrkdwn(slackEscaped(text, limit: slackTextLimit)))]))
        }
        let since = RFC3339.format(report.periodStart, fractional: false)
        let until = RFC3339.format(report.periodEnd, fractional: false)
        let how = "The whole report: `evald report --since \(since) --until \(until) --format markdown`"
        blocks.append(.object([("type", "context"), ("elements", .array([mrkdwn(slackEscaped(how, limit: slackTextLimit))]))]))
        let fallback = ([report.title] + report.headline.prefix(4).map { "\($0.label) \($0.value)" }).joined(separator: " · ")
        return bytes(.object([("text", .string(slackEscaped(fallback, limit: slackTextLimit))), ("blocks", .array(blocks))]))
    }
}
