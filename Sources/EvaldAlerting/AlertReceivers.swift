import EvaldCore
import EvaldHTTP
import Foundation

/// Builds the configured receivers (`alerts.receivers`).
public enum AlertReceivers {
    /// Seconds for one delivery attempt: long enough for a slow SaaS API, short enough that
    /// a receiver that hangs does not hold the outbox (its retries come later).
    public static let defaultTimeout: Double = 10

    /// One receiver per config entry, in config order. Secrets (`url_file`/`url_env`,
    /// `hmac_secret_*`, `routing_key_*`) are loaded with `SecretLoader`: a relative file name
    /// is looked up in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`) when set, else
    /// in the config's folder. The first problem is thrown, with the config key (e.g.
    /// `alerts.receivers[2].url_file`) and the receiver's name; never a secret's value.
    public static func build(
        config: AlertsConfig, configDirectory: String, transport: HTTPTransport,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        externalURL: String = "http://evald.local"
    ) throws(SecretLoadError) -> [any AlertReceiver] {
        var receivers: [any AlertReceiver] = []
        for (index, receiver) in config.receivers.enumerated() {
            let loader = ReceiverSecrets(
                receiver: receiver, at: "alerts.receivers[\(index)]", configDirectory: configDirectory, environment: environment)
            let minSeverity = try loader.minSeverity()
            switch receiver.kind {
            case .alertmanager:
                try loader.refuseHMAC()
                try loader.refuseRoutingKey()
                receivers.append(
                    AlertmanagerReceiver(
                        name: receiver.name, url: try loader.requiredURL(), transport: transport, minSeverity: minSeverity,
                        resendInterval: receiver.resendInterval ?? config.resendInterval, generatorURL: externalURL))
            case .webhook:
                try loader.refuseRoutingKey()
                receivers.append(
                    WebhookReceiver(
                        name: receiver.name, url: try loader.requiredURL(), hmacSecret: try loader.hmacSecret(),
                        transport: transport, minSeverity: minSeverity, externalURL: externalURL))
            case .slack:
                try loader.refuseHMAC()
                try loader.refuseRoutingKey()
                receivers.append(
                    SlackReceiver(
                        name: receiver.name, url: try loader.requiredURL(), transport: transport, minSeverity: minSeverity))
            case .pagerduty:
                try loader.refuseHMAC()
                receivers.append(
                    PagerDutyReceiver(
                        name: receiver.name, routingKey: try loader.routingKey(), transport: transport,
                        url: try loader.optionalURL(), minSeverity: minSeverity))
            }
        }
        return receivers
    }
}
