import Crypto
import EvaldCore
import EvaldHTTP
import EvaldTesting
import Foundation
import Testing

@testable import EvaldAlerting

/// Each receiver against a stub HTTP server: path, headers, body, and how failures are
/// reported.
@Suite struct ReceiverDeliveryTests {
    let firing = AlertNotification(alert: sampleAlert(), event: .firing)

    @Test func alertmanagerPostsToTheAlertsAPI() async throws {
        try await withStubServer { stub, transport in
            let receiver = AlertmanagerReceiver(
                name: "am", url: Secret(stub.baseURL + "/"), transport: transport, resendInterval: 30, generatorURL: "http://evald:9464")
            try await receiver.deliver(firing, now: deliveryNow)
            let request = try #require(stub.requests.first)
            #expect(stub.requests.count == 1)
            #expect(request.method == "POST")
            #expect(request.path == "/api/v2/alerts")
            #expect(request.header("Content-Type") == "application/json")
            let item = try #require((try parseJSON(request.body) as? [[String: Any]])?.first)
            #expect((item["labels"] as? [String: String])?["alertname"] == "QualityRegression")
            #expect(date(item["endsAt"]) == deliveryNow.addingTimeInterval(120))
            #expect(item["generatorURL"] as? String == "http://evald:9464")
        }
    }

    @Test func alertmanagerResolveEndsAtOnceEvenWithoutAnEndTime() async throws {
        try await withStubServer { stub, transport in
            let receiver = AlertmanagerReceiver(name: "am", url: Secret(stub.baseURL), transport: transport)
            // The state field was not updated by the caller: the event decides.
            try await receiver.deliver(AlertNotification(alert: sampleAlert(), event: .resolved), now: deliveryNow)
            let request = try #require(stub.requests.first)
            let item = try #require((try parseJSON(request.body) as? [[String: Any]])?.first)
            #expect(date(item["endsAt"]) == deliveryNow)
        }
    }

    @Test func webhookPostsTheSignedPayload() async throws {
        let secret = "whsec-0123456789abcdef"
        try await withStubServer { stub, transport in
            let receiver = WebhookReceiver(
                name: "oncall", url: Secret(stub.baseURL + "/hooks/evald?team=llm"), hmacSecret: Secret(secret),
                transport: transport, externalURL: "http://evald:9464")
            try await receiver.deliver(firing, now: deliveryNow)
            let request = try #require(stub.requests.first)
            #expect(request.method == "POST")
            #expect(request.path == "/hooks/evald?team=llm")
            #expect(request.header("Content-Type") == "application/json")
            let payload = try parseObject(request.body)
            #expect(payload["receiver"] as? String == "oncall")
            #expect(payload["version"] as? String == "4")
            #expect(payload["externalURL"] as? String == "http://evald:9464")

            // Verify as a consumer would: t from the header, HMAC over "<t>.<body as received>".
            let header = try #require(request.header("X-Evald-Signature"))
            let parts = Dictionary(
                uniqueKeysWithValues: header.split(separator: ",").map { part -> (String, String) in
                    let pair = part.split(separator: "=", maxSplits: 1)
                    return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
                })
            let t = try #require(parts["t"])
            #expect(Int(t) == Int(deliveryNow.timeIntervalSince1970))
            let mac = HMAC<SHA256>.authenticationCode(
                for: Array("\(t).".utf8) + request.body, using: SymmetricKey(data: Array(secret.utf8)))
            let expected = mac.map { String(format: "%02x", $0) }.joined()
            #expect(parts["v1"] == expected)
            #expect(!header.contains(secret))
        }
    }

