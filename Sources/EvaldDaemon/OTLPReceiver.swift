import EvaldCore
import EvaldHTTP
import EvaldOTLP
import EvaldSpool
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The OTLP/HTTP traces receiver (`otlp.listen`): `POST /v1/traces` as the OTLP/HTTP
/// specification has it (protobuf or JSON, gzip or not). What it accepts is in the spool,
/// fsynced, before it answers (`OTLPReceiverSpool`); the spool reader does the rest.
public enum OTLPReceiver {
    /// How long a client refused for back-pressure or a failed write is asked to wait.
    static let retryAfterSeconds = 30

    /// The bearer token the receiver asks for, nil when `otlp.token_file` is not set.
    public static func loadToken(_ config: EvaldConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> Secret? {
        guard let file = config.otlp.tokenFile else { return nil }
        do {
            return try SecretLoader.load(
                env: nil, file: file, key: "otlp.token_file", configDirectory: (config.sourcePath as NSString).deletingLastPathComponent,
                environment: environment)
        } catch {
            throw ConfigErrors([ConfigProblem(file: config.sourcePath, line: nil, key: error.key, message: error.message)])
        }
    }

    /// The receiver's spool, its span keys read back (blocking; before anything listens).
    public static func makeSpool(_ config: EvaldConfig) throws -> OTLPReceiverSpool? {
        guard config.otlp.listen != nil else { return nil }
        try FileManager.default.createDirectory(atPath: config.spool.dir, withIntermediateDirectories: true)
        return try OTLPReceiverSpool(directory: config.spool.dir, maxLineBytes: config.spool.maxLineBytes)
    }

    public static func makeApplication(
        config: OTLPConfig, spool: OTLPReceiverSpool, token: Secret?, runtime: DaemonRuntime, logger: Logger
    ) -> (any Service)? {
        // Bound once, like http.listen: a reload that changes otlp needs a restart.
        guard let listen = config.listen, let (host, port) = HTTPEndpoints.address(listen) else { return nil }
        let intake = OTLPIntake(config: config, spool: spool, token: token, runtime: runtime, logger: logger)
        let router = Router()
        router.post("/v1/traces") { request, _ -> Response in
            let answer = await intake.answer(request)
            runtime.metrics.countOTLPRequest(status: Int(answer.status.code))
            var headers: HTTPFields = [.contentType: answer.contentType]
            if let retryAfter = answer.retryAfter { headers[.retryAfter] = String(retryAfter) }
            if answer.status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
            return Response(status: answer.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "evald-otlp"),
            onServerRunning: { channel in
                logger.info(
                    "otlp.listening",
                    metadata: [
                        "otlp.address": "\(channel.localAddress.map { "\($0)" } ?? listen)",
                        "otlp.port": "\(channel.localAddress?.port ?? port)",
                    ])
            },
            logger: logger)
    }
}

/// One request's way through the receiver, from headers to the answer.
struct OTLPIntake: Sendable {
    enum Encoding {
        case protobuf, json

        var contentType: String { self == .protobuf ? "application/x-protobuf" : "application/json" }
    }

    struct Answer {
        var status: HTTPResponse.Status
        var contentType: String
        var body: [UInt8]
        var retryAfter: Int? = nil
    }

    let config: OTLPConfig
    let spool: OTLPReceiverSpool
    let token: Secret?
    let runtime: DaemonRuntime
    let logger: Logger

