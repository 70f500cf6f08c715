#!/usr/bin/env python3
"""What the state database costs per evaluation, and whether retention.max_db_bytes holds.

    python3 Benchmarks/run_growth_benchmark.py [--binary B] [--stub S] [--old-binary OLD]
        [--records 20000] [--hour-records 360000] [--limit-mib 48]

1. Bytes per evaluation: the example traffic (examples/generate_spool.py, seed 42) at 100
   evaluations per second of trace time, every record sampled, the example config's checks and
   one judge (reference-judges/helpfulness.md, against evald-judge-stub), read by
   `evald run --once` in two halves; the second half's growth of the pages in use, divided by
   its evaluations, split by table (SQLite's dbstat). Also the shipped example day
   (examples/spool: 6,000 records over 24 hours, the sparse case). With --old-binary, the same
   for a previous evald, as the "before".
2. A 1-hour-equivalent run: 360,000 records over one hour of trace time (100 evaluations/s),
   fed to the daemon as fast as it reads them, with retention.max_db_bytes below what the run
   needs. Every second: the database file, the WAL, and how long /healthz takes to answer. At
   the end: every sampled evaluation is kept or counted as pruned, the rollups count every
   evaluation, the examples of firing alerts are kept.

Work files go to Benchmarks/work/growth/. Prints a Markdown section for RESULTS.md.
"""

import argparse
import http.client
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "Benchmarks", "work", "growth")


def example_checks():
    lines = open(os.path.join(ROOT, "examples", "evald.yaml")).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("checks:"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "#")))
    return "\n".join(lines[start:end])


def write_config(folder, spool, stub_port, extra=""):
    os.makedirs(os.path.join(folder, "judges"), exist_ok=True)
    shutil.copy(os.path.join(ROOT, "reference-judges", "helpfulness.md"), os.path.join(folder, "judges"))
    if not os.path.exists(os.path.join(folder, "schemas")):
        shutil.copytree(os.path.join(ROOT, "examples", "schemas"), os.path.join(folder, "schemas"))
    config = f"""state_dir: state
spool: {{dir: {spool}, poll_interval: 200ms}}
sampling: {{rate: 1}}
{example_checks()}
endpoints:
  default: {{kind: openai, base_url: "http://127.0.0.1:{stub_port}/v1", model: judge-model, api_key_env: EVALD_BENCH_KEY, concurrency: 8}}
judge: {{dir: judges}}
log_level: warning
{extra}
"""
    path = os.path.join(folder, "evald.yaml")
    open(path, "w").write(config)
    return path


def generate(out, records, files, span_hours):
    # The generator spreads records by hour-of-day weights; from 18:00 UTC (weight 0.99) the
    # span asked for is the span made: 100 records per second of trace time.
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "generate_spool.py"), "--out", out, "--records", str(records),
                    "--files", str(files), "--span-hours", str(span_hours * 0.99), "--start", "2026-11-28T18:00:00Z", "--seed", "42",
                    "--malformed", "0", "--clean", "--jobs", "0"],
                   check=True, stdout=subprocess.DEVNULL)
    return sorted(os.listdir(out))