    @Test func unsignedWebhookHasNoSignatureHeader() async throws {
        try await withStubServer { stub, transport in
            let receiver = WebhookReceiver(name: "plain", url: Secret(stub.baseURL + "/in"), transport: transport)
            try await receiver.deliver(AlertNotification(alert: sampleAlert(), event: .resolved), now: deliveryNow)
            let request = try #require(stub.requests.first)
            #expect(request.header("X-Evald-Signature") == nil)
            let payload = try parseObject(request.body)
            #expect(payload["status"] as? String == "resolved")
            let item = try #require((payload["alerts"] as? [[String: Any]])?.first)
            #expect(date(item["endsAt"]) == deliveryNow)
        }
    }

    @Test func slackPostsBlocks() async throws {
        try await withStubServer { stub, transport in
            let receiver = SlackReceiver(name: "chat", url: Secret(stub.baseURL + "/services/T0001/B0002/XXXXXXXXXXXXXXXX"), transport: transport)
            try await receiver.deliver(firing, now: deliveryNow)
            let request = try #require(stub.requests.first)
            #expect(request.path == "/services/T0001/B0002/XXXXXXXXXXXXXXXX")
            #expect(request.header("Content-Type") == "application/json")
            #expect(request.body == AlertPayloads.slack(firing))
        }
    }

