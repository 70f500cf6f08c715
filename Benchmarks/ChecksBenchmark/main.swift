import EvaldCore
import EvaldDaemon
import Foundation

// The cost of the deterministic checks per sampled trace: every record of a spool is scored
// with the check plan of a config (by default the shipped example), timing each trace's
// whole plan. Prints a Markdown section for Benchmarks/RESULTS.md.
//
// Usage: evald-checks-benchmark [CONFIG] [ROUNDS]

let arguments = CommandLine.arguments
let configPath = arguments.count > 1 ? arguments[1] : "examples/evald.yaml"
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5

let config = try EvaldConfig.load(path: configPath, environment: ProcessInfo.processInfo.environment).0
let plan = try Daemon.makeCheckPlan(config)
let classifier = LineClassifier(sampler: TraceSampler(globalRate: 1))

var records: [TraceRecord] = []
for name in try FileManager.default.contentsOfDirectory(atPath: config.spool.dir).sorted() where name.hasSuffix(".jsonl") {
    let data = try Data(contentsOf: URL(fileURLWithPath: config.spool.dir + "/" + name))
    for line in data.split(separator: 0x0A) {
        let bytes = Array(line)
        if case .success(let record) = bytes.withUnsafeBytes({ classifier.decode($0) }) { records.append(record) }
    }
}

let clock = ContinuousClock()
var perTrace: [Double] = []
var checksRun = 0
perTrace.reserveCapacity(records.count * rounds)
for _ in 0..<rounds {
    for record in records {
        var results: [CheckResult] = []
        let elapsed = clock.measure { results = plan.evaluate(record) }
        checksRun += results.count
        perTrace.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
    }
}
// Per kind: each check alone, once a record.
var perKind: [String: [Double]] = [:]
for record in records {
    for check in plan.checks(forRoute: record.route) {
        let elapsed = clock.measure { _ = check.evaluate(record) }
        perKind[check.kind, default: []].append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
    }
}
perTrace.sort()
let sorted = perTrace
func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
let mean = perTrace.reduce(0, +) / Double(perTrace.count)
let stamp = RFC3339.format(Date(), fractional: false)
let checkCounts = Set(records.map { $0.route }).map { plan.checks(forRoute: $0).count }
print(
    """

    ## Checks per sampled trace, \(stamp)

    Config `\(configPath)` (\(checkCounts.min() ?? 0) to \(checkCounts.max() ?? 0) checks a trace, by route); \(records.count) records of its spool, \(rounds) rounds, each trace's whole check plan timed with ContinuousClock; release build.

    | traces timed | checks run | median µs | p90 µs | p99 µs | max µs | mean µs |
    |---:|---:|---:|---:|---:|---:|---:|
    | \(perTrace.count) | \(checksRun) | \(String(format: "%.1f", quantile(0.5))) | \(String(format: "%.1f", quantile(0.9))) | \(String(format: "%.1f", quantile(0.99))) | \(String(format: "%.1f", perTrace.last!)) | \(String(format: "%.1f", mean)) |

    | check kind | evaluations | median µs | p99 µs |
    |:--|---:|---:|---:|
    """)
for (kind, times) in perKind.sorted(by: { $0.key < $1.key }) {
    let t = times.sorted()
    print("| \(kind) | \(t.count) | \(String(format: "%.2f", t[t.count / 2])) | \(String(format: "%.2f", t[min(t.count - 1, Int(0.99 * Double(t.count)))])) |")
}
