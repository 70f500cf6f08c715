import EvaldCore
import EvaldHTTP
import Foundation
import Logging

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

    /// Sends the prompt, retrying what a retry can fix, and returns the model's reply.
    public func complete(_ request: JudgeRequest) async throws(JudgeCallError) -> JudgeCompletion {
        if Task.isCancelled { throw cancelled(attempts: 0) }
        guard let admission = breaker.admit(now: now()) else { throw circuitOpen(attempts: 0) }
        let result = await run(request, admission: admission)
        breaker.record(Self.breakerOutcome(of: result), admission: admission, now: now())
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
                return .failure(
                    error(
                        .rejected, "base_url is not a valid http(s) URL; check endpoints.\(name).base_url", attempts: attempts))
            case .failure(let transportError):
                failure = RetryableFailure(summary: describe(transportError))
            case .success(let response):
                switch response.status {
                case 200..<300:
                    return completion(from: response, latencyMs: latencyMs, attempts: attempts)
                case 408, 429, 500..<600:
                    failure = RetryableFailure(
                        status: response.status, retryAfter: Self.retryAfter(of: response),
                        summary: statusSummary(response))
                default:
                    return .failure(rejection(response, attempts: attempts))
                }
            }
            if attempts > retry.maxRetries {
                return .failure(
                    error(
                        .retriesExhausted, "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s"); last: \(failure.summary)",
                        status: failure.status, attempts: attempts))
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
                    attempts: attempts, finishReason: reply.finishReason))
        } catch {
            return .failure(
                self.error(
                    .badResponse,
                    "HTTP \(response.status) but the body is not \(format.replyName) (\(error.reason)); is base_url the API's address? Body: \(excerpt(response.body))",
                    status: response.status, attempts: attempts))
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
        return error(.rejected, "\(statusSummary(response)); not retried: \(hint)", status: response.status, attempts: attempts)
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

    private func excerpt(_ body: [UInt8]) -> String {
        ResponseBodyExcerpt.make(body, apiKey: apiKey?.value, credentialTokens: true)
    }

    private func error(_ kind: JudgeCallError.Kind, _ message: String, status: Int? = nil, attempts: Int) -> JudgeCallError {
        JudgeCallError(kind: kind, message: "endpoint \(name): \(message)", status: status, attempts: attempts)
    }

    private func cancelled(attempts: Int) -> JudgeCallError {
        error(.cancelled, "cancelled after \(attempts) attempt\(attempts == 1 ? "" : "s")", attempts: attempts)
    }

    private func circuitOpen(attempts: Int) -> JudgeCallError {
        let until = breaker.openUntil.map { " until \(RFC3339.format($0, fractional: false))" } ?? " (a trial call is in progress)"
        return error(
            .circuitOpen,
            "circuit open after repeated failed calls\(until); no request sent, the trace waits",
            attempts: attempts)
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
