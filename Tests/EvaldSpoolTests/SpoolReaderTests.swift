import EvaldCore
import EvaldSpool
import EvaldStore
import Foundation
import Synchronization
import Testing

/// The fixture's store, refusing the commits `refuses` picks (a full disk, a lock held).
final class RefusingStore: SpoolCheckpointStore {
    struct Refused: Error {}
    let store: StateStore
    let commits = Mutex(0)
    let refuses: @Sendable (Int) -> Bool

    init(_ store: StateStore, refuses: @escaping @Sendable (Int) -> Bool) {
        self.store = store
        self.refuses = refuses
    }

    func trackedSpoolFiles() throws -> [TrackedSpoolFile] { try store.trackedSpoolFiles() }
    func trackSpoolFile(path: String, device: UInt64, inode: UInt64, fingerprint: String, at: Date) throws -> TrackedSpoolFile {
        try store.trackSpoolFile(path: path, device: device, inode: inode, fingerprint: fingerprint, at: at)
    }
    func renameSpoolFile(id: Int64, to path: String) throws { try store.renameSpoolFile(id: id, to: path) }
    func retireSpoolFile(id: Int64, because: SpoolFileRetirement, at: Date) throws { try store.retireSpoolFile(id: id, because: because, at: at) }
    func commitBatch(_ batch: IngestBatch) throws {
        let n = commits.withLock {
            $0 += 1
            return $0
        }
        if refuses(n) { throw Refused() }
        try store.commitBatch(batch)
    }
}

