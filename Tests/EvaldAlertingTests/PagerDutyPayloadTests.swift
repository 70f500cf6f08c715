import EvaldCore
import EvaldHTTP
import Foundation
import Testing

@testable import EvaldAlerting

/// Against PagerDuty Events API v2 "Send an Alert Event": routing_key, event_action
/// (trigger|acknowledge|resolve) required; dedup_key at most 255 characters; payload.summary
/// (at most 1024), payload.source and payload.severity (critical|error|warning|info) required
/// for a trigger; resolve events carry routing_key, event_action and dedup_key.
@Suite struct PagerDutyPayloadTests {
    let key = Secret("R0UT1NGKEY0123456789abcdef012345")

    @Test func triggerFieldByField() throws {
        let alert = sampleAlert(severity: .critical)
        let event = try parseObject(AlertPayloads.pagerDuty(AlertNotification(alert: alert, event: .firing), routingKey: key))
        #expect(Set(event.keys) == ["routing_key", "event_action", "dedup_key", "payload", "links", "client"])
        #expect(event["routing_key"] as? String == key.value)
        #expect(event["event_action"] as? String == "trigger")
        #expect(event["dedup_key"] as? String == alert.fingerprint)
        #expect(try #require(event["dedup_key"] as? String).count <= 255)

        let payload = try #require(event["payload"] as? [String: Any])
        #expect(payload["summary"] as? String == "judge:helpfulness pass rate dropped on support-chat")
        #expect(payload["severity"] as? String == "critical")
        #expect(payload["source"] as? String == "evald")
        #expect(date(payload["timestamp"]) == alertStart)
        #expect(payload["component"] as? String == "support-chat")
        #expect(payload["group"] as? String == "gpt-4o-mini")
        #expect(payload["class"] as? String == "judge:helpfulness")
        let details = try #require(payload["custom_details"] as? [String: Any])
        #expect(details["labels"] as? [String: String] == alert.labels)
        #expect(details["annotations"] as? [String: String] == alert.annotations)
        #expect(details["alert_id"] as? String == "a-17")

        let links = try #require(event["links"] as? [[String: String]])
        #expect(links == [["href": "https://wiki.example.com/evald/QualityRegression", "text": "Runbook"]])
    }

    @Test func repeatIsATriggerWithTheSameDedupKey() throws {
        let alert = sampleAlert()
        let event = try parseObject(AlertPayloads.pagerDuty(AlertNotification(alert: alert, event: .repeat), routingKey: key))
        #expect(event["event_action"] as? String == "trigger")
        #expect(event["dedup_key"] as? String == alert.fingerprint)
    }

    @Test func resolveShape() throws {
        let alert = sampleAlert(state: .resolved, endsAt: deliveryNow)
        let event = try parseObject(AlertPayloads.pagerDuty(AlertNotification(alert: alert, event: .resolved), routingKey: key))
        #expect(Set(event.keys) == ["routing_key", "event_action", "dedup_key"])
        #expect(event["routing_key"] as? String == key.value)
        #expect(event["event_action"] as? String == "resolve")
        #expect(event["dedup_key"] as? String == alert.fingerprint)
    }

    @Test func everySeverityIsOneThatPagerDutyTakes() throws {
        let allowed: Set<String> = ["critical", "error", "warning", "info"]
        for severity in AlertSeverity.allCases {
            let event = try parseObject(
                AlertPayloads.pagerDuty(
                    AlertNotification(alert: sampleAlert(severity: severity), event: .firing), routingKey: key))
            let sent = try #require((event["payload"] as? [String: Any])?["severity"] as? String)
            #expect(allowed.contains(sent))
            #expect(sent == severity.rawValue)
        }
    }

    @Test func summaryIsCutTo1024() throws {
        let alert = sampleAlert(annotations: ["summary": String(repeating: "é", count: 5000)])
        let event = try parseObject(AlertPayloads.pagerDuty(AlertNotification(alert: alert, event: .firing), routingKey: key))
        let summary = try #require((event["payload"] as? [String: Any])?["summary"] as? String)
        #expect(summary.utf16.count <= 1024)
        #expect(summary.count > 1000)
        #expect(summary.hasSuffix("…"))
    }

    @Test func withoutSummaryOrSeriesLabels() throws {
        let alert = Alert(
            id: "a-3", name: "JudgeBudgetExhausted", severity: .warning, labels: [:], annotations: [:],
            state: .firing, startsAt: alertStart)
        let event = try parseObject(AlertPayloads.pagerDuty(AlertNotification(alert: alert, event: .firing), routingKey: key))
        let payload = try #require(event["payload"] as? [String: Any])
        #expect(payload["summary"] as? String == "JudgeBudgetExhausted")
        #expect(payload["component"] == nil && payload["group"] == nil && payload["class"] == nil)
        #expect(event["links"] == nil)
    }
}
