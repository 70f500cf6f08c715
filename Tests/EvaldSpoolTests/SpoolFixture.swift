import EvaldCore
import EvaldSpool
import EvaldStore
import EvaldTesting
import Foundation

/// A temporary spool directory and state database, with helpers to write traces.
final class SpoolFixture {
    let root: String
    let spool: String
    let store: StateStore
    let clock = ManualClock()
    var events: [SpoolEvent] = []

    init() throws {
        root = NSTemporaryDirectory() + "evald-spool-\(UUID().uuidString)"
        spool = root + "/spool"
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        store = try StateStore.open(path: root + "/state/evald.db")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func reader(
        rate: Double = 1, maxLineBytes: Int = 4 << 20, idleAfter: Double = 300, afterRead: SpoolConfig.AfterRead = .keep,
        validateAll: Bool = false, store: (any SpoolCheckpointStore)? = nil, batchBytes: Int? = nil
    ) -> SpoolReader {
        var settings = SpoolReader.Settings(directory: spool, maxLineBytes: maxLineBytes, idleAfter: idleAfter, afterRead: afterRead)
        if let batchBytes { settings.batchBytes = batchBytes }
        return SpoolReader(
            settings: settings,
            store: store ?? self.store, classifier: LineClassifier(sampler: TraceSampler(globalRate: rate), validatesEveryLine: validateAll),
            now: { [clock] in clock.now }, onEvent: { [unowned self] in self.events.append($0) })
    }

    func path(_ name: String) -> String { spool + "/" + name }

    static func traceID(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 32 - hex.count) + hex
    }

    static func line(_ n: Int, route: String = "support-chat") -> String {
        #"{"trace_id":"\#(traceID(n))","timestamp":"2026-11-28T10:00:00.000Z","route":"\#(route)","model":"gpt-4o-mini","output":"answer \#(n)"}"# + "\n"
    }

    func append(_ name: String, _ text: String) throws {
        try append(name, Data(text.utf8))
    }

    func append(_ name: String, _ data: Data) throws {
        let p = path(name)
        if !FileManager.default.fileExists(atPath: p) { FileManager.default.createFile(atPath: p, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: p))
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
        try handle.close()
    }

    func appendLines(_ name: String, _ numbers: some Sequence<Int>) throws {
        try append(name, numbers.map { Self.line($0) }.joined())
    }

    func rename(_ from: String, _ to: String) throws {
        try FileManager.default.moveItem(atPath: path(from), toPath: path(to))
    }

    func truncate(_ name: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path(name)))
        try handle.truncate(atOffset: 0)
        try handle.close()
    }

    /// Descriptors this process holds open on files in the spool (Linux /proc).
    func openSpoolDescriptors() -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) ?? "").hasPrefix(spool) }.count
    }

    /// Trace ids in the database, in insertion order.
    func storedIDs() throws -> [String] { try store.evaluations().map(\.traceID) }

    func expectedIDs(_ numbers: some Sequence<Int>) -> [String] { numbers.map(Self.traceID) }
}
