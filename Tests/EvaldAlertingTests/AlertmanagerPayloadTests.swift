import EvaldCore
import Foundation
import Testing

@testable import EvaldAlerting

/// Against Alertmanager's OpenAPI v2 `postableAlerts`: an array of `postableAlert`, whose
/// `labels` (a `labelSet`: string to string) is required and `annotations`, `startsAt`,
/// `endsAt` (date-time) and `generatorURL` (uri) are optional.
@Suite struct AlertmanagerPayloadTests {
    @Test func firingAlertFieldByField() throws {
        var labels = sampleAlert().labels
        labels["empty"] = ""
        let alert = sampleAlert(labels: labels)
        let body = AlertPayloads.alertmanager([alert], now: deliveryNow, resendInterval: 60, generatorURL: "http://evald.local")
        let array = try #require(try parseJSON(body) as? [[String: Any]])
        #expect(array.count == 1)
        let item = array[0]
        #expect(Set(item.keys) == ["labels", "annotations", "startsAt", "endsAt", "generatorURL"])

        // Every label value a string; alertname and severity included; the empty one dropped.
        let sent = try #require(item["labels"] as? [String: String])
        #expect(
            sent == [
                "alertname": "QualityRegression", "severity": "warning", "route": "support-chat",
                "model": "gpt-4o-mini", "metric": "judge:helpfulness",
            ])
        let annotations = try #require(item["annotations"] as? [String: String])
        #expect(annotations == alert.annotations)
        #expect(date(item["startsAt"]) == alertStart)
        // Held four resend intervals past now.
        #expect(date(item["endsAt"]) == deliveryNow.addingTimeInterval(240))
        #expect(item["generatorURL"] as? String == "http://evald.local")
    }

    @Test func resolvedAlertEndsInThePast() throws {
        let resolvedAt = alertStart.addingTimeInterval(300)
        let alert = sampleAlert(state: .resolved, endsAt: resolvedAt)
        let body = AlertPayloads.alertmanager([alert], now: deliveryNow, resendInterval: 60, generatorURL: "http://evald.local")
        let item = try #require((try parseJSON(body) as? [[String: Any]])?.first)
        #expect(date(item["endsAt"]) == resolvedAt)
        #expect(try #require(date(item["endsAt"])) < deliveryNow)
    }

    @Test func timesAreRFC3339InUTC() throws {
        let body = AlertPayloads.alertmanager([sampleAlert()], now: deliveryNow, resendInterval: 30, generatorURL: "http://x")
        let item = try #require((try parseJSON(body) as? [[String: Any]])?.first)
        #expect(item["startsAt"] as? String == "2026-11-28T10:00:00.000Z")
        #expect(item["endsAt"] as? String == "2026-11-28T10:12:00.000Z")
    }

    @Test func severalAlertsInOneBody() throws {
        var other = sampleAlert(severity: .critical)
        other.labels["route"] = "refunds"
        let body = AlertPayloads.alertmanager([sampleAlert(), other], now: deliveryNow, resendInterval: 60, generatorURL: "http://x")
        let array = try #require(try parseJSON(body) as? [[String: Any]])
        #expect(array.compactMap { ($0["labels"] as? [String: String])?["route"] } == ["support-chat", "refunds"])
    }
}