    func answer(_ request: Request) async -> Answer {
        let encoding = Self.encoding(request.headers[.contentType])
        if let token {
            let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? Secret(String($0.dropFirst(7))) : nil }
            guard given == token else { return failure(.unauthorized, encoding ?? .json, code: 16, "a bearer token is required (Authorization: Bearer ...)") }
        }
        guard let encoding else {
            return failure(
                .unsupportedMediaType, .json, code: 3,
                "Content-Type must be application/x-protobuf or application/json, not \(request.headers[.contentType] ?? "none")")
        }
        let gzip: Bool
        switch request.headers[.contentEncoding]?.lowercased().trimmingCharacters(in: .whitespaces) {
        case nil, "", "identity": gzip = false
        case "gzip": gzip = true
        case let other?: return failure(.unsupportedMediaType, encoding, code: 3, "Content-Encoding \(other) is not supported (gzip or none)")
        }
        // Back-pressure: unread spool above otlp.max_spool_bytes. The client retries later.
        let unread = runtime.spoolProgress.pendingBytes + spool.unmeasuredBytes
        if unread > config.maxSpoolBytes {
            return failure(
                .serviceUnavailable, encoding, code: 14,
                "the spool holds \(unread) unread bytes, over otlp.max_spool_bytes (\(config.maxSpoolBytes)); retry later",
                retryAfter: OTLPReceiver.retryAfterSeconds)
        }
        let limit = Int(clamping: config.maxBody)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            return failure(.contentTooLarge, encoding, code: 3, "the body is \(length) bytes, over otlp.max_body (\(limit))")
        }
        let raw: ByteBuffer
        do {
            raw = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            return failure(.contentTooLarge, encoding, code: 3, "the body is over otlp.max_body (\(limit) bytes)")
        } catch {
            return failure(.badRequest, encoding, code: 3, "the body could not be read")
        }
        let spool = self.spool, logger = self.logger
        return await BlockingExecutor.shared.run { () -> Answer in
            var body = Array(raw.readableBytesView)
            if gzip {
                switch Result(catching: { () throws(GzipInflater.Failure) -> [UInt8] in try GzipInflater.inflate(body, limit: limit) }) {
                case .success(let inflated): body = inflated
                case .failure(.tooLarge): return failure(.contentTooLarge, encoding, code: 3, "the body inflates to over otlp.max_body (\(limit) bytes)")
                case .failure(.corrupt(let why)): return failure(.badRequest, encoding, code: 3, "Content-Encoding gzip, but \(why)")
                }
            }
            let batch: OTLPExportBatch
            do {
                let json: JSONValue
                switch encoding {
                case .protobuf: json = try OTLPProtobuf.requestJSON(body)
                case .json: json = try body.withUnsafeBytes { try JSONParser.parse($0) }
                }
                batch = try OTLPExportBatch(request: json)
            } catch let problem as OTLPExportBatch.Problem {
                return failure(.badRequest, encoding, code: 3, problem.message)
            } catch {
                return failure(.badRequest, encoding, code: 3, "undecodable \(encoding == .protobuf ? "protobuf" : "JSON"): \(error)")
            }
            let appended: OTLPReceiverSpool.Appended
            do {
                appended = try spool.append(batch)
            } catch {
                logger.error("otlp.append_failed", metadata: ["error": "\(error)"])
                return failure(
                    .serviceUnavailable, encoding, code: 14, "the spool cannot be written; retry later", retryAfter: OTLPReceiver.retryAfterSeconds)
            }
            let rejected = batch.rejected + appended.oversized
            runtime.metrics.countOTLPSpans(result: "stored", by: appended.stored)
            runtime.metrics.countOTLPSpans(result: "duplicate", by: appended.duplicates)
            runtime.metrics.countOTLPSpans(result: "rejected", by: rejected)
            var message = batch.rejection ?? ""
            if appended.oversized > 0 {
                message += (message.isEmpty ? "" : "; ") + "\(appended.oversized) span(s) longer than spool.max_line_bytes"
            }
            if rejected > 0 {
                logger.warning("otlp.spans_rejected", metadata: ["otlp.rejected": "\(rejected)", "reason": "\(message)"])
            }
            return Answer(status: .ok, contentType: encoding.contentType, body: Self.success(rejected: rejected, message: message, encoding))
        }
    }

    static func encoding(_ contentType: String?) -> Encoding? {
        guard let contentType else { return nil }
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        switch mediaType {
        case "application/x-protobuf", "application/protobuf": return .protobuf
        case "application/json": return .json
        default: return nil
        }
    }

    /// `ExportTraceServiceResponse`, with `partialSuccess` when spans were rejected.
    static func success(rejected: Int, message: String, _ encoding: Encoding) -> [UInt8] {
        switch encoding {
        case .protobuf:
            return OTLPProtobuf.response(rejectedSpans: Int64(rejected), errorMessage: message)
        case .json:
            guard rejected > 0 else { return Array("{}".utf8) }
            return Array(
                JSONValue.object([
                    ("partialSuccess", .object([("rejectedSpans", .string(String(rejected))), ("errorMessage", .string(message))]))
                ]).serialized().utf8)
        }
    }

    /// A failure's body: a `google.rpc.Status` (`code`, `message`), as OTLP/HTTP asks.
    func failure(_ status: HTTPResponse.Status, _ encoding: Encoding, code: Int, _ message: String, retryAfter: Int? = nil) -> Answer {
        let body: [UInt8]
        switch encoding {
        case .json:
            body = Array(JSONValue.object([("code", .int(Int64(code))), ("message", .string(message))]).serialized().utf8)
        case .protobuf:
            // Status { int32 code = 1; string message = 2; }: two fields, encoded by hand.
            var bytes: [UInt8] = [0x08]
            Self.appendVarint(UInt64(code), to: &bytes)
            let text = Array(message.utf8)
            bytes.append(0x12)
            Self.appendVarint(UInt64(text.count), to: &bytes)
            bytes += text
            body = bytes
        }
        return Answer(status: status, contentType: encoding.contentType, body: body, retryAfter: retryAfter)
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
