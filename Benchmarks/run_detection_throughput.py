#!/usr/bin/env python3
"""Detection throughput in the daemon (issue 6): how long the detection service takes to feed
every evaluation and check verdict of a spool to its monitors (per-series CUSUMs, baselines,
provider-version watches) and commit their state, against

  * the same run's ingest (reading, sampling, decoding, checking and storing the same
    evaluations), and
  * a plain Python reader of the same database that does the least any detector must do:
    read every evaluation and check verdict in id order and count passes per series.

Every record is sampled (rate 1) so that the spool's size is the detection load. Uses the
release build (`swift build -c release --product evald --scratch-path .build-release`).

    python3 Benchmarks/run_detection_throughput.py --records 100000
"""
import argparse
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "Benchmarks", "work", "detection")


def python_reader(db_path):
    """Reads evaluations and check verdicts in id order and counts passes per series."""
    start = time.perf_counter()
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    tallies = {}
    last = 0
    while True:
        rows = con.execute(
            "SELECT id, route, model, status, latency_ms FROM evaluation WHERE id > ? ORDER BY id LIMIT 2000", (last,)).fetchall()
        if not rows:
            break
        first, last = rows[0][0], rows[-1][0]
        checks = {}
        for evaluation_id, name, passed in con.execute(
                "SELECT evaluation_id, name, passed FROM check_result WHERE evaluation_id BETWEEN ? AND ?", (first, last)):
            checks.setdefault(evaluation_id, []).append((name, passed))
        for evaluation_id, route, model, status, latency in rows:
            key = ("op:error_rate", route, model)
            n, p = tallies.get(key, (0, 0))
            tallies[key] = (n + 1, p + (status == "ok"))
            for name, passed in checks.get(evaluation_id, []):
                key = ("check:" + name, route, model)
                n, p = tallies.get(key, (0, 0))
                tallies[key] = (n + 1, p + passed)
    con.close()
    return time.perf_counter() - start, len(tallies)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build-release", "release", "evald"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} is missing: swift build -c release --product evald --scratch-path .build-release")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    spool = os.path.join(WORK, "spool")
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "generate_spool.py"), "--out", spool,
                    "--records", str(args.records), "--files", "4", "--malformed", "0", "--span-hours", "72"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(ROOT, "examples", "evald.yaml")) as f:
        config = f.read()
    config = config.replace("dir: spool ", f"dir: {spool} ").replace("rate: 0.01 ", "rate: 1.0 ")
    config = config.replace("\"refunds-*\": 0.05", "\"refunds-*\": 1.0").replace("\"extract-order\": 0.5", "\"extract-order\": 1.0")
    # The example arms its detectors on one small day; the benchmark measures the defaults.
    config = config.replace("baseline_min_samples: 150", "baseline_min_samples: 1000")
    config = config.replace("dir: ../reference-judges", f"dir: {os.path.join(ROOT, 'reference-judges')}")
    config = config.replace("schemas/", os.path.join(ROOT, "examples", "schemas") + "/")
    config = config.replace("state_dir: state ", f"state_dir: {os.path.join(WORK, 'state')} ")
    config_path = os.path.join(WORK, "evald.yaml")
    with open(config_path, "w") as f:
        f.write(config)
    def run_once():
        started = time.perf_counter()
        out = subprocess.run([args.binary, "run", "--once", "--config", config_path], check=True, capture_output=True, text=True)
        total = time.perf_counter() - started
        read = re.search(r"read (\d+) lines .* in ([\d.]+) s: (\d+) records, (\d+) sampled", out.stdout)
        detection = re.search(r"detection: (\d+) evaluations .* in ([\d.]+) s", out.stdout)
        if not read or not detection:
            sys.exit(out.stdout + out.stderr)
        return int(read.group(3)), float(read.group(2)), int(detection.group(1)), float(detection.group(2)), total

    db_path = os.path.join(WORK, "state", "evald.db")
    records, ingest_seconds, evaluations, detection_seconds, total = run_once()
    python_seconds, series = python_reader(db_path)
    db = sqlite3.connect(db_path)
    outcomes = db.execute("SELECT COUNT(*) FROM check_result").fetchone()[0] + evaluations
    db.close()
    print(f"cold (an empty state learning {records} records of history): evaluations {evaluations}, outcomes (check verdicts + error rate) {outcomes}, series {series}")
    print(f"  ingest {ingest_seconds:.2f} s; detection {detection_seconds:.2f} s = {evaluations / detection_seconds:,.0f} evaluations/s, "
          f"{outcomes / detection_seconds:,.0f} outcomes/s; {detection_seconds / ingest_seconds:.2f}x ingest")
    print(f"  python reader (read + count per series, no detection): {python_seconds:.2f} s; evald detection / python = {detection_seconds / python_seconds:.2f}")

    # Warm: the same traffic three days later, detectors armed; what a running daemon pays.
    later = spool + "-later"
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "generate_spool.py"), "--out", later, "--seed", "7",
                    "--start", "2026-12-05T00:00:00Z", "--records", str(args.records), "--files", "4", "--malformed", "0",
                    "--span-hours", "72"], check=True, stdout=subprocess.DEVNULL)
    for name in sorted(os.listdir(later)):
        os.rename(os.path.join(later, name), os.path.join(spool, name))
    db = sqlite3.connect(db_path)
    first_new = db.execute("SELECT COALESCE(MAX(id), 0) FROM evaluation").fetchone()[0]
    db.close()
    records2, ingest2, evaluations2, detection2, total2 = run_once()
    db = sqlite3.connect(db_path)
    outcomes2 = db.execute("SELECT COUNT(*) FROM check_result WHERE evaluation_id > ?", (first_new,)).fetchone()[0] + evaluations2
    state_bytes = db.execute("SELECT SUM(LENGTH(state_json)) FROM detection_state").fetchone()[0]
    db.close()
    python_reader(db_path)  # page cache warm for a fair second reading
    python2, _ = python_reader(db_path)
    python2 *= evaluations2 / (evaluations + evaluations2)
    print(f"warm (armed detectors, {records2} more records): evaluations {evaluations2}, outcomes {outcomes2}")
    print(f"  ingest {ingest2:.2f} s; detection {detection2:.2f} s = {evaluations2 / detection2:,.0f} evaluations/s, "
          f"{outcomes2 / detection2:,.0f} outcomes/s; {detection2 / ingest2:.2f}x ingest")
    print(f"  python reader over the same share of evaluations: {python2:.2f} s; evald detection / python = {detection2 / python2:.2f}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"detection state {state_bytes / 1024:.0f} KiB; peak RSS of the evald runs {rss:.1f} MiB")


if __name__ == "__main__":
    main()
