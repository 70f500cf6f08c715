#!/usr/bin/env python3
"""evald's `pii` detector and Microsoft Presidio side by side on the Faker corpus.

    python3 -m venv /tmp/piivenv && /tmp/piivenv/bin/pip install faker presidio-analyzer phonenumbers
    swift build -c release --product evald-pii-benchmark
    /tmp/piivenv/bin/python Benchmarks/pii/run_pii_benchmark.py [--corpus FILE | --seed 7 --per-kind 500 --clean 3000]

Scoring (the same rule as Tests/EvaldCoreTests/PIIBenchmarkTests.swift on the committed corpus):
- a positive text counts as found when the tool reports a match of the item's kind that overlaps
  the item; "exact" when the match is the item itself;
- a clean text counts as flagged when the tool reports anything of the kinds compared
  (evald: every kind; Presidio: the entities that map to evald's kinds, listed below).

Presidio runs with its predefined recognizers on language "en" (the corpus is in six languages;
Presidio's pattern recognizers are registered for English). Its NLP engine is a blank spaCy
English pipeline (tokenizer only): PyPI offers no official spaCy model, so named-entity
recognition and lemma-based context boosting are off; the pattern recognizers, checksums and
`phonenumbers` validation it runs are the same. Presidio has no recognizer for API keys or
private keys, so its `secret` row is "no recognizer".
"""

import argparse
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KINDS = ["email", "phone", "payment_card", "us_ssn", "iban", "ipv4", "secret"]
PRESIDIO_KIND = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "payment_card", "US_SSN": "us_ssn",
    "IBAN_CODE": "iban", "IP_ADDRESS": "ipv4",
}


def load_corpus(args):
    if args.corpus:
        with open(args.corpus, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    out = subprocess.run([sys.executable, os.path.join(HERE, "make_pii_corpus.py"), "--seed", str(args.seed),
                          "--per-kind", str(args.per_kind), "--clean", str(args.clean)],
                         check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def item_span(row):
    start = row["text"].find(row["item"])
    return start, start + len(row["item"])


def run_evald(rows, binary):
    started = time.perf_counter()
    payload = "".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n" for r in rows)
    out = subprocess.run([binary], input=payload, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    found = {}
    for line in out.stdout.splitlines():
        obj = json.loads(line)
        found[obj["id"]] = [(m["kind"], m["start"], m["start"] + m["length"], m["text"]) for m in obj["matches"]]
    return found, elapsed


def run_presidio(rows):
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # No network here: the bundled public-suffix snapshot instead of a download attempt per run.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    model_dir = tempfile.mkdtemp(prefix="blank-en-")
    spacy.blank("en").to_disk(model_dir)
    analyzer = AnalyzerEngine(nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model_dir}]),
                              supported_languages=["en"])
    started = time.perf_counter()
    found = {}
    for r in rows:
        results = analyzer.analyze(r["text"], language="en")
        found[r["id"]] = [(PRESIDIO_KIND[x.entity_type], x.start, x.end, r["text"][x.start:x.end], x.score)
                          for x in results if x.entity_type in PRESIDIO_KIND]
    return found, time.perf_counter() - started


def score(rows, found, min_score=None):
    """Recall per kind, exact share, clean texts flagged, and the misses / false positives."""
    per_kind = collections.defaultdict(lambda: [0, 0, 0])  # total, found, exact
    clean_total = clean_flagged = 0
    misses, false_positives = [], []
    by_variant = collections.Counter()
    for r in rows:
        matches = found.get(r["id"], [])
        if min_score is not None:
            matches = [m for m in matches if m[4] >= min_score]
        if r["kind"] is None:
            clean_total += 1
            if matches:
                clean_flagged += 1
                by_variant[r["variant"]] += 1
                false_positives.append((r["variant"], r["text"], [(m[0], m[3]) for m in matches]))
            continue
        start, end = item_span(r)
        stats = per_kind[r["kind"]]
        stats[0] += 1
        hits = [m for m in matches if m[0] == r["kind"] and m[1] < end and m[2] > start]
        if hits:
            stats[1] += 1
            if any(m[1] == start and m[2] == end for m in hits):
                stats[2] += 1
        else:
            misses.append((r["kind"], r["variant"], r["item"], [(m[0], m[3]) for m in matches]))
    return {"per_kind": per_kind, "clean_total": clean_total, "clean_flagged": clean_flagged, "misses": misses,
            "false_positives": false_positives, "fp_by_variant": by_variant}


def pct(a, b):
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def report(rows, results, seconds):
    kinds_present = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    names = list(results)
    print("| kind | n | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for kind in kinds_present:
        n = results[names[0]]["per_kind"][kind][0]
        cells = []
        for name in names:
            total, hit, exact = results[name]["per_kind"][kind]
            if name.startswith("Presidio") and kind == "secret":
                cells.append("no recognizer")
            else:
                cells.append(f"{pct(hit, total)} ({pct(exact, total)} exact)")
        print(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    clean = results[names[0]]["clean_total"]
    print(f"| clean texts flagged | {clean} | " + " | ".join(pct(results[n]["clean_flagged"], clean) for n in names) + " |")
    print("| seconds for the corpus | | " + " | ".join(f"{seconds[n]:.2f}" for n in names) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a corpus file (default: make one with make_pii_corpus.py)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-kind", type=int, default=500)
    parser.add_argument("--clean", type=int, default=3000)
    parser.add_argument("--binary", default=None, help="evald-pii-benchmark (default: .build/release, then .build/debug)")
    parser.add_argument("--no-presidio", action="store_true")
    parser.add_argument("--show", type=int, default=15, help="misses and false positives to print per tool")
    args = parser.parse_args()
    binary = args.binary or next((p for p in (os.path.join(ROOT, ".build", c, "evald-pii-benchmark") for c in ("release", "debug"))
                                  if os.path.exists(p)), None)
    if binary is None:
        sys.exit("build it first: swift build -c release --product evald-pii-benchmark")
    rows = load_corpus(args)
    print(f"corpus: {sum(1 for r in rows if r['kind'])} texts with one PII item, {sum(1 for r in rows if not r['kind'])} clean, "
          f"locales {sorted({r['locale'] for r in rows})}\n")
    evald_found, evald_seconds = run_evald(rows, binary)
    results = {"evald": score(rows, evald_found)}
    seconds = {"evald": evald_seconds}
    if not args.no_presidio:
        presidio_found, presidio_seconds = run_presidio(rows)
        results["Presidio (default threshold)"] = score(rows, presidio_found)
        results["Presidio (score >= 0.5)"] = score(rows, presidio_found, min_score=0.5)
        seconds["Presidio (default threshold)"] = seconds["Presidio (score >= 0.5)"] = presidio_seconds
    report(rows, results, seconds)
    for name, result in results.items():
        print(f"\n{name}: {len(result['misses'])} missed, false positives by look-alike: {dict(result['fp_by_variant'].most_common())}")
        for miss in result["misses"][:args.show]:
            print("  missed", miss)
        for fp in result["false_positives"][:args.show]:
            print("  flagged", fp)


if __name__ == "__main__":
    main()
