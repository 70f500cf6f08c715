import EvaldCore
import Foundation
import Testing

@testable import EvaldAlerting

/// The scheduled report's bodies: the webhook's JSON (the report, `kind`, `markdown`) and the
/// Slack message within Block Kit's limits.
@Suite struct ReportPayloadTests {
    static let report = ScheduledReport(
        periodStart: Date(timeIntervalSince1970: 1_795_510_800), periodEnd: Date(timeIntervalSince1970: 1_796_115_600),
        title: "evald usage report, 2026-11-23T09:00:00Z .. 2026-11-30T09:00:00Z",
        json: #"{"period":{"since":"2026-11-23T09:00:00Z","until":"2026-11-30T09:00:00Z"},"totals":{"calls":1204,"errors":12}}"#,
        markdown: "# Usage report\n\n| a | b |\n", headline: [.init("Calls", "1,204 (+4.0%)"), .init("Cost", "$12.40 (-3.0%)")],
        topLists: [
            .init(title: "Tenants by spend", lines: (0..<500).map { "tenant-<\($0)>: $\($0).00" }),
            .init(title: "Routes by cost", lines: []),
        ])

    @Test func theWebhookGetsTheReportJSONWithKindAndMarkdown() throws {
        let body = try #require(try JSONSerialization.jsonObject(with: Data(AlertPayloads.webhookReport(Self.report))) as? [String: Any])
        #expect(body["kind"] as? String == "evald.report")
        #expect(body["report_id"] as? String == "report-1796115600")
        #expect((body["totals"] as? [String: Any])?["calls"] as? Int == 1204)
        #expect((body["period"] as? [String: Any])?["until"] as? String == "2026-11-30T09:00:00Z")
        #expect(body["markdown"] as? String == Self.report.markdown)
    }

    @Test func slackGetsHeadlineFieldsAndTopListsWithinBlockKitLimits() throws {
        let body = try #require(try JSONSerialization.jsonObject(with: Data(AlertPayloads.slackReport(Self.report))) as? [String: Any])
        let blocks = try #require(body["blocks"] as? [[String: Any]])
        #expect(blocks.first?["type"] as? String == "header")
        let fields = try #require(blocks[1]["fields"] as? [[String: Any]])
        #expect(fields.compactMap { $0["text"] as? String } == ["*Calls*\n1,204 (+4.0%)", "*Cost*\n$12.40 (-3.0%)"])
        // One section per non-empty list, cut to Slack's 3000, escaped for mrkdwn.
        let list = try #require((blocks[2]["text"] as? [String: Any])?["text"] as? String)
        #expect(list.hasPrefix("*Tenants by spend*\n1. tenant-&lt;0&gt;"))
        #expect(list.utf16.count <= 3000)
        #expect(blocks.count == 4)
        #expect(blocks.last?["type"] as? String == "context")
        #expect((body["text"] as? String)?.contains("Calls 1,204") == true)
    }
}
