import EvaldCore
import EvaldHTTP
import Foundation

/// Posts the Alertmanager webhook payload (version 4), so existing Alertmanager-webhook
/// consumers work; signed with `X-Evald-Signature` when an HMAC secret is set.
public struct WebhookReceiver: AlertReceiver {
    public static let signatureHeader = "X-Evald-Signature"

    public let name: String
    public var kind: ReceiverConfig.Kind { .webhook }
    public let minSeverity: AlertSeverity
    /// The payload's `externalURL` and each alert's `generatorURL`.
    public let externalURL: String
    let url: Secret
    let hmacSecret: Secret?
    let poster: ReceiverPoster

    public init(
        name: String, url: Secret, hmacSecret: Secret? = nil, transport: HTTPTransport, minSeverity: AlertSeverity = .info,
        externalURL: String = "http://evald.local", timeout: Double = AlertReceivers.defaultTimeout
    ) {
        self.name = name
        self.url = url
        self.hmacSecret = hmacSecret
        self.minSeverity = minSeverity
        self.externalURL = externalURL
        poster = ReceiverPoster(
            receiverName: name, kind: .webhook, transport: transport, timeout: timeout, secrets: [url] + (hmacSecret.map { [$0] } ?? []))
    }

    public func deliver(_ notification: AlertNotification, now: Date) async throws(DeliveryError) {
        guard accepts(notification.alert.severity) else { return }
        var alert = notification.alert
        alert.state = notification.isResolution ? .resolved : .firing
        if notification.isResolution, alert.endsAt == nil { alert.endsAt = now }
        try await post(AlertPayloads.webhook(receiver: name, alerts: [alert], externalURL: externalURL), now: now)
    }

    public func deliverReport(_ report: ScheduledReport, now: Date) async throws(DeliveryError) {
        try await post(AlertPayloads.webhookReport(report), now: now)
    }

    private func post(_ body: [UInt8], now: Date) async throws(DeliveryError) {
        var headers: [(name: String, value: String)] = []
        if let hmacSecret {
            // Whole seconds: the header's `t` is a Unix time, as consumers check it for replays.
            let timestamp = Int(now.timeIntervalSince1970.rounded(.down))
            headers.append((Self.signatureHeader, AlertPayloads.webhookSignature(secret: hmacSecret, timestamp: timestamp, body: body)))
        }
        try await poster.post(url: url, headers: headers, body: body, now: now)
    }
}
