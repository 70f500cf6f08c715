import EvaldCore
import EvaldTesting
import Foundation
import Testing

@testable import EvaldSpool

/// A long run of lines is cut at line boundaries and processed on several threads: what the
/// joined batch holds must be what one thread makes of the same bytes, whatever the lines are.
@Suite struct SpoolLineProcessorTests {
    /// Every kind of line ingest meets, in a seeded order: calls in and out of the sample, failed
    /// calls, records with feedback (good and bad), feedback lines, broken lines, blank lines,
    /// OTLP spans, a line over the length limit.
    static func mixedLines(count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(state: seed)
        var text = ""
        for n in 0..<count {
            let id = String(format: "%016llx%016llx", rng.next(), rng.next())
            let minute = 10 + Int(rng.next() % 40)
            let tenant = ["acme", "globex", "initech", "t-\(rng.next() % 50)"][Int(rng.next() % 4)]
            let route = ["support-chat", "extract-order", "caf\\u00e9"][Int(rng.next() % 3)]
            let common =
                #""trace_id":"\#(id)","timestamp":"2026-11-28T10:\#(minute):00.000Z","route":"\#(route)","tenant":"\#(tenant)","model":"gpt-4o-mini","input":[{"role":"user","content":"question \#(n) {\"x\"}"}]"#
            let usage =
                #""usage":{"input_tokens":\#(rng.next() % 900),"output_tokens":\#(rng.next() % 200)},"latency_ms":\#(rng.next() % 4000),"cost_usd":0.000\#(rng.next() % 900)"#
            switch rng.next() % 20 {
            case 0: text += #"{\#(common),"output":null,"status":"error","error":"RateLimitError: slow down",\#(usage)}"#
            case 1: text += #"{\#(common),"output":"answer","feedback":"\#(["up", "down", "meh"][Int(rng.next() % 3)])",\#(usage)}"#
            case 2: text += #"{"kind":"feedback","trace_id":"\#(id)","route":"support-chat","value":\#(rng.next() % 5)}"#
            case 3: text += #"{\#(common),"output":"cut short"#
            case 4: text += "   "
            case 5:
                text +=
                    #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"spans":[{"traceId":"\#(id)","spanId":"00f067aa0ba902b7","name":"chat gpt-4o-mini","startTimeUnixNano":"1764324000000000000","endTimeUnixNano":"1764324001000000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o-mini"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}}]}]}]}]}"#
            case 6: text += #"{\#(common),"output":"\#(String(repeating: "x", count: 3000))"}"#
            default: text += #"{\#(common),"output":"answer \#(n)",\#(usage),"status":"ok"}"#
            }
            text += "\n"
        }
        return Array(text.utf8)
    }

    static func processor(rate: Double) -> SpoolLineProcessor {
        var usage = UsageConfig()
        usage.budgets = [BudgetRule(scope: .tenant("acme"), period: .daily, unit: .usd, limit: 10)]
        return SpoolLineProcessor(
            classifier: LineClassifier(sampler: TraceSampler(globalRate: rate)), checks: .empty, judges: .none, usage: usage, maxLineBytes: 2048,
            redact: false)
    }

    @Test(arguments: [2, 3, 4])
    func theThreadsTogetherMakeWhatOneThreadMakes(width: Int) throws {
        let chunk = Self.mixedLines(count: 4000, seed: UInt64(width))
        #expect(chunk.count >= SpoolLineProcessor.parallelMinimumBytes)
        let processor = Self.processor(rate: 0.05)
        let start: Int64 = 1_000
        var serial = processor.emptyBatch(fileID: 7, startOffset: start, committedAt: Date(timeIntervalSince1970: 0))
        _ = chunk.withUnsafeBytes { processor.process($0, at: start, filePath: "/spool/a.jsonl", into: &serial) }
        var parallel = processor.emptyBatch(fileID: 7, startOffset: start, committedAt: Date(timeIntervalSince1970: 0))
        _ = processor.processInParallel(
            chunk, count: chunk.count, at: start, filePath: "/spool/a.jsonl", into: &parallel, workers: IngestWorkers(width: width))

        let counts = serial.counts
        #expect(counts.records > 2500 && counts.malformed > 100 && counts.sampled > 50 && counts.blankLines > 100, "\(counts)")
        #expect(parallel.counts == serial.counts)
        #expect(parallel.newOffset == start + Int64(chunk.count))
        #expect(parallel.usage.calls == serial.usage.calls)
        // Costs are sums of Doubles, added in another order: equal within rounding.
        #expect(Self.roundingCosts(parallel.usage.cells) == Self.roundingCosts(serial.usage.cells))
        #expect(Self.roundingCosts(parallel.usage.tenantDays) == Self.roundingCosts(serial.usage.tenantDays))
        #expect(!serial.usage.budgetCalls.isEmpty)
        #expect(parallel.usage.budgetCalls == serial.usage.budgetCalls)
        #expect(parallel.feedback.entries == serial.feedback.entries)
        #expect(parallel.sampled.map(\.lineOffset) == serial.sampled.map(\.lineOffset))
        #expect(parallel.sampled.map(\.recordJSON) == serial.sampled.map(\.recordJSON))
        #expect(parallel.failedOutsideSample.map(\.lineOffset) == serial.failedOutsideSample.map(\.lineOffset))
        #expect(parallel.quarantined == serial.quarantined)
    }

    /// Costs rounded to 1e-12 USD (far below a cent, far above the rounding of a sum of a few
    /// thousand Doubles), so sums added in another order compare equal.
    static func roundingCosts(_ cells: [UsageMinuteKey: UsageCell]) -> [UsageMinuteKey: UsageCell] {
        cells.mapValues { cell in
            var cell = cell
            cell.costUSD = (cell.costUSD * 1e12).rounded()
            return cell
        }
    }

    static func roundingCosts(_ days: [TenantDayKey: TenantUsage]) -> [TenantDayKey: TenantUsage] {
        days.mapValues { day in
            var day = day
            day.costUSD = (day.costUSD * 1e12).rounded()
            return day
        }
    }

    @Test func aRunIsCutAtLineEndsIntoPartsThatCoverIt() {
        let chunk = Self.mixedLines(count: 500, seed: 1)
        for parts in 1...6 {
            let ranges = chunk.withUnsafeBytes { SpoolLineProcessor.split($0, into: parts) }
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == chunk.count)
            #expect(ranges.count == parts)
            #expect(ranges.allSatisfy { !$0.isEmpty })
            for (left, right) in zip(ranges, ranges.dropFirst()) {
                #expect(left.upperBound == right.lowerBound && chunk[left.upperBound - 1] == 0x0A)
            }
        }
        // Fewer lines than parts: no empty part.
        let two = Array("{}\n{}\n".utf8)
        #expect(two.withUnsafeBytes { SpoolLineProcessor.split($0, into: 4) } == [0..<3, 3..<6])
    }
}
