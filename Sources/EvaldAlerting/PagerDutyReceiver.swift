import EvaldCore
import EvaldHTTP
import Foundation

/// Sends PagerDuty Events API v2 events: trigger while firing, resolve when resolved, both
/// keyed by the alert's fingerprint.
public struct PagerDutyReceiver: AlertReceiver {
    public static let defaultURL = "https://events.pagerduty.com/v2/enqueue"

    public let name: String
    public var kind: ReceiverConfig.Kind { .pagerduty }
    public let minSeverity: AlertSeverity
    let routingKey: Secret
    let url: Secret
    let poster: ReceiverPoster

    /// - Parameter url: the events endpoint; the receiver's `url` in the config overrides
    ///   PagerDuty's (an EU service region, a proxy, a stub in tests).
    public init(
        name: String, routingKey: Secret, transport: HTTPTransport, url: Secret? = nil, minSeverity: AlertSeverity = .info,
        timeout: Double = AlertReceivers.defaultTimeout
    ) {
        self.name = name
        self.routingKey = routingKey
        self.url = url ?? Secret(Self.defaultURL)
        self.minSeverity = minSeverity
        poster = ReceiverPoster(
            receiverName: name, kind: .pagerduty, transport: transport, timeout: timeout,
            secrets: [routingKey] + (url.map { [$0] } ?? []))
    }

    public func deliver(_ notification: AlertNotification, now: Date) async throws(DeliveryError) {
        guard accepts(notification.alert.severity) else { return }
        try await poster.post(url: url, headers: [], body: AlertPayloads.pagerDuty(notification, routingKey: routingKey), now: now)
    }
}
