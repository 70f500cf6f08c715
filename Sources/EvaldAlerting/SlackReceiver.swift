import EvaldCore
import EvaldHTTP
import Foundation

/// Posts to a Slack incoming webhook. The URL is the credential (anyone holding it can post
/// to the channel), so it is read from `url_file` or `url_env` in practice and never shown.
public struct SlackReceiver: AlertReceiver {
    public let name: String
    public var kind: ReceiverConfig.Kind { .slack }
    public let minSeverity: AlertSeverity
    let url: Secret
    let poster: ReceiverPoster

    public init(
        name: String, url: Secret, transport: HTTPTransport, minSeverity: AlertSeverity = .info,
        timeout: Double = AlertReceivers.defaultTimeout
    ) {
        self.name = name
        self.url = url
        self.minSeverity = minSeverity
        poster = ReceiverPoster(receiverName: name, kind: .slack, transport: transport, timeout: timeout, secrets: [url])
    }

    public func deliver(_ notification: AlertNotification, now: Date) async throws(DeliveryError) {
        guard accepts(notification.alert.severity) else { return }
        try await poster.post(url: url, headers: [], body: AlertPayloads.slack(notification), now: now)
    }

    public func deliverReport(_ report: ScheduledReport, now: Date) async throws(DeliveryError) {
        try await poster.post(url: url, headers: [], body: AlertPayloads.slackReport(report), now: now)
    }
}
