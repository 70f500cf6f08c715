import EvaldCore
import EvaldTesting
import Foundation
import Testing

/// The PII benchmark's goals on a small seeded corpus committed to the repository
/// (Fixtures/pii-corpus.jsonl, made by Benchmarks/pii/make_pii_corpus.py --seed 18 --per-kind 150
/// --clean 1200; Faker is not needed here). Scored as Benchmarks/pii/run_pii_benchmark.py
/// scores: a positive is found when a match of its kind overlaps the item; a clean text is
/// flagged when anything is found in it.
@Suite struct PIIBenchmarkTests {
    struct Row: Decodable {
        var id: String
        var locale: String
        var kind: String?
        var variant: String
        var item: String?
        var text: String
    }

    static func corpus() throws -> [Row] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pii-corpus.jsonl")
        let decoder = JSONDecoder()
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try decoder.decode(Row.self, from: Data($0.utf8)) }
    }

    @Test func recallPerKindAndCleanTextsFlaggedMeetTheGoals() async throws {
        try await offPool {
            let rows = try Self.corpus()
            let detector = PIIDetector()
            var total: [String: Int] = [:], found: [String: Int] = [:], misses: [String] = []
            var clean = 0, flagged: [String] = []
            for row in rows {
                let matches = detector.matches(in: row.text)
                guard let kind = row.kind, let item = row.item else {
                    clean += 1
                    if !matches.isEmpty { flagged.append("\(row.variant): \(row.text) -> \(matches.map { "\($0.kind.rawValue): \($0.text)" })") }
                    continue
                }
                total[kind, default: 0] += 1
                guard let itemRange = row.text.range(of: item) else {
                    Issue.record("\(row.id): the item is not in its text")
                    continue
                }
                if matches.contains(where: { $0.kind.rawValue == kind && $0.range.overlaps(itemRange) }) {
                    found[kind, default: 0] += 1
                } else {
                    misses.append("\(kind) (\(row.variant)): \(item)")
                }
            }
            #expect(Set(total.keys) == Set(PIIKind.allCases.map(\.rawValue)), "every kind is in the corpus")
            #expect(Set(rows.map(\.locale)).isSuperset(of: ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES"]))
            for (kind, n) in total.sorted(by: { $0.key < $1.key }) {
                let recall = Double(found[kind, default: 0]) / Double(n)
                #expect(recall >= 0.98, "\(kind): recall \(recall); missed \(misses.filter { $0.hasPrefix(kind) }.prefix(10))")
            }
            #expect(clean >= 1000)
            let rate = Double(flagged.count) / Double(clean)
            #expect(rate <= 0.01, "\(flagged.count) of \(clean) clean texts flagged: \(flagged.prefix(10))")
        }
    }
}
