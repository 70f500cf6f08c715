#!/usr/bin/env python3
"""Spool growing faster than evald reads (issue "Hostile input and faults").

evald is slowed down on purpose: every trace sampled (`sampling.rate: 1.0`), every check kind
of the load benchmark's config on every route, and two judges on the stub judge API answering
after --judge-delay seconds with concurrency 1. First a calibration measures how many
evaluations per second this evald stores (`evald run --once` over --calibration-lines lines,
judges off); then the daemon runs while a writer appends at --factor times that rate for
--seconds, and keeps running until it has read everything.

Samples every second: `spool.bytes_pending` and `spool.lines_read` from GET /api/v1/status,
`evald_spool_pending_bytes` from GET /metrics, the alerts firing. `alerts.spool_stalled_after`
is --stalled-after (10 s by default), far shorter than the backlog lasts, so a SpoolStalled
that fired while evald was reading would show. Reports the largest lag (bytes and seconds of
writing), the time to catch up once the writer stops, and any SpoolStalled (there should be
none). Prints a Markdown block for RESULTS.md.

    python3 Benchmarks/run_backlog_benchmark.py [--seconds 60] [--factor 2] [--binary PATH] [--stub PATH]

Work files go to Benchmarks/work/backlog/ (git-ignored). Only 127.0.0.1 traffic.
"""
import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work", "backlog")
sys.path.insert(0, HERE)
import load_traffic  # noqa: E402
import run_soak  # noqa: E402


