import EvaldCore
import EvaldTesting
import Testing

@Suite struct StorageLimitTests {
    @Test(arguments: [
        ("2000000000", Int64(2_000_000_000)), ("2GB", 2_000_000_000), ("512MiB", 536_870_912), ("1.5 GiB", 1_610_612_736),
        ("1_000_000_000", 1_000_000_000), ("1MiB", 1_048_576),
    ])
    func maxDBBytesTakesBytesOrASize(text: String, bytes: Int64) throws {
        let config = try parseConfig("spool: {dir: s}\nretention: {max_db_bytes: \"\(text)\"}\n")
        #expect(config.retention.maxDBBytes == bytes)
    }

    @Test func maxDBBytesIsOffByDefault() throws {
        #expect(try parseConfig("spool: {dir: s}\n").retention.maxDBBytes == nil)
    }

    @Test(arguments: ["lots", "10KB", "-5GB", "0", "12 parsecs"])
    func aBadOrTinyLimitNamesItsKey(text: String) {
        let problems = configProblems("spool: {dir: s}\nretention: {max_db_bytes: \"\(text)\"}\n")
        #expect(problems.map(\.key) == ["retention.max_db_bytes"], "\(problems)")
        #expect(problems.first?.message.contains("1MiB") == true)
        #expect(problems.first?.line == 2)
    }

    @Test func stateStoreFailingIsAWarningWithItsNumbers() {
        let draft = HealthAlerts.stateStoreFailing(path: "/var/lib/evald/evald.db", fileBytes: 3_000_000, limit: 2_000_000)
        #expect(draft.name == "StateStoreFailing")
        #expect(draft.severity == .warning)
        #expect(draft.labels == ["state_db": "/var/lib/evald/evald.db"])
        #expect(draft.numbers == ["db_bytes": 3_000_000, "max_db_bytes": 2_000_000])
        #expect(draft.summary.contains("retention.max_db_bytes"))
    }

    @Test func recordsRoundTripWithAndWithoutADictionary() throws {
        let dictionary = Array(String(repeating: #"{"route":"support-chat","input":[{"role":"system","content":"You are Ava."}]}"#, count: 600).utf8)
        #expect(dictionary.count > RecordCompression.maxDictionaryBytes)
        let record = Array(#"{"route":"support-chat","input":[{"role":"system","content":"You are Ava."}],"output":"ünïcode ✓"}"#.utf8)
        let plain = RecordCompression.compress(record)
        let primed = RecordCompression.compress(record, dictionary: dictionary)
        #expect(try RecordCompression.decompress(plain) == record)
        #expect(try RecordCompression.decompress(primed, dictionary: dictionary) == record)
        #expect(primed.count < plain.count)
        #expect(try RecordCompression.decompress(RecordCompression.compress([])) == [])
        // Without its dictionary, or cut short, a record is refused, not misread.
        #expect(throws: RecordCompression.Failure.self) { try RecordCompression.decompress(primed) }
        #expect(throws: RecordCompression.Failure.self) { try RecordCompression.decompress(Array(plain.dropLast(3))) }
    }

    /// One primed stream serves many records: each copy starts from the dictionary alone, not
    /// from the records compressed before it.
    @Test func aPrimedDeflaterCompressesEachRecordOnItsOwn() throws {
        let dictionary = Array(String(repeating: #"{"route":"support-chat","output":"It ships today."}"#, count: 200).utf8)
        let deflater = PrimedDeflater(dictionary: dictionary)
        let records = (0..<5).map { Array(#"{"route":"support-chat","output":"Order A-\#($0) ships today."}"#.utf8) }
        for record in records + records.reversed() {
            let blob = deflater.compress(record)
            #expect(blob == RecordCompression.compress(record, dictionary: dictionary))
            #expect(try RecordCompression.decompress(blob, dictionary: dictionary) == record)
        }
    }

    /// One reset stream serves every failed call of a run: each output is what a fresh stream
    /// gives, whatever was compressed before it (long, short, empty, repetitive or not).
    /// The failed calls' compressor (libdeflate) writes the stored format: raw deflate that zlib
    /// reads back, record after record with the same compressor, about as small as zlib's.
    @Test func aRecordDeflaterWritesRawDeflateThatZlibReadsBack() throws {
        var random = SplitMix64(state: 17)
        let deflater = RecordDeflater()
        var records: [[UInt8]] = [[], Array("{}".utf8)]
        for length in [10, 1_400, 70_000, 3] {
            records.append((0..<length).map { _ in UInt8(truncatingIfNeeded: random.next() % 40 + 32) })
        }
        records.append(Array(String(repeating: #"{"status":"error","error":"timeout"}"#, count: 300).utf8))
        records.append((0..<5_000).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        for record in records + records.reversed() {
            let blob = record.withUnsafeBytes { deflater.compress($0) }
            #expect(try RecordCompression.decompress(blob) == record)
            #expect(blob.count <= RecordCompression.compress(record).count * 11 / 10 + 8, "\(record.count) bytes")
        }
        #expect(try RecordCompression.decompress(deflater.compress("ünïcode ✓")) == Array("ünïcode ✓".utf8))
    }
}
