import EvaldCore
import Foundation
import Testing

@testable import EvaldAlerting

/// Against Slack incoming webhooks and Block Kit: `text` plus `blocks`; a header holds
/// plain_text of at most 150 characters; a section's text at most 3000, at most 10 fields of
/// at most 2000 each; a context at most 10 elements.
@Suite struct SlackPayloadTests {
    func blocks(_ payload: [String: Any]) throws -> [[String: Any]] {
        try #require(payload["blocks"] as? [[String: Any]])
    }

    func text(of object: Any?) -> String? {
        (object as? [String: Any])?["text"] as? String
    }

    /// Every text object in a block (its text, its fields, its elements).
    func texts(in block: [String: Any]) -> [String] {
        var result: [String] = []
        if let text = text(of: block["text"]) { result.append(text) }
        for key in ["fields", "elements"] {
            for item in block[key] as? [[String: Any]] ?? [] {
                if let text = item["text"] as? String { result.append(text) }
            }
        }
        return result
    }

    @Test func firingMessageFieldByField() throws {
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: sampleAlert(), event: .firing)))
        #expect(Set(payload.keys) == ["text", "blocks"])
        let fallback = try #require(payload["text"] as? String)
        #expect(fallback.hasPrefix("[FIRING] QualityRegression"))
        #expect(fallback.contains("judge:helpfulness pass rate dropped"))

        let blocks = try blocks(payload)
        #expect(blocks.map { $0["type"] as? String } == ["header", "section", "section", "context"])

        let header = try #require(blocks[0]["text"] as? [String: Any])
        #expect(header["type"] as? String == "plain_text")
        #expect(header["text"] as? String == "Firing: QualityRegression")

        let fields = try #require(blocks[1]["fields"] as? [[String: Any]])
        #expect(fields.allSatisfy { $0["type"] as? String == "mrkdwn" })
        #expect(
            fields.compactMap { $0["text"] as? String } == [
                "*Route*\nsupport-chat", "*Model*\ngpt-4o-mini", "*Metric*\njudge:helpfulness", "*Severity*\nwarning", "*State*\nfiring",
            ])
        #expect((blocks[1]["text"] as? [String: Any])?["type"] as? String == "mrkdwn")

        #expect(text(of: blocks[2]["text"]) == "baseline 0.92 (n=4000), current 0.81 (n=350), CUSUM 6.1 &gt; h=5.2")

        let context = try #require(blocks[3]["elements"] as? [[String: Any]])
        #expect(context.allSatisfy { $0["type"] as? String == "mrkdwn" })
        let contextTexts = context.compactMap { $0["text"] as? String }
        #expect(contextTexts.contains("<https://wiki.example.com/evald/QualityRegression|Runbook>"))
        #expect(contextTexts.contains { $0.contains("`e-101`, `e-102`, `e-103`") && $0.contains("evald explain e-101") })
        #expect(contextTexts.contains { $0.contains("a-17") })
    }

    @Test func resolvedMessageSaysSo() throws {
        let alert = sampleAlert(state: .resolved, endsAt: deliveryNow)
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: alert, event: .resolved)))
        #expect((payload["text"] as? String)?.hasPrefix("[RESOLVED] QualityRegression") == true)
        let blocks = try blocks(payload)
        #expect(text(of: blocks[0]["text"]) == "Resolved: QualityRegression")
        let fields = (blocks[1]["fields"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(fields.contains("*State*\nresolved"))
        let context = texts(in: blocks[3])
        #expect(context.contains { $0.contains("resolved 2026-11-28T10:10:00Z") })
    }

    @Test func repeatIsStillFiring() throws {
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: sampleAlert(), event: .repeat)))
        #expect(text(of: try blocks(payload)[0]["text"]) == "Still firing: QualityRegression")
    }

    @Test func driftShowsBothVersions() throws {
        var labels = sampleAlert().labels
        labels["version_before"] = "gpt-4o-2024-08-06"
        labels["version_after"] = "gpt-4o-2024-11-20"
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: sampleAlert(labels: labels), event: .firing)))
        let fields = (try blocks(payload)[1]["fields"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        #expect(fields.contains("*Version before*\ngpt-4o-2024-08-06"))
        #expect(fields.contains("*Version after*\ngpt-4o-2024-11-20"))
        #expect(fields.count <= 10)
    }

    @Test func mrkdwnControlCharactersAreEscaped() throws {
        let alert = sampleAlert(labels: ["route": "<!channel> & co"], annotations: ["summary": "a <b> & c"])
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: alert, event: .firing)))
        let all = try blocks(payload).flatMap(texts(in:)) + [payload["text"] as? String ?? ""]
        #expect(!all.contains { $0.contains("<!channel>") })
        #expect(all.contains("*Route*\n&lt;!channel&gt; &amp; co"))
        #expect(all.contains("*a &lt;b&gt; &amp; c*"))
    }

    @Test func noBlockExceedsSlackLimits() throws {
        let long = String(repeating: "ü & x ", count: 2000)  // 12,000 characters, more once escaped
        var labels = sampleAlert().labels
        labels["route"] = long
        let alert = Alert(
            id: "a-1", name: String(repeating: "N", count: 400), severity: .critical, labels: labels,
            annotations: ["summary": long, "description": long, "examples": long], state: .firing, startsAt: alertStart)
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: alert, event: .firing)))
        #expect((payload["text"] as? String).map { $0.utf16.count <= 3000 } == true)
        for block in try blocks(payload) {
            for text in texts(in: block) {
                #expect(text.utf16.count <= 3000)
                // A cut never leaves half an entity behind.
                #expect(!text.hasSuffix("&…") && !text.hasSuffix("&amp…") && !text.hasSuffix("&a…"))
            }
            if block["type"] as? String == "header" {
                #expect(text(of: block["text"]).map { $0.utf16.count <= 150 } == true)
            }
            for field in block["fields"] as? [[String: Any]] ?? [] {
                #expect((field["text"] as? String).map { $0.utf16.count <= 2000 } == true)
            }
            #expect((block["fields"] as? [Any])?.count ?? 0 <= 10)
            #expect((block["elements"] as? [Any])?.count ?? 0 <= 10)
        }
    }

    @Test func alertWithoutOptionalAnnotations() throws {
        let alert = Alert(
            id: "a-2", name: "SpoolStalled", severity: .critical, labels: [:], annotations: [:], state: .firing, startsAt: alertStart)
        let payload = try parseObject(AlertPayloads.slack(AlertNotification(alert: alert, event: .firing)))
        let blocks = try blocks(payload)
        #expect(blocks.map { $0["type"] as? String } == ["header", "section", "context"])
        #expect(text(of: blocks[1]["text"]) == "*SpoolStalled*")
        // Slack refuses empty text objects.
        #expect(blocks.flatMap(texts(in:)).allSatisfy { !$0.isEmpty })
    }

    @Test func runbookLinksAreOnlyHTTP() {
        #expect(AlertPayloads.slackLink("javascript:alert(1)", text: "Runbook") == nil)
        #expect(AlertPayloads.slackLink("https://w/a|b>c?x=1&y=2", text: "Runbook") == "<https://w/a%7Cb%3Ec?x=1&amp;y=2|Runbook>")
    }
}
