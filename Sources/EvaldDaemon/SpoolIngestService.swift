import EvaldCore
import EvaldSpool
import EvaldStore
import Foundation
import Logging
import ServiceLifecycle

/// The loop that polls the spool every `spool.poll_interval` and commits what it reads.
public final class SpoolIngestService: Service, @unchecked Sendable {
    private let reader: SpoolReader
    private var pollInterval: Double
    private let logger: Logger
    private let runtime: DaemonRuntime
    private var config: EvaldConfig
    private var raisedVersion = 0
    private var raised: [String: Double] = [:]

    public init(reader: SpoolReader, config: EvaldConfig, logger: Logger, runtime: DaemonRuntime = DaemonRuntime()) {
        self.reader = reader
        self.config = config
        self.pollInterval = config.spool.pollInterval
        self.logger = logger
        self.runtime = runtime
    }

    private func classifier() -> LineClassifier {
        LineClassifier(sampler: config.sampling.makeSampler().raising(raised), validatesEveryLine: config.spool.validate == .all)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var consecutiveFailures = 0
            while !Task.isCancelled {
                if let reload = self.runtime.takeReload() {
                    // Applied here, between polls, because only this task touches the reader.
                    self.config = reload.config
                    self.reader.update(settings: .init(reload.config.spool), classifier: self.classifier(),
                                       checks: reload.checks, judges: reload.judges)
                    self.pollInterval = reload.config.spool.pollInterval
                }
                if let (version, rates) = self.runtime.raisedRates(newerThan: self.raisedVersion) {
                    self.raisedVersion = version
                    self.raised = rates
                    self.reader.update(classifier: self.classifier())
                    self.logger.info("sampling.rates_raised", metadata: [
                        "routes": "\(rates.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
                    ])
                }
                do {
                    // A long catch-up gives the other services (heartbeat) a turn twice a second.
                    let deadline = Date() + 0.5
                    let summary = try self.reader.poll(shouldStop: { Task.isCancelled || Date() > deadline })
                    consecutiveFailures = 0
                    self.runtime.markProgress(summary.counts, pendingBytes: summary.pendingBytes)
                    if summary.bytesRead > 0 {
                        self.logger.debug("spool.poll", metadata: [
                            "spool.bytes": "\(summary.bytesRead)", "spool.lines": "\(summary.counts.linesRead)",
                            "spool.sampled": "\(summary.counts.sampled)", "spool.malformed": "\(summary.counts.malformed)",
                        ])
                    }
                    // More is waiting (a batch limit or a stop request ended the poll): go on at once.
                    if !summary.caughtUp { await Task.yield(); continue }
                } catch {
                    consecutiveFailures += 1
                    self.runtime.countPollFailure()
                    self.logger.error("spool.poll_failed", metadata: ["error": "\(error)", "failures": "\(consecutiveFailures)"])
                }
                // Back off on repeated failures (a full disk, a locked database) up to 30 s.
                let delay = consecutiveFailures == 0 ? self.pollInterval : min(30, self.pollInterval * pow(2, Double(consecutiveFailures)))
                // Sleep in slices of at most a second, each a sign of life for the watchdog,
                // so a long poll_interval is not mistaken for a stuck loop.
                var remaining = delay
                while remaining > 0, !Task.isCancelled {
                    let slice = min(remaining, 1)
                    do { try await Task.sleep(for: .seconds(slice)) } catch { break }
                    remaining -= slice
                    if consecutiveFailures == 0 { self.runtime.markProgress(IngestCounts()) }
                }
            }
        }
        logger.info("spool.reader_stopped")
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
            logger.warning("spool.file_truncated", metadata: ["spool.file": "\(path)", "spool.offset": "\(offset)", "spool.size": "\(size)", "action": "reading again from 0"])
        case .replaced(let path):
            logger.warning("spool.file_replaced", metadata: ["spool.file": "\(path)", "action": "its first line changed; reading it as a new file"])
        case .gone(let path, let unread):
            if unread < 0 {
                logger.warning("spool.file_gone", metadata: ["spool.file": "\(path)", "action": "removed while evald was down; any unread tail is lost"])
            } else {
                logger.info("spool.file_done", metadata: ["spool.file": "\(path)"])
            }
        case .deleted(let path):
            logger.info("spool.file_deleted", metadata: ["spool.file": "\(path)", "reason": "after_read: delete"])
        case .quarantined(let path, let offset, let reason, let detail):
            logger.warning("spool.line_quarantined", metadata: ["spool.file": "\(path)", "spool.offset": "\(offset)", "reason": "\(reason.rawValue)", "detail": "\(detail)"])
        case .unreadable(let path, let message):
            logger.error("spool.unreadable", metadata: ["spool.file": "\(path)", "error": "\(message)"])
        }
    }
}
