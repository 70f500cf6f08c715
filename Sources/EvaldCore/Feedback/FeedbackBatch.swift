/// The feedback found in one run of bytes of a spool file, committed with the file's new
/// offset (`IngestBatch`): a crash counts none of it twice.
public struct FeedbackBatch: Sendable {
    public struct Entry: Sendable, Equatable {
        public var event: FeedbackEvent
        /// The line it came from.
        public var lineOffset: Int64

        public init(event: FeedbackEvent, lineOffset: Int64) {
            self.event = event
            self.lineOffset = lineOffset
        }
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    /// Adds what another batch counted from lines read after this one's.
    public mutating func append(_ other: FeedbackBatch) {
        entries.append(contentsOf: other.entries)
    }

    /// Adds a line's feedback when this instance counts it: with `sampling.shard: K/N`, the
    /// instance whose shard holds its trace id (feedback without one: instance 1), so N
    /// instances on one spool count each piece once between them.
    public mutating func add(_ event: FeedbackEvent, lineOffset: Int64, shard: Shard) {
        let counted =
            if let traceID = event.traceID, !traceID.isEmpty { shard.contains(TraceSampler.randomness(traceID: traceID)) } else { shard.index == 1 }
        guard counted else { return }
        entries.append(Entry(event: event, lineOffset: lineOffset))
    }
}
