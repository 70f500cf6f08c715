#!/usr/bin/env python3
"""Load benchmark (issue "Production traffic"): 20 routes x 3 models, 8 checks a route, and two
judges that apply to two of the routes (stub judge at 50 ms, endpoint concurrency 16), on
400,000 records spanning 6 hours of trace time at `sampling.rate: 1.0` (the sampled stream of a
2,000 calls/s deployment at 1%), `detection.false_alarm_every: 365d`.

Two phases, each one `evald run --once --json`:
  cold   the first 6-hour stretch on an empty state (the detectors learn their baselines);
  armed  a second 6-hour stretch continuing in time, same distributions, on the armed detectors.

Reports wall time and CPU per stage (ingest, checks, judging, detection) from the run's JSON
summary, detector designs and their time, peak RSS (wait4 of the evald process), detection lag,
and, in the same run, the baselines `wc -l` and a plain Python reader (json.loads every line and
count per series) over the same files. Prints a Markdown block for RESULTS.md; writes nothing there.

    python3 Benchmarks/run_load_benchmark.py [--records 400000] [--binary PATH] [--stub PATH]

Binaries: the release build, `swift build -c release --scratch-path .build-release`
(products evald and evald-judge-stub). Work files go to Benchmarks/work/load/ (git-ignored).
Goals: detection of a cold state at >= 5,000 evaluations/s, >= 20,000 once armed; peak RSS
under 150 MB.
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
WORK = os.path.join(HERE, "work", "load")
sys.path.insert(0, HERE)
import load_traffic  # noqa: E402

START = "2026-11-28T00:00:00Z"
GOAL_COLD, GOAL_ARMED, GOAL_RSS_MB = 5_000, 20_000, 150


def python_reader(paths):
    """The baseline: json.loads every line and count records and passes (status ok) per series."""
    series = {}
    lines = 0
    for path in paths:
        with open(path, "rb") as f:
            for line in f:
                lines += 1
                r = json.loads(line)
                key = (r["route"], r["model"])
                n, ok = series.get(key, (0, 0))
                series[key] = (n + 1, ok + (r.get("status") == "ok"))
    print(f"python: {lines} lines, {len(series)} series")


def timed(cmd, **kwargs):
    """Runs cmd to the end; returns (exit code, wall s, CPU s, peak RSS bytes, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **kwargs)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return (os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024,
                out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def parse_text_summary(text):
    """The summary of a binary without --json (today's text lines), in the JSON shape."""
    s = {"spool": {}, "judges": {}, "detection": {}, "notifications": {}}
    m = re.search(r"read (\d+) lines .* in ([\d.]+) s: (\d+) records, (\d+) sampled, (\d+) quarantined", text)
    if m:
        s["spool"] = {"lines_read": int(m[1]), "seconds": float(m[2]), "records": int(m[3]), "sampled": int(m[4]), "quarantined": int(m[5])}
    m = re.search(r"judges: (\d+) judged \((\d+) judge errors\) in ([\d.]+) s; (?:queue empty|.*?(\d+) still queued)", text)
    if m:
        s["judges"] = {"judged": int(m[1]), "errors": int(m[2]), "seconds": float(m[3]), "still_queued": int(m[4] or 0)}
    m = re.search(r"detection: (\d+) evaluations and (\d+) judge scores .* in ([\d.]+) s; (\d+) alerts fired", text)
    if m:
        s["detection"] = {"evaluations": int(m[1]), "judge_scores": int(m[2]), "seconds": float(m[3]), "fired": int(m[4])}
    m = re.search(r"notifications: (\d+) sent", text)
    if m:
        s["notifications"] = {"sent": int(m[1])}
    return s


def run_evald(binary, config):
    """`evald run --once --json` with generous stage timeouts; a binary without --json (or without
    a timeout option) gets what its `run --help` lists, and its text summary is parsed."""
    help_text = subprocess.run([binary, "run", "--help"], capture_output=True, text=True).stdout
    cmd = [binary, "run", "--once", "--config", config]
    for option, value in (("--judge-timeout", "60m"), ("--detection-timeout", "60m"), ("--notify-timeout", "1m")):
        if option in help_text:
            cmd += [option, value]
    source = "json" if "--json" in help_text else "text"
    if source == "json":
        cmd.append("--json")
    code, wall, cpu, rss, out, err = timed(cmd)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed with {code}:\n{out[-3000:]}\n{err[-3000:]}")
    if source == "json":
        try:
            summary = json.JSONDecoder().raw_decode(out[out.index("{"):])[0]
        except ValueError:
            sys.exit(f"evald run --once --json printed no JSON:\n{out[-3000:]}")
    else:
        summary = parse_text_summary(out)
    return {"summary": summary, "source": source, "wall": wall, "cpu": cpu, "rss": rss, "out": out.strip(), "err": err}


def num(value, fmt="{:.2f}"):
    return "n/a" if value is None else fmt.format(value)


def rate(count, seconds):
    return None if count is None or not seconds else count / seconds


def phase_report(name, run, baselines, goal):
    s = run["summary"]
    sp, jd, dt = s.get("spool") or {}, s.get("judges") or {}, s.get("detection") or {}
    nt = s.get("notifications") or {}
    evaluations, det_s = dt.get("evaluations"), dt.get("seconds")
    det_rate = rate(evaluations, det_s)
    wc_s, py_s = baselines
    rows = [
        ("ingest (read, sample, decode, check, store)", sp.get("seconds"), sp.get("cpu_seconds"), rate(sp.get("lines_read"), sp.get("seconds")), "lines/s"),
        ("  of which checks", sp.get("check_seconds"), None, rate(sp.get("sampled"), sp.get("check_seconds")), "traces/s"),
        ("judging", jd.get("seconds"), jd.get("cpu_seconds"), rate(jd.get("judged"), jd.get("seconds")), "judgements/s"),
        ("detection", det_s, dt.get("cpu_seconds"), det_rate, "evaluations/s"),
        ("notifications", nt.get("seconds"), None, None, ""),
        ("whole run (evald process)", run["wall"], run["cpu"], None, ""),
    ]
    out = [f"### {name}\n",
           f"{num(sp.get('lines_read'), '{:,}')} lines, {num(sp.get('records'), '{:,}')} records, {num(sp.get('sampled'), '{:,}')} sampled, "
           f"{num(sp.get('quarantined'), '{:,}')} quarantined; {num(jd.get('judged'), '{:,}')} judged ({num(jd.get('errors'), '{:,}')} errors, "
           f"{num(jd.get('still_queued'), '{:,}')} still queued); {num(evaluations, '{:,}')} evaluations and {num(dt.get('judge_scores'), '{:,}')} judge scores "
           f"to the detectors ({num(dt.get('remaining'), '{:,}')} remaining), {num(dt.get('fired'), '{:,}')} alerts fired.\n",
           "| stage | wall s | CPU s | rate |", "|:--|---:|---:|---:|"]
    for stage, wall, cpu, r, unit in rows:
        out.append(f"| {stage} | {num(wall)} | {num(cpu)} | {num(r, '{:,.0f}') + (' ' + unit if r is not None else '')} |")
    designs, st = dt.get("designs"), run.get("status") or {}
    out.append("")
    out.append(f"- detector designs: {num(designs, '{:,}')} in {num(dt.get('design_seconds'), '{:.3f}')} s; detection lag {num(dt.get('lag_seconds'), '{:.2f} s')} "
               f"(`evald status` after the run: {num(st.get('lag_seconds'), '{:.2f} s')}; series {num(st.get('series'), '{:,}')}, armed {num(st.get('armed'), '{:,}')})")
    out.append(f"- peak RSS {run['rss'] / 2**20:.1f} MiB ({run['rss'] / 1e6:.1f} MB); goal < {GOAL_RSS_MB} MB: {'met' if run['rss'] < GOAL_RSS_MB * 1e6 else 'NOT met'}")
    verdict = "n/a" if det_rate is None else ("met" if det_rate >= goal else "NOT met")
    design_s = dt.get("design_seconds")
    feed_rate = rate(evaluations, det_s - design_s) if det_s is not None and design_s is not None and det_s > design_s else None
    out.append(f"- detection {num(det_rate, '{:,.0f}')} evaluations/s ({num(feed_rate, '{:,.0f}')} without the design time); goal >= {goal:,}: {verdict}")
    ingest_s = sp.get("seconds")
    out.append(f"- baselines over the same files: `wc -l` {wc_s:.3f} s, Python reader (json.loads + count per series) {py_s:.2f} s; "
               f"evald ingest / wc -l = {num(rate(ingest_s, wc_s), '{:,.1f}x')}, evald ingest / Python = {num(rate(ingest_s, py_s), '{:.2f}x')}, "
               f"evald detection / Python = {num(rate(det_s, py_s), '{:.2f}x')}")
    if run["source"] != "json":
        out.append("- (the binary has no `run --once --json`: numbers from its text summary, stage CPU n/a)")
    return out, {"det_rate": det_rate, "rss": run["rss"], "goal": goal}


def baselines(paths):
    wc = timed(["wc", "-l", *paths])
    py = timed([sys.executable, os.path.abspath(__file__), "--python-reader", *paths])
    if py[0] != 0:
        sys.exit(f"python reader failed: {py[5]}")
    return wc[1], py[1]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--python-reader":
        python_reader(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=400_000, help="records per 6-hour stretch (default 400000)")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build-release", "release", "evald"))
    parser.add_argument("--stub", default=os.path.join(ROOT, ".build-release", "release", "evald-judge-stub"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default=START, help=f"trace time of the cold stretch's start (default {START})")
    parser.add_argument("--span-hours", type=float, default=6.0)
    parser.add_argument("--judge-delay", type=float, default=0.05)
    parser.add_argument("--judge-score", type=int, default=5, help="the stub's score (5: a near-perfect judge)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    for path, what in ((args.binary, "--binary"), (args.stub, "--stub")):
        if not os.access(path, os.X_OK):
            sys.exit(f"{what} {path} is missing: swift build -c release --scratch-path .build-release")
    if args.records < 1000:
        sys.exit("--records must be at least 1000")

    shutil.rmtree(WORK, ignore_errors=True)
    spool, judges = os.path.join(WORK, "spool"), os.path.join(WORK, "judges")
    os.makedirs(judges)
    for judge, route in load_traffic.JUDGED.items():
        with open(os.path.join(ROOT, "reference-judges", f"{judge}.md")) as f:
            text = f.read()
        text, n = re.subn(r"(?m)^applies_to:.*$", f'applies_to: ["{route}"]', text, count=1)
        assert n == 1, judge
        with open(os.path.join(judges, f"{judge}.md"), "w") as f:
            f.write(text)

    stub = subprocess.Popen([args.stub, "--delay", str(args.judge_delay), "--score", str(args.judge_score)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = stub.stdout.readline()
        m = re.match(r"port=(\d+)", line)
        if not m:
            sys.exit(f"the judge stub did not start: {line!r}")
        port = int(m[1])
        config = os.path.join(WORK, "evald.yaml")
        with open(config, "w") as f:
            f.write(f"""# run_load_benchmark.py: 20 routes x 3 models, 8 checks a route, 2 judges on 2 routes.
state_dir: state
spool: {{dir: spool, poll_interval: 1s}}
sampling: {{rate: 1.0}}
{load_traffic.CONFIG_CHECKS}endpoints:
  default: {{kind: openai, base_url: "http://127.0.0.1:{port}/v1", model: judge, concurrency: {args.concurrency}, timeout: 10s}}
judge: {{dir: judges}}
detection: {{false_alarm_every: 365d}}
http: {{listen: ""}}
log_level: warning
""")
        check = subprocess.run([args.binary, "check-config", "--config", config], capture_output=True, text=True)
        if check.returncode != 0:
            sys.exit(f"evald check-config failed ({check.returncode}):\n{check.stdout}{check.stderr}")

        traffic = load_traffic.Traffic(args.seed)
        start_ms = int(datetime.datetime.fromisoformat(args.start.replace("Z", "+00:00")).timestamp() * 1000)
        results, lines, verdicts = [], [], []
        for stretch, (name, goal) in enumerate((("cold", GOAL_COLD), ("armed", GOAL_ARMED))):
            t0 = time.perf_counter()
            paths, start_ms = load_traffic.write_stretch(spool, traffic, args.seed, stretch, start_ms, args.records,
                                                         args.span_hours, files=6)
            size = sum(os.path.getsize(p) for p in paths)
            print(f"{name}: wrote {args.records:,} records ({size / 2**20:.0f} MiB) in {len(paths)} files in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
            subprocess.run(["cat", *paths], stdout=subprocess.DEVNULL)  # warm the page cache
            base = baselines(paths)
            run = run_evald(args.binary, config)
            status = subprocess.run([args.binary, "status", "--json", "--config", config], capture_output=True, text=True)
            try:
                run["status"] = json.loads(status.stdout).get("detection") or {}
            except ValueError:
                run["status"] = {}
            print(f"{name}: evald {run['wall']:.1f} s: {json.dumps(run['summary'], separators=(',', ':'))}", file=sys.stderr, flush=True)
            title = (f"Cold: {args.records:,} records, {args.span_hours:g} h of trace time, empty state" if stretch == 0 else
                     f"Armed: {args.records:,} more records, the next {args.span_hours:g} h, armed detectors")
            block, verdict = phase_report(title, run, base, goal)
            lines += block + [""]
            verdicts.append(verdict)
            results.append(run)
    finally:
        stub.kill()
        stub.wait()

    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = [f"## Production traffic: load, {stamp}\n",
            f"Machine: {os.cpu_count()} cores, {cpu}. `{os.path.relpath(args.binary, ROOT) if args.binary.startswith(ROOT) else args.binary}`, "
            f"`run --once --json` per phase. 20 routes x 3 models (Zipf traffic shares), 8 checks a route "
            f"(status_ok, pii, latency, cost, refusal, not_contains + length and regex on `assist-*`, json_valid and tokens on `extract-*`), "
            f"judges helpfulness and faithfulness on one route each ({', '.join(load_traffic.JUDGED.values())}), stub judge at "
            f"{args.judge_delay * 1000:.0f} ms answering {args.judge_score}, endpoint concurrency {args.concurrency}; "
            f"`sampling.rate: 1.0`, `false_alarm_every: 365d`; steady quality, seed {args.seed}.\n"]
    cold, armed = verdicts
    summary = ["### Goals\n",
               f"- cold detection >= {GOAL_COLD:,} evaluations/s: {num(cold['det_rate'], '{:,.0f}')} ({'met' if cold['det_rate'] and cold['det_rate'] >= GOAL_COLD else 'NOT met'})",
               f"- armed detection >= {GOAL_ARMED:,} evaluations/s: {num(armed['det_rate'], '{:,.0f}')} ({'met' if armed['det_rate'] and armed['det_rate'] >= GOAL_ARMED else 'NOT met'})",
               f"- peak RSS < {GOAL_RSS_MB} MB: {max(cold['rss'], armed['rss']) / 1e6:.1f} MB ({'met' if max(cold['rss'], armed['rss']) < GOAL_RSS_MB * 1e6 else 'NOT met'})"]
    print("\n".join(head + lines + summary))


if __name__ == "__main__":
    main()