@Suite struct SpoolReaderTests {
    @Test func consumesOnlyCompleteLines() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        let third = SpoolFixture.line(3)
        try f.append("a.jsonl", SpoolFixture.line(1) + SpoolFixture.line(2) + String(third.prefix(40)))
        let first = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...2))
        #expect(first.pendingBytes == 40)  // the partial line is the lag
        #expect(try f.store.counters()["malformed"] == nil)

        try f.append("a.jsonl", String(third.dropFirst(40)))
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...3))
    }

    @Test func whatAFailedPollCommittedIsReportedByTheNextPoll() throws {
        let f = try SpoolFixture()
        // One file's batch commits, the other's is refused once.
        let reader = f.reader(store: RefusingStore(f.store) { $0 == 2 })
        try f.appendLines("a.jsonl", 1...10)
        try f.append("b.jsonl", SpoolFixture.line(11, route: "refunds") + SpoolFixture.line(12, route: "refunds"))
        #expect(throws: RefusingStore.Refused.self) { try reader.poll() }
        #expect(try [10, 2].contains(f.store.counters()["lines_read"]))
        let summary = try reader.poll()
        #expect(summary.counts.linesRead == 12 && summary.counts.records == 12 && summary.counts.sampled == 12)
        let calls = summary.usage.byRouteModel.mapValues(\.calls)
        #expect(calls == [.init(route: "support-chat", model: "gpt-4o-mini"): 10, .init(route: "refunds", model: "gpt-4o-mini"): 2])
        #expect(try f.store.counters()["lines_read"] == 12)
        // Reported once: the poll after adds nothing.
        #expect(try reader.poll().usage.isEmpty)
    }

    /// Batches are queued for commit while the next ones are read: when one is refused, those
    /// queued behind it are not committed either (they start past its offset), the poll
    /// throws with nothing in flight, and the next poll goes on from the last committed batch.
    @Test func aRefusedCommitWithOthersQueuedBehindItLosesAndRepeatsNothing() throws {
        let f = try SpoolFixture()
        // Reads of about 1 KB, a commit every 20 KB: 3,000 lines make some twenty batches.
        let reader = f.reader(maxLineBytes: 1000, store: RefusingStore(f.store) { $0 == 3 }, batchBytes: 20_000)
        try f.appendLines("a.jsonl", 1...3000)
        #expect(throws: RefusingStore.Refused.self) { try reader.poll() }
        let committed = try #require(try f.store.counters()["lines_read"])
        #expect(committed > 0 && committed < 3000, "the batches before the refused one")
        #expect(try f.storedIDs().count == Int(committed))
        let summary = try reader.poll()
        #expect(summary.counts.linesRead == 3000, "what the failed poll committed, reported now, and the rest")
        #expect(try f.store.counters()["lines_read"] == 3000)
        #expect(try f.storedIDs().sorted() == f.expectedIDs(1...3000).sorted())
    }

    /// Files of lines (by default two, 7 and 4 MB) with ids spread over the range; the ids a 2%
    /// sample keeps.
    static func appendBacklog(
        _ f: SpoolFixture, files: [(String, Range<Int>)] = [("a.jsonl", 0..<70_000), ("b.jsonl", 70_000..<110_000)]
    ) throws -> [String] {
        var expected: [String] = []
        for (name, numbers) in files {
            var text = ""
            for n in numbers {
                // Ids spread over the range, so that the 2% sample keeps some in every read.
                let id = String(format: "%032llx", UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
                if TraceSampler.isKept(randomness: TraceSampler.randomness(traceID: id), rate: 0.02) { expected.append(id) }
                text += #"{"trace_id":"\#(id)","timestamp":1795860000,"route":"r","model":"m","output":"answer \#(n)"}"# + "\n"
            }
            try f.append(name, text)
        }
        return expected
    }

    /// A backlog of several 4 MiB reads, each processed on the workers in parts while the next is
    /// read, committed while later ones are processed: every line is counted once, and the sample
    /// is exactly the sampler's.
    @Test func aBacklogReadAheadWhileProcessedCountsEveryLineOnce() throws {
        let f = try SpoolFixture()
        // Reads of 4 MiB, each cut into parts at line ends.
        let expected = try Self.appendBacklog(f)
        let summary = try f.reader(rate: 0.02).poll()
        #expect(summary.counts.linesRead == 110_000 && summary.counts.records == 110_000 && summary.counts.malformed == 0)
        #expect(summary.usage.byRouteModel.values.map(\.calls).reduce(0, +) == 110_000)
        #expect(try f.store.counters()["lines_read"] == 110_000)
        #expect(try f.storedIDs() == expected)
        #expect(expected.count > 1_000)
    }

    /// A commit refused while a chunk is being processed and another read: the next poll loses
    /// and repeats nothing.
    @Test func aBacklogWithACommitRefusedMidwayLosesAndRepeatsNothing() throws {
        let f = try SpoolFixture()
        let expected = try Self.appendBacklog(f, files: [("a.jsonl", 0..<110_000)])
        // Reads of 512 KiB (max_line_bytes), each processed while the next is read, and a commit
        // every other read: the second commit is refused, which the reader learns while later
        // reads are in flight.
        let refusing = f.reader(rate: 0.02, maxLineBytes: 512 << 10, store: RefusingStore(f.store) { $0 == 2 }, batchBytes: 1 << 20)
        #expect(throws: RefusingStore.Refused.self) { try refusing.poll() }
        let committed = try #require(try f.store.counters()["lines_read"])
        #expect(committed > 0 && committed < 110_000, "the batch before the refused one")
        let rest = try f.reader(rate: 0.02, maxLineBytes: 512 << 10, batchBytes: 1 << 20).poll()
        #expect(rest.counts.linesRead == 110_000 - committed)
        #expect(try f.store.counters()["lines_read"] == 110_000)
        #expect(try f.store.counters()["records"] == 110_000)
        #expect(try f.storedIDs() == expected)
    }

    /// A poll asked to stop while a chunk is being processed commits what it has read, that
    /// chunk included, and the next poll goes on from there.
    @Test func aBacklogStoppedMidwayLosesAndRepeatsNothing() throws {
        let f = try SpoolFixture()
        let expected = try Self.appendBacklog(f, files: [("a.jsonl", 0..<110_000)])
        // Asked before the file, then after each batch: it stops after the first.
        var asked = 0
        let stopped = try f.reader(rate: 0.02, maxLineBytes: 512 << 10, batchBytes: 1 << 20).poll {
            asked += 1
            return asked >= 2
        }
        #expect(asked == 2)
        let committed = try #require(try f.store.counters()["lines_read"])
        #expect(committed > 0 && committed < 110_000)
        #expect(stopped.counts.linesRead == committed)
        let rest = try f.reader(rate: 0.02, maxLineBytes: 512 << 10, batchBytes: 1 << 20).poll()
        #expect(rest.counts.linesRead == 110_000 - committed)
        #expect(try f.store.counters()["lines_read"] == 110_000)
        #expect(try f.storedIDs() == expected)
    }

    @Test func picksUpAppendedLines() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        try f.appendLines("a.jsonl", 1...10)
        _ = try reader.poll()
        try f.appendLines("a.jsonl", 11...15)
        try f.appendLines("b.ndjson", 100...102)
        let summary = try reader.poll()
        #expect(summary.counts.linesRead == 8)
        #expect(Set(try f.storedIDs()) == Set(f.expectedIDs(Array(1...15) + Array(100...102))))
        #expect(try f.store.counters()["lines_read"] == 18)
    }

    @Test func followsRotationByRenameAndReadsTheNewFileFromItsStart() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        try f.appendLines("traces.jsonl", 1...5)
        _ = try reader.poll()
        // The writer appends, then rotates: rename, and a new file at the old path.
        try f.appendLines("traces.jsonl", 6...8)
        try f.rename("traces.jsonl", "traces-2026-11-28T10-00-00.jsonl")
        try f.appendLines("traces.jsonl", 9...12)
        _ = try reader.poll()
        let ids = try f.storedIDs()
        #expect(ids.count == 12)
        #expect(Set(ids) == Set(f.expectedIDs(1...12)))
        #expect(f.events.contains(.renamed(from: f.path("traces.jsonl"), to: f.path("traces-2026-11-28T10-00-00.jsonl"))))
    }

    @Test func rotationWhileStoppedKeepsTheOffset() throws {
        let f = try SpoolFixture()
        try f.appendLines("traces.jsonl", 1...5)
        _ = try f.reader().poll()
        try f.appendLines("traces.jsonl", 6...7)
        try f.rename("traces.jsonl", "traces-old.jsonl")
        try f.appendLines("traces.jsonl", 8...9)
        _ = try f.reader().poll()  // a new reader: as after a restart
        let ids = try f.storedIDs()
        #expect(ids.count == 9)
        #expect(Set(ids) == Set(f.expectedIDs(1...9)))
    }

    @Test func truncatedFileIsReadAgainFromZero() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        try f.appendLines("out.json", 1...10)
        _ = try reader.poll()
        try f.truncate("out.json")
        try f.appendLines("out.json", 20...22)
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(Array(1...10) + Array(20...22)))
        #expect(f.events.contains { if case .truncated = $0 { true } else { false } })
    }

    @Test func truncatedAndRewrittenPastTheOffsetIsNoticedByFingerprint() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        try f.appendLines("out.json", 1...3)
        _ = try reader.poll()
        try f.truncate("out.json")
        try f.appendLines("out.json", 30...40)
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(Array(1...3) + Array(30...40)))
    }

    @Test func reusedInodeWithNewContentIsANewFile() throws {
        let f = try SpoolFixture()
        try f.appendLines("a.jsonl", 1...4)
        _ = try f.reader().poll()
        // Delete and recreate while evald is down: the filesystem usually hands out the same inode.
        try FileManager.default.removeItem(atPath: f.path("a.jsonl"))
        try f.appendLines("a.jsonl", 50...60)
        _ = try f.reader().poll()
        #expect(try f.storedIDs() == f.expectedIDs(Array(1...4) + Array(50...60)))
    }

    @Test func oversizedLineIsQuarantinedWithoutStoppingTheRest() throws {
        let f = try SpoolFixture()
        let reader = f.reader(maxLineBytes: 4 << 20)
        let huge =
            #"{"trace_id":"\#(SpoolFixture.traceID(2))","timestamp":"2026-11-28T10:00:00Z","model":"m","output":""# + String(repeating: "x", count: 5 << 20)
            + "\"}\n"
        try f.append("big.jsonl", SpoolFixture.line(1) + huge + SpoolFixture.line(3))
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs([1, 3]))
        let (entries, total) = try f.store.quarantine(limit: 10)
        #expect(total == 1)
        #expect(entries[0].reason == "line_too_long")
        #expect(entries[0].excerpt.count == 4096)
        #expect(entries[0].lineOffset == Int64(SpoolFixture.line(1).utf8.count))
        #expect(entries[0].lineBytes == Int64(huge.utf8.count))
        #expect(try f.store.counters()["malformed"] == 1)
    }

    @Test func oversizedLineStillBeingWrittenIsSkippedWhenItEnds() throws {
        let f = try SpoolFixture()
        let reader = f.reader(maxLineBytes: 1 << 20)
        try f.append("big.jsonl", "{\"trace_id\":\"" + String(repeating: "y", count: 3 << 20))
        _ = try reader.poll()
        #expect(try f.store.quarantine(limit: 1).total == 0)
        try f.append("big.jsonl", "\"}\n" + SpoolFixture.line(7))
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs([7]))
        #expect(try f.store.quarantine(limit: 1).entries.first?.reason == "line_too_long")
    }

    @Test func badLinesAreQuarantinedWithFileOffsetAndReason() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        var invalidUTF8 = Data(SpoolFixture.line(4).utf8)
        invalidUTF8.insert(0xC3, at: invalidUTF8.count - 5)
        let missingModel = #"{"trace_id":"\#(SpoolFixture.traceID(5))","timestamp":"2026-11-28T10:00:00Z","output":"o"}"# + "\n"
        var data = Data((SpoolFixture.line(1) + "[1,2,3]\n" + "{not json}\n").utf8)
        data.append(invalidUTF8)
        data.append(Data((missingModel + "\n" + SpoolFixture.line(6)).utf8))
        try f.append("bad.jsonl", data)
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs([1, 6]))
        let entries = try f.store.quarantine(limit: 10).entries.sorted { $0.lineOffset < $1.lineOffset }
        #expect(entries.map(\.reason) == ["not_an_object", "invalid_json", "invalid_utf8", "missing_field"])
        #expect(entries.allSatisfy { $0.filePath == f.path("bad.jsonl") })
        #expect(entries[0].lineOffset == Int64(SpoolFixture.line(1).utf8.count))
        #expect(entries[3].detail.contains("\"model\""))
        let counters = try f.store.counters()
        #expect(counters["lines_read"] == 7)
        #expect(counters["blank_lines"] == 1)
        #expect(counters["malformed"] == 4)
    }

    @Test func partialTailOfAnIdleFileIsQuarantinedAsIncomplete() throws {
        let f = try SpoolFixture()
        let reader = f.reader(idleAfter: 60)
        try f.append("a.jsonl", SpoolFixture.line(1) + "{\"trace_id\":\"cut")
        _ = try reader.poll()
        #expect(try f.store.quarantine(limit: 1).total == 0)
        f.clock.advance(61)
        _ = try reader.poll()
        let entries = try f.store.quarantine(limit: 5).entries
        #expect(entries.map(\.reason) == ["incomplete_line"])
        #expect(String(decoding: entries[0].excerpt, as: UTF8.self) == "{\"trace_id\":\"cut")
        // The writer comes back: its next line is read normally.
        try f.append("a.jsonl", "\n" + SpoolFixture.line(2))
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...2))
    }

    @Test func afterReadDeleteRemovesIdleFinishedFiles() throws {
        let f = try SpoolFixture()
        let reader = f.reader(idleAfter: 10, afterRead: .delete)
        try f.appendLines("a.jsonl", 1...3)
        _ = try reader.poll()
        #expect(FileManager.default.fileExists(atPath: f.path("a.jsonl")))
        f.clock.advance(11)
        _ = try reader.poll()
        #expect(!FileManager.default.fileExists(atPath: f.path("a.jsonl")))
        #expect(try f.storedIDs().count == 3)
    }

    @Test func ignoresOtherFiles() throws {
        let f = try SpoolFixture()
        try f.appendLines("notes.txt", 1...3)
        try f.appendLines("a.jsonl.tmp", 4...5)
        try FileManager.default.createDirectory(atPath: f.path("sub.jsonl"), withIntermediateDirectories: true)
        _ = try f.reader().poll()
        #expect(try f.storedIDs().isEmpty)
    }

    @Test func samplingHappensInTheReader() throws {
        let f = try SpoolFixture()
        try f.appendLines("a.jsonl", 0..<2000)
        // Sequential ids have tiny R: none of them passes a 1% sample...
        _ = try f.reader(rate: 0.01).poll()
        #expect(try f.storedIDs().isEmpty)
        #expect(try f.store.counters()["records"] == 2000)
        // ...while ids spread over the range are kept by the sampling rule.
        let g = try SpoolFixture()
        var expected: [String] = []
        var text = ""
        for n in 0..<2000 {
            let id = String(format: "%032llx", UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
            if TraceSampler.isKept(randomness: TraceSampler.randomness(traceID: id), rate: 0.1) { expected.append(id) }
            text += #"{"trace_id":"\#(id)","timestamp":1795860000,"model":"m","output":"o"}"# + "\n"
        }
        try g.append("a.jsonl", text)
        _ = try g.reader(rate: 0.1).poll()
        #expect(try g.storedIDs() == expected)
        #expect(expected.count > 100)
        #expect(try g.store.evaluations().allSatisfy { $0.sampleRate == 0.1 })
    }

    @Test func restartResumesAtTheCommittedOffset() throws {
        let f = try SpoolFixture()
        try f.appendLines("a.jsonl", 1...100)
        _ = try f.reader().poll()
        try f.appendLines("a.jsonl", 101...120)
        _ = try f.reader().poll()
        _ = try f.reader().poll()
        let ids = try f.storedIDs()
        #expect(ids == f.expectedIDs(1...120))
    }

    @Test func fileBrieflyMissingFromTheListingIsNotReadTwice() throws {
        // A rename racing readdir makes a file vanish from one listing; it must keep its offset.
        let f = try SpoolFixture()
        let reader = f.reader()
        try f.appendLines("a.jsonl", 1...5)
        _ = try reader.poll()
        try FileManager.default.moveItem(atPath: f.path("a.jsonl"), toPath: f.root + "/outside.jsonl")
        _ = try reader.poll()
        try FileManager.default.moveItem(atPath: f.root + "/outside.jsonl", toPath: f.path("a-1.jsonl"))
        try f.appendLines("a-1.jsonl", 6...8)
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...8))

        // The same after a restart: missing from one listing is not yet gone.
        try FileManager.default.moveItem(atPath: f.path("a-1.jsonl"), toPath: f.root + "/outside.jsonl")
        let restarted = f.reader()
        _ = try restarted.poll()
        try FileManager.default.moveItem(atPath: f.root + "/outside.jsonl", toPath: f.path("a-2.jsonl"))
        try f.appendLines("a-2.jsonl", 9...9)
        _ = try restarted.poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...9))
    }

    @Test func deletedFileIsReadToItsEndThroughTheOpenDescriptor() throws {
        let f = try SpoolFixture()
        let reader = f.reader()
        try f.appendLines("a.jsonl", 1...3)
        _ = try reader.poll()
        try f.append("a.jsonl", SpoolFixture.line(4) + "{\"partial")
        try FileManager.default.removeItem(atPath: f.path("a.jsonl"))
        _ = try reader.poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...4))
        #expect(try f.store.quarantine(limit: 5).entries.map(\.reason) == ["incomplete_line"])
        #expect(try f.store.trackedSpoolFiles().isEmpty)
    }

    @Test func idleFinishedFilesDoNotHoldDescriptors() throws {
        let f = try SpoolFixture()
        let reader = f.reader(idleAfter: 30)
        for n in 0..<40 { try f.appendLines("f\(n).jsonl", [n]) }
        _ = try reader.poll()
        #expect(f.openSpoolDescriptors() == 40)
        f.clock.advance(31)
        _ = try reader.poll()
        #expect(f.openSpoolDescriptors() == 0)
        // A file that grows again, is renamed, or truncated is still followed correctly.
        try f.appendLines("f3.jsonl", [100])
        try f.rename("f4.jsonl", "f4-old.jsonl")
        try f.truncate("f5.jsonl")
        try f.appendLines("f5.jsonl", [101])
        _ = try reader.poll()
        #expect(Set(try f.storedIDs()) == Set(f.expectedIDs(Array(0..<40) + [100, 101])))
        #expect(try f.storedIDs().count == 42)
        #expect(try f.store.trackedSpoolFiles().contains { $0.path == f.path("f4-old.jsonl") })
    }

    /// Bad lines outside the sample: broken structure and the fields usage reads (a missing
    /// model) are always caught; the rest (invalid UTF-8 inside the output) with validate: all.
    @Test(arguments: [false, true])
    func badLinesOutsideTheSample(validateAll: Bool) throws {
        let f = try SpoolFixture()
        var invalidUTF8 = Data(SpoolFixture.line(4).utf8)
        invalidUTF8.insert(0xC3, at: invalidUTF8.count - 5)
        let missingModel = #"{"trace_id":"\#(SpoolFixture.traceID(5))","timestamp":"2026-11-28T10:00:00Z","output":"o"}"# + "\n"
        let cut = String(SpoolFixture.line(6).dropLast(10)) + "\n"
        var data = Data((SpoolFixture.line(1) + "[1,2,3]\n" + cut + missingModel).utf8)
        data.append(invalidUTF8)
        try f.append("bad.jsonl", data)
        _ = try f.reader(rate: 0, validateAll: validateAll).poll()
        let reasons = try f.store.quarantine(limit: 10).entries.sorted { $0.lineOffset < $1.lineOffset }.map(\.reason)
        if validateAll {
            #expect(reasons == ["not_an_object", "invalid_json", "missing_field", "invalid_utf8"])
            #expect(try f.store.counters()["records"] == 1)
        } else {
            #expect(reasons == ["not_an_object", "invalid_json", "missing_field"])
            #expect(try f.store.counters()["records"] == 2)
        }
        #expect(try f.storedIDs().isEmpty)
    }

    @Test func oneFileUnderTwoNamesIsReadOnce() throws {
        let f = try SpoolFixture()
        try f.appendLines("a.jsonl", 1...3)
        try FileManager.default.createSymbolicLink(atPath: f.path("link.jsonl"), withDestinationPath: f.path("a.jsonl"))
        try FileManager.default.linkItem(atPath: f.path("a.jsonl"), toPath: f.path("hard.ndjson"))
        let reader = f.reader()
        _ = try reader.poll()
        try f.appendLines("a.jsonl", 4...5)
        _ = try reader.poll()
        _ = try f.reader().poll()
        #expect(try f.storedIDs() == f.expectedIDs(1...5))
        #expect(try f.store.trackedSpoolFiles().count == 1)
    }

    @Test func smallMaxLineBytesKeepsAnExcerptNoLongerThanTheLine() throws {
        let f = try SpoolFixture()
        let long = #"{"trace_id":"x","pad":""# + String(repeating: "z", count: 3000) + "\"}\n"
        try f.append("a.jsonl", long + SpoolFixture.line(1))
        _ = try f.reader(maxLineBytes: 1024).poll()
        let entry = try #require(try f.store.quarantine(limit: 1).entries.first)
        #expect(entry.reason == "line_too_long")
        #expect(entry.excerpt.count <= 1025)
        #expect(entry.excerpt == Data(long.utf8.prefix(entry.excerpt.count)))
        #expect(try f.storedIDs() == f.expectedIDs([1]))
    }

    @Test func fileRewrittenInPlaceWhileStoppedIsReadAsNew() throws {
        // The same inode with a new first line (a truncate and rewrite past the old offset while
        // evald was down) is a new file: read from 0.
        let f = try SpoolFixture()
        try f.appendLines("a.jsonl", 1...2)
        _ = try f.reader().poll()
        let inode = try f.store.trackedSpoolFiles()[0].inode
        try f.truncate("a.jsonl")
        try f.appendLines("a.jsonl", 10...20)
        _ = try f.reader().poll()
        #expect(try f.store.trackedSpoolFiles().map(\.inode) == [inode])
        #expect(try f.storedIDs() == f.expectedIDs(Array(1...2) + Array(10...20)))
    }

    @Test func afterRestartFinishedFilesAreNotKeptOpen() throws {
        let f = try SpoolFixture()
        for n in 0..<20 { try f.appendLines("f\(n).jsonl", [n]) }
        _ = try f.reader().poll()
        let restarted = f.reader()
        _ = try restarted.poll()
        #expect(f.openSpoolDescriptors() == 0)
        withExtendedLifetime(restarted) {}
    }
}