def write_config(path, extra=""):
    with open(path, "w") as f:
        f.write(f"""# run_backlog_benchmark.py: every trace sampled, every check, a slow judge.
state_dir: state
spool: {{dir: spool, poll_interval: 200ms}}
sampling: {{rate: 1.0}}
{load_traffic.CONFIG_CHECKS}detection: {{false_alarm_every: 365d}}
log_level: warning
{extra}""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="how long the writer runs (default 60)")
    parser.add_argument("--factor", type=float, default=2.0, help="writer rate / measured evaluation rate (default 2)")
    parser.add_argument("--calibration-lines", type=int, default=20000)
    parser.add_argument("--judge-delay", type=float, default=2.0)
    parser.add_argument("--stalled-after", default="10s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build-release", "release", "evald"))
    parser.add_argument("--stub", default=os.path.join(ROOT, ".build-release", "release", "evald-judge-stub"))
    args = parser.parse_args()
    for path, what in ((args.binary, "--binary"), (args.stub, "--stub")):
        if not os.access(path, os.X_OK):
            sys.exit(f"{what} {path} is missing: swift build -c release --scratch-path .build-release")

    # 1. Calibration: evaluations per second of this evald with these checks.
    shutil.rmtree(WORK, ignore_errors=True)
    calibration = os.path.join(WORK, "calibration")
    os.makedirs(os.path.join(calibration, "spool"))
    traffic, rng = load_traffic.Traffic(args.seed), random.Random(args.seed)
    now_ms = int(time.time() * 1000)
    with open(os.path.join(calibration, "spool", "traces.jsonl"), "w") as f:
        f.write("".join(traffic.line(rng, now_ms) + "\n" for _ in range(args.calibration_lines)))
    write_config(os.path.join(calibration, "evald.yaml"))
    start = time.perf_counter()
    once = subprocess.run([args.binary, "run", "--once", "--config", os.path.join(calibration, "evald.yaml")], capture_output=True, text=True)
    calibration_seconds = time.perf_counter() - start
    if once.returncode != 0:
        sys.exit(f"calibration run failed ({once.returncode}): {once.stderr[-2000:]}")
    eval_rate = args.calibration_lines / calibration_seconds
    write_rate = max(1, int(eval_rate * args.factor))
    print(f"calibration: {args.calibration_lines} evaluations in {calibration_seconds:.1f} s = {eval_rate:.0f}/s; "
          f"writer at {write_rate} lines/s for {args.seconds:g} s", file=sys.stderr, flush=True)

    # 2. The daemon, the slow judge, the writer at twice the rate.
    spool, judges, state = (os.path.join(WORK, d) for d in ("spool", "judges", "state"))
    for d in (spool, judges, state):
        os.makedirs(d)
    for judge, route in load_traffic.JUDGED.items():
        with open(os.path.join(ROOT, "reference-judges", f"{judge}.md")) as f:
            text = re.sub(r"(?m)^applies_to:.*$", f'applies_to: ["{route}"]', f.read(), count=1)
        with open(os.path.join(judges, f"{judge}.md"), "w") as f:
            f.write(text)
    procs = []
    webhook = writer = evald = None
    log = open(os.path.join(WORK, "evald.log"), "wb")
    try:
        stub = subprocess.Popen([args.stub, "--delay", str(args.judge_delay)], stdout=subprocess.PIPE, text=True)
        procs.append(stub)
        m = re.match(r"port=(\d+)", stub.stdout.readline())
        if not m:
            sys.exit("the judge stub did not start")
        webhook = run_soak.Webhook()
        http_port = run_soak.free_port()
        config = os.path.join(WORK, "evald.yaml")
        write_config(config, f"""endpoints:
  default: {{kind: openai, base_url: "http://127.0.0.1:{m[1]}/v1", model: judge, concurrency: 1, timeout: 30s}}
judge: {{dir: judges}}
alerts:
  spool_stalled_after: {args.stalled_after}
  receivers:
    - {{name: hook, kind: webhook, url: "http://127.0.0.1:{webhook.port}/"}}
http: {{listen: "127.0.0.1:{http_port}"}}
""")
        evald = subprocess.Popen([args.binary, "run", "--config", config], stdout=log, stderr=log)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while run_soak.http_get(base + "/healthz")[0] != 200:
            if evald.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"evald did not come up; see {log.name}")
            time.sleep(0.1)

        t0 = time.monotonic()
        writer = run_soak.Writer(spool, write_rate, 1e9, -1, args.seed + 1, t0 + args.seconds)
        writer.start()
        samples = []  # (t, written, read, pending status, pending metric, alerts firing, /healthz status)
        caught_up_at = None
        while True:
            time.sleep(1.0)
            t = time.monotonic() - t0
            if evald.poll() is not None:
                sys.exit(f"evald exited with {evald.returncode}; see {log.name}")
            code, body, _ = run_soak.http_get(base + "/api/v1/status", timeout=10)
            status = json.loads(body) if code == 200 else {}
            read = status.get("spool", {}).get("lines_read")
            pending = status.get("spool", {}).get("bytes_pending")
            firing = status.get("alerts", {}).get("firing")
            healthz = run_soak.http_get(base + "/healthz")[0]
            code, metrics, _ = run_soak.http_get(base + "/metrics", timeout=10)
            pending_metric = run_soak.metric(metrics, "evald_spool_pending_bytes") if code == 200 else None
            samples.append((t, writer.lines, read, pending, pending_metric, firing, healthz))
            if len(samples) % 10 == 0:
                print(f"  {t:.0f} s: written {writer.lines:,}, read {read}, pending {pending} bytes (metric {pending_metric})",
                      file=sys.stderr, flush=True)
            if not writer.is_alive() and read is not None and read >= writer.lines:
                caught_up_at = t
                break
            if t > args.seconds * 20 + 120:
                break
        stalled_posts = [p for p in webhook.posts if "SpoolStalled" in p[2]]
    finally:
        if writer:
            writer.stopping.set()
        if evald and evald.poll() is None:
            evald.terminate()
            evald.wait(30)
        for p in procs:
            p.terminate()
        if webhook:
            webhook.stop()

    written = writer.lines
    bytes_per_line = os.path.getsize(os.path.join(spool, "current.jsonl")) / max(1, written)
    max_pending = max((s[3] or 0) for s in samples)
    max_pending_metric = max((s[4] or 0) for s in samples)
    at_writer_end = next((s for s in samples if s[0] >= args.seconds), samples[-1])
    lag_seconds = max_pending / bytes_per_line / write_rate
    catch_up = None if caught_up_at is None else caught_up_at - args.seconds
    daemon_rate = written / caught_up_at if caught_up_at else None
    out = [
        f"### Spool growing faster than evald reads ({datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, `{os.path.relpath(args.binary, ROOT)}`)",
        "",
        f"`python3 Benchmarks/run_backlog_benchmark.py --seconds {args.seconds:g} --factor {args.factor:g}`: sampling 1.0, the load benchmark's 10 checks, "
        f"two judges on a stub answering after {args.judge_delay:g} s (concurrency 1), `alerts.spool_stalled_after: {args.stalled_after}`.",
        "",
        "| | value |",
        "|---|---|",
        f"| calibration (`run --once`, judges off) | {args.calibration_lines:,} evaluations in {calibration_seconds:.1f} s: {eval_rate:.0f}/s |",
        f"| writer | {write_rate:,} lines/s for {args.seconds:g} s: {written:,} lines, {bytes_per_line:.0f} bytes each |",
        f"| lag when the writer stopped | {at_writer_end[3]:,} bytes pending (`/metrics`: {at_writer_end[4]:,.0f}), {at_writer_end[1] - (at_writer_end[2] or 0):,} lines |"
        if at_writer_end[3] is not None else "| lag when the writer stopped | n/a |",
        f"| largest lag | {max_pending:,} bytes (`evald_spool_pending_bytes` max {max_pending_metric:,.0f}): {lag_seconds:.0f} s of writing |",
        f"| caught up | {'%.0f s after the writer stopped' % catch_up if catch_up is not None else 'NOT within the wait'}; daemon average {daemon_rate:.0f} lines/s |"
        if daemon_rate else "| caught up | NOT within the wait |",
        f"| SpoolStalled | {'fired ' + str(len(stalled_posts)) + ' time(s): FALSE ALARM' if stalled_posts else 'never fired'}; alerts firing at most {max((s[5] or 0) for s in samples)} |",
        f"| `/healthz` | {sum(1 for s in samples if s[6] == 200)} of {len(samples)} samples 200 |",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
