import EvaldCore
import EvaldStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// kill -9 at random moments must lose no trace and count none twice.
@Suite(.serialized) struct CrashSafetyTests {
    /// Appends lines in uneven pieces (often splitting a line) and rotates the file now and then,
    /// as a collector does, until `total` lines are written.
    final class SpoolWriter: @unchecked Sendable {
        let spool: String
        let total: Int
        private(set) var done = false
        private let lock = NSLock()

        init(spool: String, total: Int) {
            self.spool = spool
            self.total = total
        }

        var isDone: Bool { lock.withLock { done } }

        func run(seed: UInt64) {
            var rng = SeededGenerator(state: seed)
            let path = spool + "/traces.jsonl"
            var pending = Data()
            var next = 0
            var rotation = 0
            while next < total || !pending.isEmpty {
                while pending.count < 8192, next < total {
                    pending.append(Data(EvaldHarness.line(next).utf8))
                    next += 1
                }
                let piece = min(pending.count, Int(rng.next() % 6000) + 1)
                if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
                let handle = FileHandle(forWritingAtPath: path)!
                handle.seekToEndOfFile()
                handle.write(pending.prefix(piece))
                handle.closeFile()
                pending.removeFirst(piece)
                // Rotate only between lines, as the collector's file exporter does.
                if rng.next() % 40 == 0, pending.first.map({ _ in true }) ?? true, endsWithNewline(path) {
                    rotation += 1
                    try? FileManager.default.moveItem(atPath: path, toPath: spool + "/traces-\(rotation).jsonl")
                }
                usleep(useconds_t(rng.next() % 30_000))
            }
            lock.withLock { done = true }
        }

        private func endsWithNewline(_ path: String) -> Bool {
            guard let handle = FileHandle(forReadingAtPath: path) else { return true }
            defer { handle.closeFile() }
            let size = handle.seekToEndOfFile()
            guard size > 0 else { return true }
            handle.seek(toFileOffset: size - 1)
            return handle.readData(ofLength: 1).first == 0x0A
        }
    }

    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func killMinusNineLosesNothingAndCountsNothingTwice() throws {
        let rate = 0.3
        let total = 6000
        let h = try EvaldHarness(rate: rate, pollInterval: "50ms")
        let writer = SpoolWriter(spool: h.spool, total: total)
        let thread = Thread { writer.run(seed: 11) }
        thread.start()

        var rng = SeededGenerator(state: 5)
        var kills = 0
        var progress: [Int64] = []
        while kills < 25 || !writer.isDone {
            let daemon = try h.startDaemon(logName: "daemon-\(kills).log")
            usleep(useconds_t(30_000 + rng.next() % 400_000))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            #expect(daemon.terminationReason == .uncaughtSignal)
            progress.append(try h.store().counters()["lines_read"] ?? 0)
            kills += 1
            if kills > 200 { break }
        }
        #expect(writer.isDone)
        // The kills fell while there was work: the count moved between many of them.
        #expect(Set(progress).count >= 10, "lines read after each kill: \(progress)")

        // Restart once more and let it finish.
        let daemon = try h.startDaemon(logName: "daemon-final.log")
        #expect(try h.waitUntil(timeout: 60) { try h.spoolStatus("lines_read") == Int64(total) && h.spoolStatus("bytes_pending") == 0 })
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)

        let crashed = try h.store()
        let ids = try crashed.evaluations().map(\.traceID)
        #expect(ids.count == Set(ids).count, "duplicates after \(kills) kills")
        let counters = try crashed.counters()
        #expect(counters["lines_read"] == Int64(total))
        #expect(counters["records"] == Int64(total))
        #expect(counters["malformed"] == nil)
        #expect(counters["sampled"] == Int64(ids.count))

        // The same spool read by a run that was never killed.
        let reference = try EvaldHarness(rate: rate)
        try FileManager.default.removeItem(atPath: reference.spool)
        try FileManager.default.copyItem(atPath: h.spool, toPath: reference.spool)
        #expect(try reference.run(["run", "--once"]).code == 0)
        let referenceIDs = try reference.store().evaluations().map(\.traceID)
        #expect(Set(ids) == Set(referenceIDs))
        #expect(ids.count == referenceIDs.count)
        #expect(Set(ids) == EvaldHarness.expectedSample(0..<total, rate: rate))
    }
}
