import EvaldCore
import EvaldHTTP
import Foundation

/// Posts alerts to a Prometheus Alertmanager (API v2), which then routes, groups,
/// silences, dedups and runs in HA.
///
/// Alertmanager forgets a firing alert once its `endsAt` passes, so the outbox must send a
/// `repeat` every `resendInterval` while the alert fires (see `AlertPayloads.alertmanager`).
public struct AlertmanagerReceiver: AlertReceiver {
    public let name: String
    public var kind: ReceiverConfig.Kind { .alertmanager }
    public let minSeverity: AlertSeverity
    /// How often a firing alert must be re-posted (`resend_interval`, default 1 min).
    public let resendInterval: Double
    public let generatorURL: String
    /// `{url}/api/v2/alerts`. A Secret: an Alertmanager URL may carry basic-auth credentials.
    let endpoint: Secret
    let poster: ReceiverPoster

    /// - Parameters:
    ///   - url: the Alertmanager's base URL, e.g. `http://127.0.0.1:9093` (a trailing slash,
    ///     or the full `/api/v2/alerts` path, is accepted too).
    ///   - timeout: seconds for the one attempt of each `deliver`.
    public init(
        name: String, url: Secret, transport: HTTPTransport, minSeverity: AlertSeverity = .info,
        resendInterval: Double = 60, generatorURL: String = "http://evald.local", timeout: Double = AlertReceivers.defaultTimeout
    ) {
        self.name = name
        self.minSeverity = minSeverity
        self.resendInterval = resendInterval
        self.generatorURL = generatorURL
        self.endpoint = Secret(Self.alertsEndpoint(url.value))
        poster = ReceiverPoster(receiverName: name, kind: .alertmanager, transport: transport, timeout: timeout, secrets: [url])
    }

    public func deliver(_ notification: AlertNotification, now: Date) async throws(DeliveryError) {
        guard accepts(notification.alert.severity) else { return }
        var alert = notification.alert
        // The event decides, not a state field that a caller may not have updated: a resolve
        // must reach Alertmanager with an endsAt in the past.
        if notification.isResolution {
            alert.state = .resolved
            if alert.endsAt == nil { alert.endsAt = now }
        } else {
            alert.state = .firing
        }
        let body = AlertPayloads.alertmanager([alert], now: now, resendInterval: resendInterval, generatorURL: generatorURL)
        try await poster.post(url: endpoint, headers: [], body: body, now: now)
    }

    static func alertsEndpoint(_ base: String) -> String {
        var url = base
        while url.hasSuffix("/") { url.removeLast() }
        return url.hasSuffix("/api/v2/alerts") ? url : url + "/api/v2/alerts"
    }
}
