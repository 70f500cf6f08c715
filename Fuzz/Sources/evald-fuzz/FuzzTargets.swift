import EvaldCore
import Foundation
import OTLPProtobufSource
import RetryAfterSource

/// One fuzz target: takes any bytes, must neither crash, nor hang, nor take time more than
/// linear in their size. Outcomes are thrown away: a refusal (an error, a quarantine reason) is
/// a fine answer; only the process dying or stalling is a finding.
typealias FuzzTarget = @Sendable (UnsafeRawBufferPointer) -> Void

enum FuzzTargets {
    static let all: [String: FuzzTarget] = [
        "line": line,
        "otlp": otlp,
        "otlp-protobuf": otlpProtobuf,
        "config": config,
        "rubric": rubric,
        "reply": reply,
        "schema": schema,
        "time": time,
        "pii": pii,
        "pii-scaling": piiScaling,
    ]

    /// Every trace kept, every line walked: the whole decode path runs on each input.
    static let classifier = LineClassifier(sampler: TraceSampler(globalRate: 1), validatesEveryLine: true)

    static func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The spool's line path: the scanner's quick look, then the classifier (scanner, JSON
    /// parser, native decoder), as `SpoolReader` runs them on each line.
    static let line: FuzzTarget = { bytes in
        _ = JSONLineScanner.scan(bytes, needRoute: true, walkAll: true)
        _ = JSONLineScanner.scan(bytes, needRoute: false)
        switch classifier.classify(bytes) {
        case .sampled(let record, _):
            // What evald accepted, written back as a native record, is accepted again.
            let again = Array(NativeRecordEncoder.json(record).utf8)
            guard case .success = again.withUnsafeBytes({ classifier.decode($0) }) else {
                fatalError("a decoded record does not decode again once encoded: \(NativeRecordEncoder.json(record))")
            }
        default: break
        }
        let decoded = classifier.decode(bytes)
        // An unsampled line's usage and feedback are read by the usage scan, not the decoder:
        // on every line both read, they must read the same.
        if let scanned = UsageScanner.read(bytes, withRecordID: true), case .success(let record) = decoded {
            let fromScan = scanned.callUsage(in: bytes), fromRecord = CallUsage(record: record)
            guard fromScan == fromRecord else { fatalError("the usage scan read \(fromScan), the decoder \(fromRecord)") }
            if !scanned.hasKind {
                let fast = FeedbackLineReader.read(scanned, in: bytes), full = FeedbackLineReader.read(bytes)
                guard fast == full else { fatalError("the scan's feedback is \(fast), the full reading's \(full)") }
            }
        }
    }

    /// An OTLP/JSON export line (ExportTraceServiceRequest) to records.
    static let otlp: FuzzTarget = { bytes in
        _ = classifier.decodeOTLP(bytes)
    }

    /// An OTLP/HTTP protobuf body (ExportTraceServiceRequest), as the receiver takes it: to
    /// OTLP/JSON, to the batch of spans it appends, to the spool lines it writes, and those lines
    /// read back by the spool's OTLP decoder.
    static let otlpProtobuf: FuzzTarget = { bytes in
        guard let json = try? OTLPProtobuf.requestJSON(Array(bytes)),
            let batch = try? OTLPExportBatch(request: json)
        else { return }
        for line in batch.lines(lineLimit: 1 << 20, keep: { _ in true }).lines {
            _ = Array(line.text.utf8).withUnsafeBytes { classifier.decodeOTLP($0) }
        }
    }

    /// `evald.yaml`: YAML, then every key's validation.
    static let config: FuzzTarget = { bytes in
        _ = try? EvaldConfig.parse(yaml: text(bytes), path: "/fuzz/evald.yaml", environment: ["FUZZ": "1"])
    }

    /// A judge rubric (front matter and template), then the prompt rendered from it.
    static let rubric: FuzzTarget = { bytes in
        guard let rubric = try? JudgeRubric.parse(path: "/fuzz/judge.md", bytes: Array(bytes)) else { return }
        _ = try? rubric.render(.example)
    }

    /// A judge's reply, on the scale the first byte picks, with or without a truncation.
    static let reply: FuzzTarget = { bytes in
        guard let first = bytes.first else { return }
        let scales: [JudgeScale] = [.numeric(min: 1, max: 5), .numeric(min: 0, max: 10), .numeric(min: 0, max: 1), .passFail]
        let scale = scales[Int(first) % scales.count]
        let reply = text(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()))
        _ = JudgeReplyParser.parse(reply, scale: scale, passAt: scale.defaultPassAt, finishReason: first & 0x80 != 0 ? "length" : nil, maxOutputTokens: 64)
    }

    /// A schema and an instance, separated by the first newline: compile, then validate.
    static let schema: FuzzTarget = { bytes in
        let newline = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
        guard let schemaJSON = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: bytes[..<newline])),
            let schema = try? JSONSchema(schemaJSON)
        else { return }
        let rest = newline < bytes.endIndex ? UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)...]) : UnsafeRawBufferPointer(start: nil, count: 0)
        guard let instance = try? JSONParser.parse(rest) else { return }
        _ = schema.validate(instance)
    }

    /// Retry-After (delay-seconds, HTTP-dates) and RFC 3339 timestamps.
    static let time: FuzzTarget = { bytes in
        let value = text(bytes)
        _ = RetryAfter.seconds(value, now: Date(timeIntervalSince1970: 1_800_000_000))
        if let date = RFC3339.parse(value) { _ = RFC3339.format(date) }
    }

    /// The PII detector (the `no_pii` check and judge-prompt redaction) on any text.
    static let pii: FuzzTarget = { bytes in
        let value = text(bytes)
        let detector = PIIDetector()
        _ = detector.matches(in: value)
        _ = detector.redact(value)
    }

    /// The PII detector's time is linear in the text: the input repeated to 4 KiB and to 32 KiB
    /// (eight times the bytes) must take well under 64 times as long, which is what a quadratic
    /// scan (a backtracking pattern, an overlap pass over all pairs) would. Linear is not 8
    /// times here: measured at 1 to 256 KiB, time per byte steps up about threefold between 4
    /// and 8 KiB (caches, the allocator), then stays flat, so 4 to 32 KiB takes 10 to 12 times
    /// as long. Time is the thread's CPU time, not the clock's: on a loaded machine a 30 ms
    /// scan can take 300 ms of wall time. The threshold, 32 times, the floor, 50 ms for the
    /// large text, and the faster of two runs keep noise out, and a blow-up must show twice.
    static let piiScaling: FuzzTarget = { bytes in
        guard !bytes.isEmpty else { return }
        let unit = text(bytes)
        let detector = PIIDetector()
        func cpuSeconds() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
        }
        func seconds(_ size: Int) -> Double {
            let value = String(repeating: unit, count: max(1, size / bytes.count))
            return (0..<2).map { _ in
                let start = cpuSeconds()
                _ = detector.matches(in: value)
                return cpuSeconds() - start
            }.min()!
        }
        func blowUp() -> (small: Double, large: Double)? {
            let small = seconds(4096)
            let large = seconds(32768)
            return large > 0.05 && large > 32 * small ? (small, large) : nil
        }
        if blowUp() != nil, let (small, large) = blowUp() {
            fatalError("PII detector not linear: 4 KiB in \(small) s, 32 KiB in \(large) s of CPU")
        }
    }
}
