#!/usr/bin/env python3
"""Judge benchmark (issue 5). A stub judge (evald-judge-stub, OpenAI shape) answers every
request after a fixed delay; `evald run --once` ingests N sampled traces and judges each with
one rubric at endpoint concurrency C. The judging time is compared with the ideal N*delay/C
(no overhead at all), and peak RSS is compared across N to show memory stays flat.

Usage: Benchmarks/run_judge_benchmark.py [--traces 2000 500] [--delay 0.2] [--concurrency 8]
Binaries: a release build (swift build -c release --scratch-path .build-release --product evald
and --product evald-judge-stub).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work", "judge")

RUBRIC = """---
name: helpfulness
version: 1
applies_to: ["*"]
scale: {min: 1, max: 5}
pass_at: 4
---
Grade the answer to the question.
Question: {{last_user_message}}
Answer: {{output}}
Reply with JSON only: {"score": <integer 1-5>, "reason": "<one sentence>"}
"""


def write_spool(spool, n):
    os.makedirs(spool, exist_ok=True)
    with open(os.path.join(spool, "traces.jsonl"), "w") as f:
        for i in range(n):
            trace = "%016x%016x" % (i + 1, ((i + 1) * 0x9E3779B97F4A7C15) & (2**64 - 1))
            f.write(json.dumps({
                "trace_id": trace, "timestamp": "2026-11-28T10:00:00Z", "route": "support-chat", "model": "gpt-4o-mini",
                "input": [{"role": "system", "content": "You are a helpful support agent."},
                          {"role": "user", "content": f"Where is my order A-{10000 + i}? My e-mail is user{i}@example.com."}],
                "output": f"Order A-{10000 + i} shipped yesterday and arrives on Thursday; tracking was sent to user{i}@example.com.",
                "latency_ms": 900, "cost_usd": 0.0004}) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, nargs="+", default=[2000, 500])
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build-release", "release"))
    args = parser.parse_args()
    evald = os.path.join(args.bin, "evald")
    stub_bin = os.path.join(args.bin, "evald-judge-stub")

    stub = subprocess.Popen([stub_bin, "--delay", str(args.delay)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.match(r"port=(\d+)", stub.stdout.readline()).group(1))
        rows = []
        for n in args.traces:
            work = os.path.join(WORK, f"n{n}")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(os.path.join(work, "judges"))
            write_spool(os.path.join(work, "spool"), n)
            with open(os.path.join(work, "judges", "helpfulness.md"), "w") as f:
                f.write(RUBRIC)
            with open(os.path.join(work, "evald.yaml"), "w") as f:
                f.write(f"""state_dir: state
spool: {{dir: spool}}
sampling: {{rate: 1.0}}
endpoints:
  default: {{kind: openai, base_url: "http://127.0.0.1:{port}/v1", model: judge, concurrency: {args.concurrency}, timeout: 10s}}
judge: {{dir: judges}}
http: {{listen: ""}}
""")
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                start = time.perf_counter()
                proc = subprocess.Popen([evald, "run", "--once", "--judge-timeout", "30m", "--config", os.path.join(work, "evald.yaml")],
                                        stdout=out, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - start
                out.seek(0)
                text = out.read().decode()
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"evald failed: {text}")
            m = re.search(r"judges: (\d+) judged .* in ([0-9.]+) s", text)
            if not m:
                sys.exit(f"no judge summary in: {text}")
            judged, seconds = int(m.group(1)), float(m.group(2))
            ideal = n * args.delay / args.concurrency
            rows.append((n, judged, seconds, ideal, ideal / seconds, judged / seconds, usage.ru_maxrss / 1024, wall))
            print(f"{n} traces: {judged} judged in {seconds:.2f} s (ideal {ideal:.2f} s, {100 * ideal / seconds:.1f}% of ideal, "
                  f"{judged / seconds:.1f} judgements/s), peak RSS {usage.ru_maxrss / 1024:.1f} MiB, whole run {wall:.2f} s", flush=True)
    finally:
        stub.kill()

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## Judge throughput ({stamp}, {platform.machine()}, {os.cpu_count()} cores)\n",
             f"Stub judge answering after {args.delay * 1000:.0f} ms, endpoint concurrency {args.concurrency}, one rubric, "
             "`evald run --once` (release build); judging time as evald reports it (ingest excluded).\n",
             "| traces | judged | judging time | ideal (n x delay / concurrency) | of ideal | judgements/s | peak RSS |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for n, judged, seconds, ideal, ratio, rate, rss, _ in rows:
        lines.append(f"| {n:,} | {judged:,} | {seconds:.2f} s | {ideal:.2f} s | {100 * ratio:.1f}% | {rate:.1f} | {rss:.1f} MiB |")
    with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
