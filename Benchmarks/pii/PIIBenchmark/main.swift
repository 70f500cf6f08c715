import EvaldCore
import Foundation

// evald's PII detector over a corpus, for Benchmarks/pii/run_pii_benchmark.py: reads JSON lines
// {"id": ..., "text": ...} on standard input and writes one line per text,
// {"id": ..., "matches": [{"kind", "text", "start", "length"}]}, positions in Unicode scalars
// (what Python's str counts), so the script compares them with its own spans.
//
// With --injection, the `injection` check's detector instead (Benchmarks/injection/
// run_injection_benchmark.py): {"id": ..., "signal": null | "<signal>", "excerpt": ...}.
//
// Usage: evald-pii-benchmark [--injection] < corpus.jsonl > matches.jsonl

let injectionMode = CommandLine.arguments.contains("--injection")
let detector = PIIDetector()
let injection = InjectionDetector()
let output = FileHandle.standardOutput
var buffer = Data()
while let line = readLine(strippingNewline: true) {
    guard !line.isEmpty,
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let text = object["text"] as? String
    else { continue }
    if injectionMode {
        let finding = injection.firstFinding(in: text)
        buffer.append(
            try JSONSerialization.data(withJSONObject: [
                "id": object["id"] ?? NSNull(), "signal": finding?.signal.rawValue ?? NSNull(), "excerpt": finding?.excerpt ?? NSNull(),
            ]))
        buffer.append(0x0A)
        continue
    }
    let scalars = text.unicodeScalars
    let matches: [[String: Any]] = detector.matches(in: text).map { match in
        [
            "kind": match.kind.rawValue, "text": match.text,
            "start": scalars.distance(from: scalars.startIndex, to: match.range.lowerBound),
            "length": scalars.distance(from: match.range.lowerBound, to: match.range.upperBound),
        ]
    }
    buffer.append(try JSONSerialization.data(withJSONObject: ["id": object["id"] ?? NSNull(), "matches": matches]))
    buffer.append(0x0A)
    if buffer.count > 1 << 16 {
        output.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
output.write(buffer)
