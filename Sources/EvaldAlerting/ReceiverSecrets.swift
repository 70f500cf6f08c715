import EvaldCore
import EvaldHTTP
import Foundation

/// Reads one receiver's secrets and checks the keys that apply to its kind, so a key that
/// would be ignored (an HMAC secret on a Slack receiver) is reported instead of silently
/// doing nothing (a typo must not silently disable something).
struct ReceiverSecrets {
    let receiver: ReceiverConfig
    /// `alerts.receivers[2]`, the prefix of every key named in an error.
    let at: String
    let configDirectory: String
    let environment: [String: String]

    private var who: String { "receiver \"\(receiver.name)\" (\(receiver.kind.rawValue))" }

    func minSeverity() throws(SecretLoadError) -> AlertSeverity {
        guard let text = receiver.minSeverity else { return .info }
        guard let severity = AlertSeverity(rawValue: text) else {
            throw SecretLoadError(
                key: "\(at).min_severity",
                message: "\(who): must be one of \(AlertSeverity.allCases.map(\.rawValue).joined(separator: ", "))",
                shortDescription: "receiver_invalid")
        }
        return severity
    }

    /// `url`, `url_file` or `url_env`: exactly one of them, an http(s) URL.
    func requiredURL() throws(SecretLoadError) -> Secret {
        guard let url = try optionalURL() else {
            throw SecretLoadError(
                key: "\(at).url",
                message: "\(who): needs url, url_file or url_env (use url_file or url_env when the URL is a credential, as Slack's is)",
                shortDescription: "secret_missing")
        }
        return url
    }

    /// At most one of `url`, `url_file`, `url_env`; when given, an http(s) URL.
    func optionalURL() throws(SecretLoadError) -> Secret? {
        let loaded: Secret?
        if let url = receiver.url {
            if receiver.urlFile != nil || receiver.urlEnv != nil {
                throw SecretLoadError(
                    key: "\(at).url", message: "\(who): give one of url, url_file, url_env, not several",
                    shortDescription: "secret_ambiguous")
            }
            loaded = Secret(url)
        } else {
            let key = receiver.urlEnv != nil && receiver.urlFile == nil ? "\(at).url_env" : "\(at).url_file"
            loaded = try load(env: receiver.urlEnv, file: receiver.urlFile, key: key)
        }
        guard let loaded else { return nil }
        guard Self.isHTTPURL(loaded.value) else {
            throw SecretLoadError(
                key: receiver.url != nil ? "\(at).url" : (receiver.urlEnv != nil ? "\(at).url_env" : "\(at).url_file"),
                message: "\(who): not an http(s) URL with a host (the value is not shown: receiver URLs can be secrets)",
                shortDescription: "receiver_url_invalid")
        }
        return loaded
    }

    func hmacSecret() throws(SecretLoadError) -> Secret? {
        let key = receiver.hmacSecretEnv != nil && receiver.hmacSecretFile == nil ? "\(at).hmac_secret_env" : "\(at).hmac_secret_file"
        return try load(env: receiver.hmacSecretEnv, file: receiver.hmacSecretFile, key: key)
    }

    func routingKey() throws(SecretLoadError) -> Secret {
        let key = receiver.routingKeyEnv != nil && receiver.routingKeyFile == nil ? "\(at).routing_key_env" : "\(at).routing_key_file"
        guard let secret = try load(env: receiver.routingKeyEnv, file: receiver.routingKeyFile, key: key) else {
            throw SecretLoadError(
                key: "\(at).routing_key_file",
                message: "\(who): needs routing_key_file or routing_key_env (the Events API v2 integration key)",
                shortDescription: "secret_missing")
        }
        return secret
    }

    func refuseHMAC() throws(SecretLoadError) {
        if receiver.hmacSecretFile != nil || receiver.hmacSecretEnv != nil {
            throw SecretLoadError(
                key: receiver.hmacSecretFile != nil ? "\(at).hmac_secret_file" : "\(at).hmac_secret_env",
                message: "\(who): only webhook receivers are signed; remove the key or change the kind",
                shortDescription: "receiver_invalid")
        }
    }

    func refuseRoutingKey() throws(SecretLoadError) {
        if receiver.routingKeyFile != nil || receiver.routingKeyEnv != nil {
            throw SecretLoadError(
                key: receiver.routingKeyFile != nil ? "\(at).routing_key_file" : "\(at).routing_key_env",
                message: "\(who): a routing key is for pagerduty receivers only; remove the key or change the kind",
                shortDescription: "receiver_invalid")
        }
    }

    private func load(env: String?, file: String?, key: String) throws(SecretLoadError) -> Secret? {
        do {
            return try SecretLoader.load(env: env, file: file, key: key, configDirectory: configDirectory, environment: environment)
        } catch {
            throw SecretLoadError(key: error.key, message: "\(who): \(error.message)", shortDescription: error.shortDescription)
        }
    }

    static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return false }
        return true
    }
}
