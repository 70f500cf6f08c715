import EvaldCore
import EvaldHTTP
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Calls one configured judge endpoint: OpenAI-compatible or Anthropic, with a
/// deadline per attempt, retries with backoff, a circuit breaker and a concurrency limit.
///
/// Thread-safe; make one per endpoint and share it among the judge workers, so the limit
/// and the breaker see all of that endpoint's traffic.
public final class JudgeEndpointClient: Sendable {
    public let endpoint: EndpointConfig
    /// The policy in force: the one given, with the endpoint's `max_retries`.
    public let retry: RetryPolicy

    private let apiKey: Secret?
    private let transport: HTTPTransport
    private let breaker: CircuitBreaker
    private let limiter: AsyncSemaphore
    private let tracker: NIOLockedValueBox<EndpointHealthTracker>
    /// `host:port` of base_url, for causes such as "connection refused to 127.0.0.1:8080"
    /// (never its path, query or user info, which can hold secrets).
    private let address: String
    private let format: any JudgeWireFormat
    private let now: @Sendable () -> Date
    private let sleep: @Sendable (Double) async throws -> Void
    private let random: @Sendable () -> Double
    private let logger: Logger

    public init(
        endpoint: EndpointConfig, apiKey: Secret?, transport: HTTPTransport,
        retry: RetryPolicy = RetryPolicy(), breaker: CircuitBreakerPolicy = CircuitBreakerPolicy(),
        now: @escaping @Sendable () -> Date = Date.init,
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64(max(0, $0) * 1e9)) },
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        logger: Logger = Logger(label: "evald.judge")
    ) {
        self.endpoint = endpoint
        var retry = retry
        retry.maxRetries = max(0, endpoint.maxRetries)
        self.retry = retry
        self.apiKey = apiKey
        self.transport = transport
        self.breaker = CircuitBreaker(policy: breaker)
        self.limiter = AsyncSemaphore(permits: endpoint.concurrency)
        self.tracker = NIOLockedValueBox(
            EndpointHealthTracker(endpoint: endpoint.name, timeoutSeconds: endpoint.timeout, concurrency: endpoint.concurrency))
        self.address = Self.address(of: endpoint.baseURL)
        self.format =
            switch endpoint.kind {
            case .openai: OpenAIChatFormat()
            case .anthropic: AnthropicMessagesFormat()
            }
        self.now = now
        self.sleep = sleep
        self.random = random
        self.logger = logger
    }

    public var name: String { endpoint.name }

    public var circuit: CircuitState { breaker.current(now: now()) }

    /// How the recent calls went: timeouts against the timeout, the concurrency in force, the
    /// last failure's cause.
    public var health: EndpointHealth { tracker.withLockedValue { $0.snapshot } }

    /// The concurrency in force: the configured one, lowered while calls time out (AIMD).
    public var concurrencyLimit: Int { limiter.limit }

    static func address(of baseURL: String) -> String {
        guard let components = URLComponents(string: baseURL), let host = components.host, !host.isEmpty else { return "the endpoint" }
        let port = components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80)
        return host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Sends the prompt, retrying what a retry can fix, and returns the model's reply.
    public func complete(_ request: JudgeRequest) async throws(JudgeCallError) -> JudgeCompletion {
        if Task.isCancelled { throw cancelled(attempts: 0) }
        guard let admission = breaker.admit(now: now()) else { throw circuitOpen(attempts: 0) }
        let result = await run(request, admission: admission)
        var outcome = Self.breakerOutcome(of: result)
        // Systematic timeouts are a slow server, not a down one: the lowered concurrency, the
        // unretried timeouts and the queue's backoff pace it, and its judges show `degraded`
        // (with the latency against the timeout) rather than a circuit open for 30 s at a time.
        if case .failure(let error) = result, error.causeKind == OutboundHTTPError.timedOut.shortDescription,
            !tracker.withLockedValue({ $0.retriesTimeouts })
        {
            outcome = .neutral
        }
        breaker.record(outcome, admission: admission, now: now())
        return try result.get()
    }

    /// What a finished call tells the breaker. Rejections every request would get (a bad
    /// key: 401/403, billing, a wrong base_url or model) count as failures, so a bad key
    /// stops hammering the provider. Rejections of this one request (400, 413, 422) show
    /// the endpoint is up. A malformed reply counts as a failure: one cannot open the
    /// circuit, but a run of them (base_url pointing at something that is not the API)
    /// does, and then traces wait instead of each becoming a judge_error.
    static func breakerOutcome(of result: Result<JudgeCompletion, JudgeCallError>) -> CircuitBreaker.Outcome {
        switch result {
        case .success:
            return .success
        case .failure(let error):
            switch error.kind {
            case .retriesExhausted, .badResponse: return .failure
            case .rejected: return JudgeCallError.isEndpointFault(status: error.status) ? .failure : .success
            case .circuitOpen, .cancelled: return .neutral
            }
        }
    }

    /// A failed attempt that a later one may fix.
    private struct RetryableFailure {
        var status: Int?
        var retryAfter: String?
        var summary: String
        var cause: String
        var causeKind: String
        var timedOut = false
    }

    /// Feeds the tracker one attempt's outcome and applies the concurrency it allows.
    private func record(_ outcome: EndpointHealthTracker.Outcome, latencyMs: Double) -> (limit: Int, retriesTimeouts: Bool) {
        let (limit, retries) = tracker.withLockedValue { tracker in
            tracker.record(outcome, seconds: latencyMs / 1000, at: now())
            return (tracker.concurrencyLimit, tracker.retriesTimeouts)
        }
        if limit != limiter.limit {
            limiter.setLimit(limit)
            logger.info(
                "judge.concurrency_changed",
                metadata: ["judge.endpoint": "\(name)", "judge.concurrency": "\(limit)", "judge.configured_concurrency": "\(endpoint.concurrency)"])
        }
        return (limit, retries)
    }

    private func run(_ request: JudgeRequest, admission: CircuitBreaker.Admission) async -> Result<JudgeCompletion, JudgeCallError> {
        let outbound = OutboundRequest(
            url: format.url(baseURL: endpoint.baseURL), headers: format.headers(apiKey: apiKey),
            body: format.body(for: request, model: endpoint.model, jsonMode: endpoint.jsonMode),
            timeout: endpoint.timeout)
        var attempts = 0
        while true {
            if attempts > 0, !breaker.mayContinue(admission) { return .failure(circuitOpen(attempts: attempts)) }
            do {
                try await limiter.acquire()
            } catch {
                return .failure(cancelled(attempts: attempts))
            }
            attempts += 1
            let started = ContinuousClock.now
            let sent: Result<OutboundResponse, OutboundHTTPError>
            do {
                sent = .success(try await transport.send(outbound))
            } catch {
                sent = .failure(error)
            }
            limiter.release()
            let latencyMs = Self.milliseconds(ContinuousClock.now - started)
            if Task.isCancelled { return .failure(cancelled(attempts: attempts)) }
            logAttempt(attempts, sent, latencyMs: latencyMs)

            let failure: RetryableFailure
            switch sent {
            case .failure(.invalidURL):
                _ = record(.failed(cause: "base_url is not a valid http(s) URL"), latencyMs: latencyMs)
                return .failure(
                    error(
                        .rejected, "base_url is not a valid http(s) URL; check endpoints.\(name).base_url", attempts: attempts,
                        cause: "base_url is not a valid http(s) URL", causeKind: "rejected"))
            case .failure(let transportError):
                failure = RetryableFailure(
                    summary: describe(transportError), cause: cause(of: transportError), causeKind: transportError.shortDescription,
                    timedOut: transportError == .timedOut)
            case .success(let response):
                switch response.status {
                case 200..<300:
                    let result = completion(from: response, latencyMs: latencyMs, attempts: attempts)
                    switch result {
                    case .success: _ = record(.answered, latencyMs: latencyMs)
                    case .failure(let error): _ = record(.failed(cause: error.cause ?? "bad response"), latencyMs: latencyMs)
                    }
                    return result
                case 408, 429, 500..<600:
                    failure = RetryableFailure(
                        status: response.status, retryAfter: Self.retryAfter(of: response),
                        summary: statusSummary(response), cause: "HTTP \(response.status) from \(address)",
                        causeKind: response.status == 429 ? "http_429" : response.status == 408 ? "http_408" : "http_5xx")
                default:
                    _ = record(.failed(cause: "HTTP \(response.status) from \(address)"), latencyMs: latencyMs)
                    return .failure(rejection(response, attempts: attempts))
                }
            }
            let outcome: EndpointHealthTracker.Outcome =
                failure.timedOut ? .timedOut : failure.status == 429 ? .overloaded(cause: failure.cause) : .failed(cause: failure.cause)
            let (_, retriesTimeouts) = record(outcome, latencyMs: latencyMs)
            if failure.timedOut, !retriesTimeouts {
                // The server is slower than the timeout on most calls; a retry would be abandoned
                // too while the server keeps computing the first one. The trace waits instead.
                return .failure(
                    error(
                        .retriesExhausted,
                        "\(failure.summary); not retried: most recent calls to this endpoint time out (the server answers slower than endpoints.\(name).timeout)",
                        attempts: attempts, cause: failure.cause, causeKind: failure.causeKind))
            }
            if attempts > retry.maxRetries {
                return .failure(
                    error(
                        .retriesExhausted, "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s"); last: \(failure.summary)",
                        status: failure.status, attempts: attempts, cause: failure.cause, causeKind: failure.causeKind))
            }
            let delay = retry.delay(attempt: attempts, retryAfter: failure.retryAfter, now: now(), random: random())
            do {
                try await sleep(delay)
            } catch {
                return .failure(cancelled(attempts: attempts))
            }
            if Task.isCancelled { return .failure(cancelled(attempts: attempts)) }
        }
    }

    // A malformed 2xx is not retried: the provider has answered (and billed) the attempt,
    // and a body of the wrong shape comes from a gateway or base_url that will answer the
    // same way again. The breaker counts it instead (see breakerOutcome).
    private func completion(from response: OutboundResponse, latencyMs: Double, attempts: Int) -> Result<JudgeCompletion, JudgeCallError> {
        do {
            let reply = try format.parse(response.body)
            return .success(
                JudgeCompletion(
                    text: reply.text, inputTokens: reply.inputTokens, outputTokens: reply.outputTokens,
                    responseModel: reply.model, systemFingerprint: reply.systemFingerprint, latencyMs: latencyMs,
                    attempts: attempts, finishReason: reply.finishReason, toolCalls: reply.toolCalls))
        } catch {
            return .failure(
                self.error(
                    .badResponse,
                    "HTTP \(response.status) but the body is not \(format.replyName) (\(error.reason)); is base_url the API's address? Body: \(excerpt(response.body))",
                    status: response.status, attempts: attempts,
                    cause: "HTTP \(response.status) from \(address) is not \(format.replyName)", causeKind: "bad_response"))
        }
    }

    private func rejection(_ response: OutboundResponse, attempts: Int) -> JudgeCallError {
        let hint =
            switch response.status {
            case 401, 403: "check the API key (endpoints.\(name).api_key_env or api_key_file)"
            case 402: "check the provider account's billing or quota"
            case 404: "check endpoints.\(name).base_url and model"
            case 300..<400: "redirects are not followed; set endpoints.\(name).base_url to the final address"
            default: "the endpoint refused this request"
            }
        return error(
            .rejected, "\(statusSummary(response)); not retried: \(hint)", status: response.status, attempts: attempts,
            cause: "HTTP \(response.status) from \(address)", causeKind: "rejected")
    }

    private func statusSummary(_ response: OutboundResponse) -> String {
        let body = excerpt(response.body)
        return "HTTP \(response.status)" + (body.isEmpty ? "" : ": \(body)")
    }

    private func describe(_ error: OutboundHTTPError) -> String {
        switch error {
        case .timedOut: "timed out after \(ConfigDuration.format(endpoint.timeout)) (endpoints.\(name).timeout)"
        default: error.description
        }
    }

    /// The failure in a few words with the server's address: "connection refused to 127.0.0.1:8080".
    private func cause(of error: OutboundHTTPError) -> String {
        switch error {
        case .connectFailed(let detail):
            let text = detail.prefix(1).lowercased() + detail.dropFirst()
            return "\(text) to \(address)"
        case .timedOut: return "timed out after \(ConfigDuration.format(endpoint.timeout)) (endpoints.\(name).timeout)"
        case .connectionClosed: return "\(address) closed the connection before a full response"
        case .invalidURL: return "base_url is not a valid http(s) URL"
        case .other(let detail): return "\(detail) (\(address))"
        }
    }

    private func excerpt(_ body: [UInt8]) -> String {
        ResponseBodyExcerpt.make(body, apiKey: apiKey?.value, credentialTokens: true)
    }

    private func error(
        _ kind: JudgeCallError.Kind, _ message: String, status: Int? = nil, attempts: Int, cause: String? = nil, causeKind: String? = nil
    ) -> JudgeCallError {
        JudgeCallError(kind: kind, message: "endpoint \(name): \(message)", status: status, attempts: attempts, cause: cause, causeKind: causeKind)
    }

    private func cancelled(attempts: Int) -> JudgeCallError {
        error(.cancelled, "cancelled after \(attempts) attempt\(attempts == 1 ? "" : "s")", attempts: attempts)
    }

    private func circuitOpen(attempts: Int) -> JudgeCallError {
        let until = breaker.openUntil.map { " until \(RFC3339.format($0, fractional: false))" } ?? " (a trial call is in progress)"
        let last = tracker.withLockedValue { $0.snapshot.lastFailure }
        return error(
            .circuitOpen,
            "circuit open after repeated failed calls\(last.map { " (last: \($0))" } ?? "")\(until); no request sent, the trace waits",
            attempts: attempts, cause: last, causeKind: "circuit_open")
    }

    /// OpenAI also sends `retry-after-ms`, finer than `Retry-After`'s whole seconds.
    private static func retryAfter(of response: OutboundResponse) -> String? {
        if let milliseconds = response.header("retry-after-ms").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }),
            milliseconds.isFinite, milliseconds >= 0
        {
            return String(milliseconds / 1000)
        }
        return response.header("retry-after")
    }

    private func logAttempt(_ attempt: Int, _ sent: Result<OutboundResponse, OutboundHTTPError>, latencyMs: Double) {
        logger.debug(
            "judge attempt",
            metadata: {
                var metadata: Logger.Metadata = [
                    "judge.endpoint": "\(name)", "judge.attempt": "\(attempt)",
                    "judge.latency_ms": "\(Int(latencyMs.rounded()))",
                ]
                switch sent {
                case .success(let response): metadata["judge.status"] = "\(response.status)"
                case .failure(let error): metadata["judge.error"] = "\(error.shortDescription)"
                }
                return metadata
            }())
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
