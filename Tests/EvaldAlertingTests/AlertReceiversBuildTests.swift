import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldAlerting
@testable import EvaldCore

/// `AlertReceivers.build`: one receiver per config entry, secrets from files and the
/// environment, and errors that name the key.
@Suite struct AlertReceiversBuildTests {
    /// A fresh folder for secret files, removed afterwards.
    func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
        let path = NSTemporaryDirectory() + "evald-alerting-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await body(path)
    }

    func config(_ receivers: [ReceiverConfig]) -> AlertsConfig {
        var config = AlertsConfig()
        config.receivers = receivers
        return config
    }

    func buildError(_ config: AlertsConfig, configDirectory: String = "/nonexistent", environment: [String: String] = [:]) async throws -> SecretLoadError? {
        let transport = HTTPTransport()
        var failure: SecretLoadError?
        do {
            _ = try AlertReceivers.build(config: config, configDirectory: configDirectory, transport: transport, environment: environment)
        } catch {
            failure = error
        }
        try await transport.shutdown()
        return failure
    }

    @Test func urlFileComesFromCredentialsDirectory() async throws {
        try await withTemporaryDirectory { credentials in
            try await withStubServer { stub, transport in
                let path = "/services/T0001/B0002/FROMCREDENTIALS"
                try (stub.baseURL + path + "\n").write(toFile: credentials + "/slack_url", atomically: true, encoding: .utf8)
                var slack = ReceiverConfig(name: "chat", kind: .slack)
                slack.urlFile = "slack_url"
                let receivers = try AlertReceivers.build(
                    config: config([slack]), configDirectory: "/nonexistent", transport: transport,
                    environment: ["CREDENTIALS_DIRECTORY": credentials])
                #expect(receivers.count == 1)
                let receiver = try #require(receivers.first as? SlackReceiver)
                #expect(receiver.name == "chat")
                #expect(receiver.kind == .slack)
                try await receiver.deliver(AlertNotification(alert: sampleAlert(), event: .firing), now: deliveryNow)
                #expect(stub.requests.map(\.path) == [path])
            }
        }
    }

    @Test func relativeFilesWithoutCredentialsDirectoryAreInTheConfigFolder() async throws {
        try await withTemporaryDirectory { folder in
            try "pd-routing-key-0123456789\n".write(toFile: folder + "/pd_key", atomically: true, encoding: .utf8)
            try "whsec-abc\n".write(toFile: folder + "/webhook_secret", atomically: true, encoding: .utf8)
            var pager = ReceiverConfig(name: "pager", kind: .pagerduty)
            pager.routingKeyFile = "pd_key"
            pager.minSeverity = "critical"
            var oncall = ReceiverConfig(name: "oncall", kind: .webhook)
            oncall.url = "https://hooks.example.com/evald"
            oncall.hmacSecretFile = "webhook_secret"
            var am = ReceiverConfig(name: "am", kind: .alertmanager)
            am.url = "http://127.0.0.1:9093"
            am.resendInterval = 30
            var settings = config([am, oncall, pager])
            settings.resendInterval = 90
            let transport = HTTPTransport()
            let receivers = try AlertReceivers.build(
                config: settings, configDirectory: folder, transport: transport, environment: [:], externalURL: "http://evald:9464")
            try await transport.shutdown()
            #expect(receivers.map(\.name) == ["am", "oncall", "pager"])
            #expect(receivers.map(\.kind) == [.alertmanager, .webhook, .pagerduty])
            #expect(receivers.map(\.minSeverity) == [.info, .info, .critical])
            let alertmanager = try #require(receivers[0] as? AlertmanagerReceiver)
            #expect(alertmanager.resendInterval == 30)
            #expect(alertmanager.generatorURL == "http://evald:9464")
            #expect(alertmanager.endpoint.value == "http://127.0.0.1:9093/api/v2/alerts")
            let webhook = try #require(receivers[1] as? WebhookReceiver)
            #expect(webhook.hmacSecret == Secret("whsec-abc"))
            #expect(webhook.externalURL == "http://evald:9464")
            let pagerDuty = try #require(receivers[2] as? PagerDutyReceiver)
            #expect(pagerDuty.routingKey == Secret("pd-routing-key-0123456789"))
            #expect(pagerDuty.url.value == PagerDutyReceiver.defaultURL)
        }
    }

    @Test func resendIntervalDefaultsToTheAlertsSetting() async throws {
        var am = ReceiverConfig(name: "am", kind: .alertmanager)
        am.url = "http://127.0.0.1:9093"
        var settings = config([am])
        settings.resendInterval = 90
        let transport = HTTPTransport()
        let receivers = try AlertReceivers.build(config: settings, configDirectory: "/", transport: transport, environment: [:])
        try await transport.shutdown()
        #expect((receivers.first as? AlertmanagerReceiver)?.resendInterval == 90)
    }

    @Test func urlFromTheEnvironment() async throws {
        var chat = ReceiverConfig(name: "chat", kind: .slack)
        chat.urlEnv = "SLACK_URL"
        let transport = HTTPTransport()
        let receivers = try AlertReceivers.build(
            config: config([chat]), configDirectory: "/", transport: transport, environment: ["SLACK_URL": "https://hooks.slack.com/services/A/B/C"])
        try await transport.shutdown()
        #expect((receivers.first as? SlackReceiver)?.url.value == "https://hooks.slack.com/services/A/B/C")
    }

    @Test func missingSecretFileNamesTheKey() async throws {
        try await withTemporaryDirectory { credentials in
            var am = ReceiverConfig(name: "am", kind: .alertmanager)
            am.url = "http://127.0.0.1:9093"
            var pager = ReceiverConfig(name: "pager", kind: .pagerduty)
            pager.routingKeyFile = "pd_key"
            let error = try #require(try await buildError(config([am, pager]), environment: ["CREDENTIALS_DIRECTORY": credentials]))
            #expect(error.key == "alerts.receivers[1].routing_key_file")
            #expect(error.shortDescription == "secret_file_missing")
            #expect(error.description.contains("alerts.receivers[1].routing_key_file"))
            #expect(error.description.contains("pager"))
            #expect(error.description.contains("LoadCredential=pd_key"))
        }
    }

    @Test func missingEnvironmentVariableNamesTheKey() async throws {
        var hook = ReceiverConfig(name: "oncall", kind: .webhook)
        hook.url = "https://hooks.example.com/evald"
        hook.hmacSecretEnv = "EVALD_WEBHOOK_SECRET"
        let error = try #require(try await buildError(config([hook])))
        #expect(error.key == "alerts.receivers[0].hmac_secret_env")
        #expect(error.description.contains("EVALD_WEBHOOK_SECRET"))
        #expect(error.shortDescription == "secret_env_missing")
    }

    @Test func missingURLNamesTheKey() async throws {
        let error = try #require(try await buildError(config([ReceiverConfig(name: "chat", kind: .slack)])))
        #expect(error.key == "alerts.receivers[0].url")
        #expect(error.description.contains("chat"))

        let pagerError = try #require(try await buildError(config([ReceiverConfig(name: "pager", kind: .pagerduty)])))
        #expect(pagerError.key == "alerts.receivers[0].routing_key_file")
    }

    @Test func invalidURLIsRefusedWithoutShowingIt() async throws {
        var chat = ReceiverConfig(name: "chat", kind: .slack)
        chat.urlEnv = "SLACK_URL"
        let error = try #require(try await buildError(config([chat]), environment: ["SLACK_URL": "hooks.slack.com/services/T/B/SECRETVALUE"]))
        #expect(error.key == "alerts.receivers[0].url_env")
        #expect(error.shortDescription == "receiver_url_invalid")
        #expect(!error.description.contains("SECRETVALUE"))
    }

    @Test func keysThatWouldBeIgnoredAreRefused() async throws {
        var chat = ReceiverConfig(name: "chat", kind: .slack)
        chat.url = "https://hooks.slack.com/services/A/B/C"
        chat.hmacSecretFile = "secret"
        let error = try #require(try await buildError(config([chat])))
        #expect(error.key == "alerts.receivers[0].hmac_secret_file")

        var am = ReceiverConfig(name: "am", kind: .alertmanager)
        am.url = "http://am:9093"
        am.routingKeyEnv = "PD"
        #expect(try await buildError(config([am]))?.key == "alerts.receivers[0].routing_key_env")

        var both = ReceiverConfig(name: "both", kind: .webhook)
        both.url = "http://a"
        both.urlEnv = "B"
        #expect(try await buildError(config([both]))?.shortDescription == "secret_ambiguous")
    }

    @Test func noReceivers() async throws {
        let transport = HTTPTransport()
        let receivers = try AlertReceivers.build(config: AlertsConfig(), configDirectory: "/", transport: transport, environment: [:])
        try await transport.shutdown()
        #expect(receivers.isEmpty)
    }
}
