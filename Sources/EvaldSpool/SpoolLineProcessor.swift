import EvaldCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns a run of complete spool lines into what they add to an ingest batch: usage from every
/// call, feedback, sampled records with their check verdicts, failed calls, quarantined lines.
///
/// Pure over its input and its settings, so a long run is cut at line boundaries and its parts
/// processed on several threads at once (`processInParallel`), each into its own batch, which are
/// then appended in order: what the batch holds is the same as from one thread.
struct SpoolLineProcessor: Sendable {
    var classifier: LineClassifier
    var checks: CheckPlan
    var judges: JudgeRouting
    var usage: UsageConfig
    var maxLineBytes: Int
    /// `storage.redact`: PII in records and quarantine excerpts is replaced before they are stored.
    var redact: Bool

    /// Below this many bytes a run is processed on the calling thread alone: handing work to
    /// another thread costs more than it saves for a few lines (a daemon's usual poll).
    static let parallelMinimumBytes = 256 << 10

    static let partsPerThread = 4

    /// Threads a long run is processed on: the machine's cores, at most 4 (commits are serial and
    /// one writer's pace; beyond that more readers only wait).
    static let parallelWidth = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))

    func emptyBatch(fileID: Int64, startOffset: Int64, committedAt: Date) -> IngestBatch {
        IngestBatch(fileID: fileID, startOffset: startOffset, newOffset: startOffset, committedAt: committedAt, usage: UsageBatch(config: usage))
    }

    /// Processes the first `count` bytes of `chunk` (complete lines, each ending in a newline),
    /// read at `offset` of the file, adding to `batch`, which ends at `offset`; long runs on the
    /// `workers`' threads, short ones (or all, without workers) on the calling thread. Returns
    /// the time the checks took. The caller moves the batch's `newOffset` past the bytes.
    func processInParallel(
        _ chunk: [UInt8], count: Int, at offset: Int64, filePath: String, into batch: inout IngestBatch, workers: IngestWorkers?
    ) -> Duration {
        if let run = startInParallel(
            chunk, count: count, at: offset, filePath: filePath, fileID: batch.fileID, committedAt: batch.committedAt, workers: workers)
        {
            return run.finish(into: &batch)
        }
        return chunk.withUnsafeBytes {
            process(UnsafeRawBufferPointer(rebasing: $0[..<count]), at: offset, filePath: filePath, into: &batch, scratch: IngestScratch())
        }
    }

    /// Starts processing the first `count` bytes of `chunk` on the workers and returns at once,
    /// so the caller can read the next chunk meanwhile; nil when the run is too short to share
    /// out, or there are no workers (then `processInParallel` processes it on the calling thread).
    func startInParallel(
        _ chunk: [UInt8], count: Int, at offset: Int64, filePath: String, fileID: Int64, committedAt: Date, workers: IngestWorkers?
    ) -> ParallelRun? {
        guard let workers, workers.width > 1, count >= Self.parallelMinimumBytes else { return nil }
        // Several parts per thread: they are handed out as threads come free, so a thread slowed
        // by the commit running beside it does not hold the others up.
        let parts = chunk.withUnsafeBytes { Self.split(UnsafeRawBufferPointer(rebasing: $0[..<count]), into: workers.width * Self.partsPerThread) }
        let results = PartResults(count: parts.count)
        let completion = workers.submit(parts.count) { index, scratch in
            let range = parts[index]
            let start = offset + Int64(range.lowerBound)
            var part = emptyBatch(fileID: fileID, startOffset: start, committedAt: committedAt)
            let time = chunk.withUnsafeBytes {
                process(UnsafeRawBufferPointer(rebasing: $0[range]), at: start, filePath: filePath, into: &part, scratch: scratch)
            }
            part.newOffset = offset + Int64(range.upperBound)
            results.slots.withLock { $0[index] = (part, time) }
        }
        return ParallelRun(completion: completion, results: results)
    }

    /// A chunk being processed on the workers (`startInParallel`).
    struct ParallelRun: Sendable {
        fileprivate let completion: IngestWorkers.Completion
        fileprivate let results: PartResults

        /// Waits until every part is processed and adds them to `batch`, in order; returns the
        /// time the checks took. Once per run.
        func finish(into batch: inout IngestBatch) -> Duration {
            completion.wait()
            var checkTime = Duration.zero
            for case let result? in results.slots.withLock({ $0 }) {
                batch.append(result.batch)
                checkTime += result.checkTime
            }
            return checkTime
        }

        /// Waits until every part is processed and drops them. Once per run, instead of `finish`.
        func abandon() { completion.wait() }
    }

    fileprivate final class PartResults: Sendable {
        let slots: Mutex<[(batch: IngestBatch, checkTime: Duration)?]>
        init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    }

    /// At most `parts` ranges of whole lines, about equally long, that cover `bytes` in order
    /// (fewer when it holds fewer lines).
    static func split(_ bytes: UnsafeRawBufferPointer, into parts: Int) -> [Range<Int>] {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return [] }
        var ranges: [Range<Int>] = []
        var start = 0
        for part in 1..<max(1, parts) {
            let target = max(start, bytes.count * part / parts)
            guard target < bytes.count, let newline = memchr(base + target, 0x0A, bytes.count - target) else { break }
            let end = base.distance(to: UnsafeRawPointer(newline)) + 1
            // The run's last line: the last part takes it.
            guard end < bytes.count else { break }
            ranges.append(start..<end)
            start = end
        }
        ranges.append(start..<bytes.count)
        return ranges
    }

    /// The hot loop: frame lines with memchr and classify each. Returns the time the checks took.
    func process(
        _ bytes: UnsafeRawBufferPointer, at offset: Int64, filePath: String, into batch: inout IngestBatch, scratch: IngestScratch = IngestScratch()
    ) -> Duration {
        guard let base = bytes.baseAddress else { return .zero }
        var checkTime = Duration.zero
        var start = 0
        let maxLine = maxLineBytes
        let wantsRecordID = !usage.budgets.isEmpty
        while start < bytes.count {
            let newline = memchr(base + start, 0x0A, bytes.count - start)!
            let end = base.distance(to: UnsafeRawPointer(newline))
            defer { start = end + 1 }
            var line = UnsafeRawBufferPointer(start: base + start, count: end - start)
            let lineOffset = offset + Int64(start)
            // A byte-order mark at the start of a file (editors on Windows write one) is not
            // part of the first record.
            if lineOffset == 0, line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF {
                line = UnsafeRawBufferPointer(rebasing: line[3...])
            }
            batch.counts.linesRead += 1
            if line.count > maxLine {
                quarantine(
                    line, at: lineOffset, LineProblem(.lineTooLong, "line of \(line.count + 1) bytes is longer than spool.max_line_bytes (\(maxLine))"),
                    filePath: filePath, into: &batch)
                continue
            }
            let outcome = classifier.classify(line)
            // The common line: a call outside the sample. Its usage is read by a walk over its
            // top-level members, which also finds its feedback, if any.
            var scanned: ScannedUsage?
            if case .unsampled = outcome {
                scanned = UsageScanner.read(line, withRecordID: wantsRecordID)
                if let call = scanned, !call.isError, !call.hasKind {
                    if call.feedback != nil, take(FeedbackLineReader.read(call, in: line), line, at: lineOffset, filePath: filePath, into: &batch) {
                        continue
                    }
                    batch.counts.records += 1
                    batch.usage.add(call, in: line)
                    continue
                }
            }
            if take(FeedbackLineReader.read(line), line, at: lineOffset, filePath: filePath, into: &batch) { continue }
            switch outcome {
            case .blank:
                batch.counts.blankLines += 1
            case .unsampled:
                // Usage counts every call: read its few fields, or decode it when they cannot be
                // read plainly (which also says what is wrong with a bad line). A failed call is
                // stored whatever the sample says (`evald traces`), so it is decoded in full;
                // failures are a few percent of calls.
                if let call = scanned, !call.isError {
                    batch.counts.records += 1
                    batch.usage.add(call, in: line)
                } else {
                    switch classifier.decode(line) {
                    case .success(let record):
                        batch.counts.records += 1
                        batch.usage.add(stored(CallUsage(record: record)))
                        if record.status == .error {
                            batch.failedOutsideSample.append(
                                failedCall(record, json: String(decoding: line, as: UTF8.self), at: lineOffset, scratch: scratch))
                        }
                    case .failure(let problem):
                        quarantine(line, at: lineOffset, problem, filePath: filePath, into: &batch)
                    }
                }
            case .sampled(let record, let rate):
                batch.counts.records += 1
                batch.usage.add(stored(CallUsage(record: record)))
                checkTime += score(
                    SampledLine(record: record, sampleRate: rate, lineOffset: lineOffset, recordJSON: String(decoding: line, as: UTF8.self)),
                    into: &batch)
            case .otlp:
                switch classifier.decodeOTLP(line) {
                case .failure(let problem):
                    quarantine(line, at: lineOffset, problem, filePath: filePath, into: &batch)
                case .success(let decoded):
                    batch.counts.records += Int64(decoded.llmSpans)
                    batch.counts.skippedSpans += Int64(decoded.skippedSpans)
                    for call in decoded.usage { batch.usage.add(stored(call)) }
                    for (index, record) in decoded.failedOutsideSample {
                        batch.failedOutsideSample.append(
                            failedCall(record, json: NativeRecordEncoder.json(record), at: lineOffset, indexInLine: index, scratch: scratch))
                    }
                    for (index, record, rate) in decoded.records {
                        checkTime += score(
                            SampledLine(
                                record: record, sampleRate: rate, lineOffset: lineOffset, indexInLine: index, recordJSON: NativeRecordEncoder.json(record)),
                            into: &batch)
                    }
                }
            case .malformed(let problem):
                quarantine(line, at: lineOffset, problem, filePath: filePath, into: &batch)
            }
        }
        return checkTime
    }

    /// Counts the feedback read from a line, whether it is sampled or not. True when that used
    /// the line up: a feedback line (not a record), or a line quarantined for its feedback.
    private func take(
        _ feedback: FeedbackLineReader.Reading, _ line: UnsafeRawBufferPointer, at offset: Int64, filePath: String, into batch: inout IngestBatch
    ) -> Bool {
        switch feedback {
        case .none:
            return false
        case .problem(let problem):
            quarantine(line, at: offset, problem, filePath: filePath, into: &batch)
            return true
        case .line(let event):
            batch.feedback.add(event, lineOffset: offset, shard: classifier.sampler.shard)
            return true
        case .record(let event):
            batch.feedback.add(event, lineOffset: offset, shard: classifier.sampler.shard)
            return false
        }
    }

    /// Adds a kept record to the batch with its check verdicts: the checks are pure and cheap,
    /// so they are scored here and commit with the evaluation. Returns the time they took.
    private func score(_ line: SampledLine, into batch: inout IngestBatch) -> Duration {
        var line = line
        let started = ContinuousClock.now
        line.checkResults = checks.evaluate(line.record)
        let checkTime = ContinuousClock.now - started
        line.judgeNames = judges.judges(for: line.record)
        // After the checks (their verdicts are on the text as it arrived; failing details are
        // masked anyway), before anything is stored or queued for a judge.
        line = stored(line)
        batch.counts.sampled += 1
        batch.counts.failedChecks += Int64(line.checkResults.count { !$0.passed })
        batch.sampled.append(line)
        return checkTime
    }

    /// A failed call outside the sample as it is stored: redacted with `storage.redact`, its JSON
    /// deflated here rather than in the commit.
    private func failedCall(
        _ record: TraceRecord, json: String, at lineOffset: Int64, indexInLine: Int = 0, scratch: IngestScratch
    ) -> FailedCall {
        let line = stored(SampledLine(record: record, sampleRate: 0, lineOffset: lineOffset, indexInLine: indexInLine, recordJSON: json))
        return FailedCall(
            record: line.record, lineOffset: lineOffset, indexInLine: indexInLine, compressedRecord: scratch.deflater.compress(line.recordJSON))
    }

    /// A record as it is stored (a sampled one, or a failed call kept outside the sample for
    /// `evald traces`): with `storage.redact`, PII in every string replaced.
    private func stored(_ line: SampledLine) -> SampledLine {
        guard redact else { return line }
        var line = line
        line.record = StoredRedaction.record(line.record)
        line.recordJSON = StoredRedaction.json(line.recordJSON)
        return line
    }

    /// A call's usage as it is stored: its error class is the error's first word, which may be
    /// an address or a number (`jane@example.com: mailbox full`), so it is redacted too.
    private func stored(_ call: CallUsage) -> CallUsage {
        guard redact, let errorClass = call.errorClass else { return call }
        var call = call
        call.errorClass = StoredRedaction.text(errorClass)
        return call
    }

    func quarantine(_ line: UnsafeRawBufferPointer, at offset: Int64, _ problem: LineProblem, filePath: String, into batch: inout IngestBatch) {
        batch.counts.malformed += 1
        var excerpt = Array(UnsafeRawBufferPointer(rebasing: line.prefix(QuarantinedLine.excerptLimit)))
        if redact { excerpt = StoredRedaction.excerpt(excerpt) }
        batch.quarantined.append(
            QuarantinedLine(filePath: filePath, lineOffset: offset, lineBytes: Int64(line.count + 1), problem: problem, excerpt: excerpt))
    }
}
