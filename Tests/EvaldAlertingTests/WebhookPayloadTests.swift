import Crypto
import EvaldCore
import EvaldHTTP
import Foundation
import Testing

@testable import EvaldAlerting

/// Against Alertmanager's webhook_config payload, version 4: receiver, status, alerts[]
/// {status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint}, groupLabels,
/// commonLabels, commonAnnotations, externalURL, version, groupKey, truncatedAlerts.
@Suite struct WebhookPayloadTests {
    @Test func firingPayloadFieldByField() throws {
        let alert = sampleAlert()
        let payload = try parseObject(AlertPayloads.webhook(receiver: "oncall", alerts: [alert], externalURL: "http://evald.example:9464"))
        #expect(
            Set(payload.keys) == [
                "receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
                "version", "groupKey", "truncatedAlerts",
            ])
        #expect(payload["receiver"] as? String == "oncall")
        #expect(payload["status"] as? String == "firing")
        #expect(payload["version"] as? String == "4")
        #expect(payload["truncatedAlerts"] as? Int == 0)
        #expect(payload["externalURL"] as? String == "http://evald.example:9464")
        #expect(payload["commonLabels"] as? [String: String] == alert.labels)
        #expect(payload["groupLabels"] as? [String: String] == alert.labels)
        #expect(payload["commonAnnotations"] as? [String: String] == alert.annotations)
        #expect(
            payload["groupKey"] as? String
                == #"{}:{alertname="QualityRegression", metric="judge:helpfulness", model="gpt-4o-mini", route="support-chat", severity="warning"}"#)

        let alerts = try #require(payload["alerts"] as? [[String: Any]])
        #expect(alerts.count == 1)
        let item = alerts[0]
        #expect(Set(item.keys) == ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"])
        #expect(item["status"] as? String == "firing")
        #expect(item["labels"] as? [String: String] == alert.labels)
        #expect(item["annotations"] as? [String: String] == alert.annotations)
        #expect(date(item["startsAt"]) == alertStart)
        #expect(item["endsAt"] as? String == "0001-01-01T00:00:00Z")
        #expect(item["generatorURL"] as? String == "http://evald.example:9464")
        #expect(item["fingerprint"] as? String == alert.fingerprint)
    }

    @Test func resolvedPayload() throws {
        let resolvedAt = alertStart.addingTimeInterval(900)
        let alert = sampleAlert(state: .resolved, endsAt: resolvedAt)
        let payload = try parseObject(AlertPayloads.webhook(receiver: "oncall", alerts: [alert], externalURL: "http://x"))
        #expect(payload["status"] as? String == "resolved")
        let item = try #require((payload["alerts"] as? [[String: Any]])?.first)
        #expect(item["status"] as? String == "resolved")
        #expect(date(item["endsAt"]) == resolvedAt)
        // The same group for the firing and the resolved notification of one alert.
        let firing = try parseObject(AlertPayloads.webhook(receiver: "oncall", alerts: [sampleAlert()], externalURL: "http://x"))
        #expect(payload["groupKey"] as? String == firing["groupKey"] as? String)
    }

    @Test func severalAlertsShareOnlyTheirCommonLabels() throws {
        var other = sampleAlert(state: .resolved, endsAt: deliveryNow)
        other.labels["route"] = "refunds"
        other.annotations["summary"] = "something else"
        let payload = try parseObject(AlertPayloads.webhook(receiver: "r", alerts: [other, sampleAlert()], externalURL: "http://x"))
        #expect(payload["status"] as? String == "firing")
        #expect(
            payload["commonLabels"] as? [String: String] == [
                "alertname": "QualityRegression", "severity": "warning", "model": "gpt-4o-mini", "metric": "judge:helpfulness",
            ])
        let annotations = try #require(payload["commonAnnotations"] as? [String: String])
        #expect(annotations["summary"] == nil)
        #expect(annotations["description"] != nil)
        #expect((payload["alerts"] as? [[String: Any]])?.map { $0["status"] as? String } == ["resolved", "firing"])
    }

    @Test func groupKeyQuotesLikeGo() {
        #expect(AlertPayloads.groupKey(["a": #"x"y\z"#]) == #"{}:{a="x\"y\\z"}"#)
        #expect(AlertPayloads.groupKey([:]) == "{}:{}")
    }

    @Test func signatureKnownAnswer() {
        // python3: hmac.new(b"whsec-test", b'1764324000.{"a":1}', hashlib.sha256).hexdigest()
        let signature = AlertPayloads.webhookSignature(secret: Secret("whsec-test"), timestamp: 1_764_324_000, body: Array(#"{"a":1}"#.utf8))
        #expect(signature == "t=1764324000,v1=e48a263c03b67e5f12ad5a6d34a7bfa43aa6930fef557d37980989ca4c7dc13d")
    }

    @Test func signatureChangesWithBodyTimeAndSecret() {
        let body = Array("{}".utf8)
        let base = AlertPayloads.webhookSignature(secret: Secret("s1"), timestamp: 100, body: body)
        #expect(base != AlertPayloads.webhookSignature(secret: Secret("s2"), timestamp: 100, body: body))
        #expect(base != AlertPayloads.webhookSignature(secret: Secret("s1"), timestamp: 101, body: body))
        #expect(base != AlertPayloads.webhookSignature(secret: Secret("s1"), timestamp: 100, body: Array("{ }".utf8)))
    }
}