    @Test func pagerDutyPostsEventsToTheOverriddenURL() async throws {
        let key = Secret("R0UT1NGKEY0123456789abcdef012345")
        try await withStubServer({ _ in .respond(status: 202, body: Array(#"{"status":"success"}"#.utf8)) }) { stub, transport in
            let receiver = PagerDutyReceiver(name: "pager", routingKey: key, transport: transport, url: Secret(stub.baseURL + "/v2/enqueue"))
            try await receiver.deliver(AlertNotification(alert: sampleAlert(severity: .critical), event: .firing), now: deliveryNow)
            try await receiver.deliver(AlertNotification(alert: sampleAlert(severity: .critical), event: .resolved), now: deliveryNow)
            let requests = stub.requests
            #expect(requests.map(\.path) == ["/v2/enqueue", "/v2/enqueue"])
            #expect(requests.allSatisfy { $0.header("Content-Type") == "application/json" })
            let trigger = try parseObject(requests[0].body)
            let resolve = try parseObject(requests[1].body)
            #expect(trigger["event_action"] as? String == "trigger")
            #expect(trigger["routing_key"] as? String == key.value)
            #expect(resolve["event_action"] as? String == "resolve")
            #expect(resolve["dedup_key"] as? String == trigger["dedup_key"] as? String)
        }
    }

    @Test func pagerDutyDefaultsToPagerDutysEndpoint() async throws {
        let transport = HTTPTransport()
        let receiver = PagerDutyReceiver(name: "pager", routingKey: Secret("k"), transport: transport)
        #expect(receiver.url.value == "https://events.pagerduty.com/v2/enqueue")
        #expect(receiver.kind == .pagerduty)
        try await transport.shutdown()
    }

    @Test func alertmanagerEndpointPath() {
        #expect(AlertmanagerReceiver.alertsEndpoint("http://am:9093") == "http://am:9093/api/v2/alerts")
        #expect(AlertmanagerReceiver.alertsEndpoint("http://am:9093/") == "http://am:9093/api/v2/alerts")
        #expect(AlertmanagerReceiver.alertsEndpoint("http://am/prefix/") == "http://am/prefix/api/v2/alerts")
        #expect(AlertmanagerReceiver.alertsEndpoint("http://am:9093/api/v2/alerts") == "http://am:9093/api/v2/alerts")
    }

    // MARK: failures

    @Test func serverErrorIsRetryable() async throws {
        try await withStubServer({ _ in .respond(status: 500, body: Array("internal error".utf8)) }) { stub, transport in
            let receiver = WebhookReceiver(name: "oncall", url: Secret(stub.baseURL + "/hook"), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(error.retryable)
            #expect(error.status == 500)
            #expect(error.retryAfter == nil)
            #expect(error.shortDescription == "http_5xx")
            #expect(error.description.contains("oncall"))
            #expect(error.description.contains("HTTP 500: internal error"))
            #expect(stub.requests.count == 1)  // one attempt, no retry inside
        }
    }

    @Test func rateLimitedIsRetryableWithRetryAfter() async throws {
        try await withStubServer({ _ in .respond(status: 429, headers: [("Retry-After", "7")], body: Array("slow down".utf8)) }) { stub, transport in
            let receiver = SlackReceiver(name: "chat", url: Secret(stub.baseURL + "/services/x"), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(error.retryable)
            #expect(error.status == 429)
            #expect(error.retryAfter == 7)
            #expect(error.shortDescription == "http_429")
            #expect(stub.requests.count == 1)
        }
    }

    @Test func retryAfterAsHTTPDate() async throws {
        // deliveryNow is 2026-11-28T10:10:00Z; ask for 90 s later.
        let header = "Sat, 28 Nov 2026 10:11:30 GMT"
        try await withStubServer({ _ in .respond(status: 503, headers: [("Retry-After", header)], body: []) }) { stub, transport in
            let receiver = AlertmanagerReceiver(name: "am", url: Secret(stub.baseURL), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(error.retryable)
            #expect(error.retryAfter == 90)
        }
    }

    @Test func closedConnectionIsRetryable() async throws {
        try await withStubServer({ _ in .closeConnection }) { stub, transport in
            let receiver = AlertmanagerReceiver(name: "am", url: Secret(stub.baseURL), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(error.retryable)
            #expect(error.status == nil)
            #expect(error.shortDescription == "connection_closed")
        }
    }

    @Test func timeoutIsRetryable() async throws {
        try await withStubServer({ _ in .hang }) { stub, transport in
            let receiver = SlackReceiver(name: "chat", url: Secret(stub.baseURL + "/s"), transport: transport, timeout: 0.5)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(error.retryable)
            #expect(error.shortDescription == "timeout")
        }
    }

    @Test func refusedConnectionIsRetryable() async throws {
        // Held bound and never listening: a freed port could be taken by another test's stub.
        let refusing = try StubJudgeServer.refusingPort()
        defer { refusing.close() }
        let closedURL = "http://127.0.0.1:\(refusing.port)/services/T0001/B0002/SECRETTOKEN123456"
        let transport = HTTPTransport()
        let receiver = SlackReceiver(name: "chat", url: Secret(closedURL), transport: transport)
        let error = await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) }
        try await transport.shutdown()
        let failure = try #require(error)
        #expect(failure.retryable)
        #expect(failure.status == nil)
        #expect(!failure.description.contains("SECRETTOKEN123456"))
        #expect(!failure.description.contains(closedURL))
    }

    @Test func badRequestIsNotRetryable() async throws {
        try await withStubServer({ _ in .respond(status: 400, body: Array("invalid_payload".utf8)) }) { stub, transport in
            let receiver = SlackReceiver(name: "chat", url: Secret(stub.baseURL + "/s"), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(!error.retryable)
            #expect(error.status == 400)
            #expect(error.shortDescription == "http_4xx")
            #expect(error.description.contains("invalid_payload"))
        }
    }

    @Test func requestTimeoutStatusIsRetryable() {
        #expect(DeliveryError.isRetryable(status: 408))
        #expect(DeliveryError.isRetryable(status: 502))
        #expect(!DeliveryError.isRetryable(status: 404))
        #expect(!DeliveryError.isRetryable(status: 301))
    }

    // MARK: secrets

    /// A receiver that echoes the request (path, headers and body) in its error, as some
    /// gateways do: none of it may reach the error.
    static let echo: @Sendable (StubHTTPServer.Request) async -> StubHTTPServer.Reply = { request in
        let headers = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "; ")
        return .respond(status: 400, body: Array("bad request to \(request.path) [\(headers)] \(request.bodyText)".utf8))
    }

    /// The same with the body first, so the 200 characters kept hold the body's start.
    static let echoBody: @Sendable (StubHTTPServer.Request) async -> StubHTTPServer.Reply = { request in
        .respond(status: 400, body: Array("bad request: \(request.bodyText) to \(request.path)".utf8))
    }

    @Test func slackURLNeverInErrors() async throws {
        try await withStubServer(Self.echo) { stub, transport in
            let token = "ABCdef123456GHIjkl789012"
            let url = stub.baseURL + "/services/T0ABCDEF1/B0ABCDEF2/\(token)"
            let receiver = SlackReceiver(name: "chat", url: Secret(url), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(error.status == 400)
            for secret in [url, token, "T0ABCDEF1", "B0ABCDEF2", "/services/"] {
                #expect(!error.description.contains(secret))
                #expect(!error.message.contains(secret))
            }
            #expect(error.description.contains("chat"))
        }
    }

    @Test(arguments: [0, 1])
    func hmacSecretAndWebhookURLNeverInErrors(echoKind: Int) async throws {
        try await withStubServer(echoKind == 0 ? Self.echo : Self.echoBody) { stub, transport in
            let secret = "whsec-VerySecretValue-42"
            let url = stub.baseURL + "/hooks/evald-token-0123456789"
            let receiver = WebhookReceiver(name: "oncall", url: Secret(url), hmacSecret: Secret(secret), transport: transport)
            let error = try #require(await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) })
            #expect(!error.description.contains(secret))
            #expect(!error.description.contains(url))
            #expect(!error.description.contains("evald-token-0123456789"))
        }
    }

    @Test func routingKeyNeverInErrors() async throws {
        try await withStubServer(Self.echoBody) { stub, transport in
            let key = "R0UT1NGKEY0123456789abcdef012345"
            let receiver = PagerDutyReceiver(name: "pager", routingKey: Secret(key), transport: transport, url: Secret(stub.baseURL + "/v2/enqueue"))
            let error = try #require(
                await deliveryError { () async throws(DeliveryError) in
                    try await receiver.deliver(AlertNotification(alert: sampleAlert(state: .resolved, endsAt: deliveryNow), event: .resolved), now: deliveryNow)
                })
            // The resolve body is mostly the key: the echo must be redacted, not just cut.
            #expect(!error.description.contains(key))
            #expect(!error.description.contains("R0UT1NGKEY"))
            #expect(error.description.contains("<redacted>"))
        }
    }

    @Test func invalidURLIsNotRetryableAndNotShown() async throws {
        let transport = HTTPTransport()
        let receiver = SlackReceiver(name: "chat", url: Secret("hooks.slack.com/services/T1/B2/SECRETSECRET"), transport: transport)
        let error = await deliveryError { () async throws(DeliveryError) in try await receiver.deliver(firing, now: deliveryNow) }
        try await transport.shutdown()
        let failure = try #require(error)
        #expect(!failure.retryable)
        #expect(failure.shortDescription == "invalid_url")
        #expect(!failure.description.contains("SECRETSECRET"))
    }

    // MARK: min_severity

    @Test func minSeverityIsHonoured() async throws {
        try await withStubServer { stub, transport in
            let receiver = PagerDutyReceiver(
                name: "pager", routingKey: Secret("k"), transport: transport, url: Secret(stub.baseURL + "/e"), minSeverity: .critical)
            #expect(!receiver.accepts(.info))
            #expect(!receiver.accepts(.warning))
            #expect(receiver.accepts(.critical))
            try await receiver.deliver(AlertNotification(alert: sampleAlert(severity: .warning), event: .firing), now: deliveryNow)
            #expect(stub.requests.isEmpty)
            try await receiver.deliver(AlertNotification(alert: sampleAlert(severity: .critical), event: .firing), now: deliveryNow)
            #expect(stub.requests.count == 1)

            let all = SlackReceiver(name: "chat", url: Secret(stub.baseURL + "/s"), transport: transport)
            #expect(all.minSeverity == .info)
            #expect(AlertSeverity.allCases.allSatisfy { all.accepts($0) })
        }
    }
}
