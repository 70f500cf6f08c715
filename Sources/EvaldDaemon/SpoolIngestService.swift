import EvaldCore
import EvaldSpool
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// The loop that polls the spool every `spool.poll_interval` and commits what it reads. The
/// reader, and with it every file read and every commit, lives on the blocking executor.
public struct SpoolIngestService: Service {
    let store: StateStore
    let setups: SetupSource
    let runtime: DaemonRuntime
    let logger: Logger

    public init(store: StateStore, setups: SetupSource, runtime: DaemonRuntime, logger: Logger) {
        self.store = store
        self.setups = setups
        self.runtime = runtime
        self.logger = logger
    }

    static func classifier(_ config: EvaldConfig, raised: [String: Double]) -> LineClassifier {
        LineClassifier(sampler: config.sampling.makeSampler().raising(raised), validatesEveryLine: config.spool.validate == .all)
    }

    public func run() async throws {
        await BlockingExecutor.shared.run {
            await cancelWhenGracefulShutdown { await self.loop() }
        }
        logger.info("spool.reader_stopped")
    }

    /// The reader's settings: `spool`'s, and the OTLP receiver's files deleted once read.
    private func readerSettings(_ config: EvaldConfig) -> SpoolReader.Settings {
        var settings = SpoolReader.Settings(config.spool, redact: config.storage.redact)
        if let receiverSpool = runtime.receiverSpool { settings.deletesWhenRead = { receiverSpool.deletesWhenRead($0) } }
        return settings
    }

    private func loop() async {
        var setup = setups.current
        var raisedVersion = 0
        var raised: [String: Double] = [:]
        let logger = self.logger
        let reader = SpoolReader(
            settings: readerSettings(setup.config), store: store,
            classifier: Self.classifier(setup.config, raised: raised),
            checks: setup.checks, judges: setup.roster.routing, usage: setup.config.usage, onEvent: { $0.log(to: logger) })
        var consecutiveFailures = 0
        while !Task.isCancelled {
            let latest = setups.current
            if latest.version != setup.version {
                setup = latest
                reader.update(
                    settings: readerSettings(setup.config), classifier: Self.classifier(setup.config, raised: raised),
                    checks: setup.checks, judges: setup.roster.routing, usage: setup.config.usage)
            }
            if let (version, rates) = runtime.raisedRates(newerThan: raisedVersion) {
                raisedVersion = version
                raised = rates
                reader.update(classifier: Self.classifier(setup.config, raised: raised))
                logger.info(
                    "sampling.rates_raised",
                    metadata: [
                        "routes": "\(rates.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"
                    ])
            }
            do {
                // A long catch-up commits and reports progress (the watchdog's proof of life)
                // at least twice a second.
                let deadline = Date() + 0.5
                // Before the poll measures the unread bytes: what the receiver appends meanwhile
                // is counted twice for a round rather than not at all (its back-pressure).
                runtime.receiverSpool?.markMeasured()
                let summary = try reader.poll(shouldStop: { Task.isCancelled || Date() > deadline })
                if consecutiveFailures > 0 { logger.info("spool.poll_recovered", metadata: ["failures": "\(consecutiveFailures)"]) }
                consecutiveFailures = 0
                runtime.markProgress(
                    summary.counts, checks: summary.checks, usage: summary.usage, pendingBytes: summary.pendingBytes, files: summary.files,
                    directoryError: summary.directoryError, unreadable: summary.unreadableFiles)
                if summary.bytesRead > 0 {
                    logger.debug(
                        "spool.poll",
                        metadata: [
                            "spool.bytes": "\(summary.bytesRead)", "spool.lines": "\(summary.counts.linesRead)",
                            "spool.sampled": "\(summary.counts.sampled)", "spool.malformed": "\(summary.counts.malformed)",
                        ])
                }
                // More is waiting (a batch limit or a stop request ended the poll): go on at once.
                if !summary.caughtUp { await Task.yield(); continue }
            } catch {
                consecutiveFailures += 1
                // Whatever the batch held was not committed: the next poll reads it again from
                // the last committed offset, so nothing is lost and nothing counted twice.
                runtime.countPollFailure(reason: "\(error)", store: error is StoreError)
                logger.error(
                    "spool.poll_failed",
                    metadata: [
                        "error": "\(error)", "failures": "\(consecutiveFailures)",
                        "action": "nothing was committed; retrying from the last committed offset with backoff up to 30 s",
                    ])
            }
            // Back off on repeated failures (a full disk, a locked database) up to 30 s.
            let pollInterval = setup.config.spool.pollInterval
            let delay = consecutiveFailures == 0 ? pollInterval : min(30, pollInterval * pow(2, Double(consecutiveFailures)))
            // Sleep in slices of at most a second, each a sign of life for the watchdog,
            // so a long poll_interval is not mistaken for a stuck loop.
            var remaining = delay
            while remaining > 0, !Task.isCancelled {
                let slice = min(remaining, 1)
                do { try await Task.sleep(for: .seconds(slice)) } catch { break }
                remaining -= slice
                runtime.markAlive(pollsWorking: consecutiveFailures == 0)
            }
        }
    }
}

extension SpoolEvent {
    /// Logs the event at the level an operator would want.
    public func log(to logger: Logger) {
        switch self {
        case .tracking(let path):
            logger.info("spool.file_tracked", metadata: ["spool.file": "\(path)"])
        case .renamed(let from, let to):
            logger.info("spool.file_renamed", metadata: ["spool.file": "\(to)", "spool.previous_path": "\(from)"])
        case .truncated(let path, let offset, let size):
            logger.warning(
                "spool.file_truncated",
                metadata: ["spool.file": "\(path)", "spool.offset": "\(offset)", "spool.size": "\(size)", "action": "reading again from 0"])
        case .replaced(let path):
            logger.warning("spool.file_replaced", metadata: ["spool.file": "\(path)", "action": "its first line changed; reading it as a new file"])
        case .gone(let path, let unread):
            if unread < 0 {
                logger.warning("spool.file_gone", metadata: ["spool.file": "\(path)", "action": "removed while evald was down; any unread tail is lost"])
            } else {
                logger.info("spool.file_done", metadata: ["spool.file": "\(path)"])
            }
        case .deleted(let path):
            let receiverFile = OTLPReceiverSpool.isReceiverFileName((path as NSString).lastPathComponent)
            logger.info(
                "spool.file_deleted", metadata: ["spool.file": "\(path)", "reason": receiverFile ? "read (an OTLP receiver file)" : "after_read: delete"])
        case .quarantined(let path, let offset, let reason, let detail):
            logger.warning(
                "spool.line_quarantined",
                metadata: ["spool.file": "\(path)", "spool.offset": "\(offset)", "reason": "\(reason.rawValue)", "detail": "\(detail)"])
        case .unreadable(let path, let message):
            logger.error("spool.unreadable", metadata: ["spool.file": "\(path)", "error": "\(message)", "action": "retried every poll; the other files go on"])
        case .readable(let path):
            logger.info("spool.readable_again", metadata: ["spool.file": "\(path)"])
        }
    }
}