def used_bytes(db_path):
    db = sqlite3.connect(db_path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    tables = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    try:
        evaluations = db.execute("SELECT COUNT(*) FROM evaluation").fetchone()[0]
    finally:
        db.close()
    return (pages - free) * page_size, tables, evaluations


# Which table or index serves which part of an evaluation, in both layouts.
COMPONENTS = [
    ("record (row and compressed JSON)", ["evaluation", "evaluation_data", "record_dictionary", "text_value", "sqlite_autoindex_text_value_1"]),
    ("check results", ["check_result", "check_failure", "check_def", "check_set", "check_set_member", "check_result_failed"]),
    ("judge verdict and queue", ["judge_score", "judge_verdict", "judge_queue", "judge_feed", "judge_score_by_time", "judge_verdict_by_time", "judge_queue_by_age"]),
    ("rollups", ["rollup_minute", "rollup_op_minute", "rollup_by_minute", "rollup_op_by_minute", "rollup_cell", "rollup_op_cell", "rollup_series"]),
    ("evaluation indexes", ["evaluation_by_ts", "evaluation_by_series", "evaluation_by_trace", "sqlite_autoindex_evaluation_1", "evaluation_data_by_ts", "evaluation_data_by_trace"]),
]


def component(name):
    for label, names in COMPONENTS:
        if name in names:
            return label
    return "other (detection state, alerts, schema)"


def per_evaluation(binary, stub_port, records, label):
    folder = os.path.join(WORK, label)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    generated = os.path.join(folder, "generated")
    files = generate(generated, records, 4, records / 100 / 3600)
    spool = os.path.join(folder, "spool")
    os.makedirs(spool)
    config = write_config(folder, spool, stub_port)
    env = dict(os.environ, EVALD_BENCH_KEY="bench")
    db_path = os.path.join(folder, "state", "evald.db")
    halves = []
    for part in (files[:2], files[2:]):
        for f in part:
            os.rename(os.path.join(generated, f), os.path.join(spool, f))
        subprocess.run([binary, "run", "--once", "--config", config], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        halves.append(used_bytes(db_path))
    (b0, t0, e0), (b1, t1, e1) = halves
    n = e1 - e0
    split = {}
    for name in set(t0) | set(t1):
        key = component(name)
        split[key] = split.get(key, 0) + (t1.get(name, 0) - t0.get(name, 0))
    return {"bytes": (b1 - b0) / n, "evaluations": n, "split": {k: v / n for k, v in split.items()}}


def example_day(binary, stub_port, label):
    folder = os.path.join(WORK, label + "-day")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    config = write_config(folder, os.path.join(ROOT, "examples", "spool"), stub_port)
    subprocess.run([binary, "run", "--once", "--config", config], check=True, env=dict(os.environ, EVALD_BENCH_KEY="bench"),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    used, _, evaluations = used_bytes(os.path.join(folder, "state", "evald.db"))
    return {"bytes": used / evaluations, "evaluations": evaluations}


def healthz(port):
    start = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
        c.close()
    except OSError:
        ok = False
    return ok, time.monotonic() - start


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def hour_run(binary, stub_port, records, limit):
    folder = os.path.join(WORK, "hour")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    generated = os.path.join(folder, "generated")
    files = generate(generated, records, 24, records / 100 / 3600)
    spool = os.path.join(folder, "spool")
    os.makedirs(spool)
    port = free_port()
    config = write_config(folder, spool, stub_port, f"retention: {{max_db_bytes: {limit}}}\nhttp: {{listen: \"127.0.0.1:{port}\"}}")
    db_path = os.path.join(folder, "state", "evald.db")
    env = dict(os.environ, EVALD_BENCH_KEY="bench")
    log = open(os.path.join(folder, "daemon.log"), "w")
    daemon = subprocess.Popen([binary, "run", "--config", config], env=env, stdout=log, stderr=log)
    samples = []
    started = time.monotonic()
    try:
        while not healthz(port)[0]:
            time.sleep(0.1)
        moved = 0
        quiet = 0
        while True:
            # The collector's rotation: the next file appears once the daemon has read most of the last.
            status = json.loads(subprocess.run([binary, "status", "--json", "--config", config], capture_output=True, text=True).stdout or "{}")
            pending = status.get("spool", {}).get("bytes_pending", 0)
            if moved < len(files) and pending < 8_000_000:
                os.rename(os.path.join(generated, files[moved]), os.path.join(spool, files[moved]))
                moved += 1
            ok, seconds = healthz(port)
            size = os.path.getsize(db_path) if os.path.exists(db_path) else 0
            wal = os.path.getsize(db_path + "-wal") if os.path.exists(db_path + "-wal") else 0
            samples.append((time.monotonic() - started, size, wal, ok, seconds))
            done = moved == len(files) and pending == 0 and status.get("judge", {}).get("queue_depth", 1) == 0 \
                and status.get("detection", {}).get("lag_seconds", 1) == 0
            quiet = quiet + 1 if done else 0
            # Two retention rounds after the last evaluation.
            if quiet >= 40:
                break
            time.sleep(0.5)
        wall = time.monotonic() - started
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    counters = dict(db.execute("SELECT name, value FROM counter").fetchall())
    kept = db.execute("SELECT COUNT(*) FROM evaluation").fetchone()[0]
    rollup_calls = db.execute("SELECT COALESCE(SUM(calls), 0) FROM rollup_op_cell").fetchone()[0]
    missing_examples = db.execute(
        "SELECT COUNT(*) FROM alert_example x JOIN alert a ON a.id = x.alert_id WHERE a.state = 'firing' "
        "AND x.evaluation_id NOT IN (SELECT id FROM evaluation_data)").fetchone()[0]
    firing = [r[0] for r in db.execute("SELECT alertname FROM alert WHERE state = 'firing'").fetchall()]
    db.close()
    latencies = sorted(s[4] for s in samples)
    return {
        "records": records, "limit": limit, "wall": wall, "samples": len(samples),
        "max_file": max(s[1] for s in samples), "final_file": os.path.getsize(db_path), "max_wal": max(s[2] for s in samples),
        "healthz_failures": sum(1 for s in samples if not s[3]), "healthz_p50": latencies[len(latencies) // 2],
        "healthz_p99": latencies[int(len(latencies) * 0.99)], "healthz_max": latencies[-1],
        "sampled": counters.get("sampled", 0), "kept": kept, "pruned_by_size": counters.get("pruned_by_size", 0),
        "pruned_by_age": counters.get("pruned_by_age", 0), "judged": counters.get("judged", 0), "rollup_calls": rollup_calls,
        "missing_examples": missing_examples, "firing": firing,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=os.path.join(ROOT, ".build-release", "release", "evald"))
    p.add_argument("--stub", default=os.path.join(ROOT, ".build-release", "release", "evald-judge-stub"))
    p.add_argument("--old-binary", help="a previous evald, measured as the 'before'")
    p.add_argument("--records", type=int, default=20000)
    p.add_argument("--hour-records", type=int, default=360000)
    p.add_argument("--limit-mib", type=int, default=48)
    p.add_argument("--skip-hour", action="store_true", help="only the bytes per evaluation")
    p.add_argument("--skip-bytes", action="store_true", help="only the 1-hour-equivalent run")
    args = p.parse_args()
    os.makedirs(WORK, exist_ok=True)
    stub = subprocess.Popen([args.stub, "--delay", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(stub.stdout.readline().strip().split("=")[1])
        rows = []
        for label, binary in [] if args.skip_bytes else ([("before", args.old_binary)] if args.old_binary else []) + [("after", args.binary)]:
            dense = per_evaluation(binary, port, args.records, label)
            day = example_day(binary, port, label)
            rows.append((label, binary, dense, day))
        hour = None if args.skip_hour else hour_run(args.binary, port, args.hour_records, args.limit_mib << 20)
    finally:
        stub.terminate()

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"## Growth: bytes per evaluation and retention.max_db_bytes ({now})\n")
    print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; `python3 Benchmarks/run_growth_benchmark.py`.\n")
    if rows:
        print_bytes(args, rows)
    if hour:
        print_hour(hour)


def print_bytes(args, rows):
    print(f"Bytes per evaluation: the seeded example traffic ({args.records:,} records at 100 evaluations/s of trace time, all sampled, the "
          "example checks, one judge), growth of the second half; and the shipped example day (6,000 records over 24 h, whole file).\n")
    labels = [label for label, *_ in COMPONENTS] + ["other (detection state, alerts, schema)"]
    print("| | " + " | ".join(r[0] for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    print("| **per evaluation at 100/s** | " + " | ".join(f"**{r[2]['bytes']:,.0f}**" for r in rows) + " |")
    for label in labels:
        print(f"| {label} | " + " | ".join(f"{r[2]['split'].get(label, 0):,.0f}" for r in rows) + " |")
    print("| per evaluation, example day (sparse: few evaluations share a minute's rollups) | " + " | ".join(f"{r[3]['bytes']:,.0f}" for r in rows) + " |")


def print_hour(h):
    print(f"\n1-hour-equivalent run: {h['records']:,} records over one hour of trace time (100 evaluations/s), all sampled, the example "
          f"checks and one judge, fed as fast as the daemon reads; `retention.max_db_bytes` {h['limit'] / 2**20:.0f} MiB. "
          f"Wall time {h['wall']:.0f} s, {h['samples']} samples.\n")
    print("| | |\n|---|---:|")
    print(f"| largest database file seen (MiB) | {h['max_file'] / 2**20:.1f} |")
    print(f"| file at the end (MiB) | {h['final_file'] / 2**20:.1f} |")
    print(f"| largest WAL seen (MiB) | {h['max_wal'] / 2**20:.1f} |")
    print(f"| /healthz p50 / p99 / max (ms); failures | {h['healthz_p50'] * 1000:.1f} / {h['healthz_p99'] * 1000:.1f} / {h['healthz_max'] * 1000:.1f}; {h['healthz_failures']} |")
    print(f"| sampled / kept / pruned by size / by age | {h['sampled']:,} / {h['kept']:,} / {h['pruned_by_size']:,} / {h['pruned_by_age']:,} |")
    print(f"| kept + pruned = sampled | {'yes' if h['kept'] + h['pruned_by_size'] + h['pruned_by_age'] == h['sampled'] else 'NO'} |")
    print(f"| calls in the rollups | {h['rollup_calls']:,} |")
    print(f"| judged | {h['judged']:,} |")
    print(f"| examples of firing alerts missing | {h['missing_examples']} (firing: {', '.join(h['firing']) or 'none'}) |")


if __name__ == "__main__":
    main()
