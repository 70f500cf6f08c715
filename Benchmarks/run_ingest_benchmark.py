#!/usr/bin/env python3
"""Ingest benchmark (issue: the spine). Measures `evald run --once` (no checks, no judge)
on generated spools of native records, and in the same run the baselines `wc -l` and a
plain Python reader (python_reader.py: json.loads on every line + the sampling rule).
Reports lines per second, peak RSS and the ratios, and appends them to RESULTS.md.

With --baseline OTHER_BINARY (an earlier build), that binary runs in the same interleaved rounds
with validate: sampled, and the ratio evald / baseline is reported: how much a change costs.

Usage: Benchmarks/run_ingest_benchmark.py [--records 1000000 100000] [--binary PATH] [--baseline PATH]
The evald binary should be a release build: swift build -c release --product evald
"""
import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")


def run(cmd, **kwargs):
    """Runs cmd, returns (seconds, peak RSS in MiB, stdout, CPU seconds (user + system))."""
    start = time.perf_counter()
    # Output goes to files, not pipes: a chatty child must not block on a full pipe before wait4.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, **kwargs)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode()
        err = err_file.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd} failed with {code}: {err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def median(runs):
    """The run of median wall time (the lower middle for an even count): on a shared host one
    slow or lucky round moves a median less than a best-of."""
    ordered = sorted(runs, key=lambda r: r[0])
    return ordered[(len(ordered) - 1) // 2]


def median_cpu(runs):
    ordered = sorted(r[3] for r in runs)
    return ordered[(len(ordered) - 1) // 2]


def phase_seconds(out, prefix):
    """The seconds evald itself reports for a phase of `run --once`: the line starting `prefix`
    ends its phase with `in X s`."""
    for line in out.splitlines():
        if line.startswith(prefix) and " in " in line:
            try:
                return float(line.split(" in ", 1)[1].split(" s", 1)[0])
            except ValueError:
                return None
    return None


def median_phase(runs, prefix):
    values = sorted(v for v in (phase_seconds(r[2], prefix) for r in runs) if v is not None)
    return values[(len(values) - 1) // 2] if values else None


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def spool_for(records):
    spool = os.path.join(WORK, f"spool-{records}")
    marker = os.path.join(spool, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(spool, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "examples", "generate_spool.py"), "--out", spool,
                        "--records", str(records), "--files", "8", "--seed", "7", "--malformed", "0"], check=True)
        open(marker, "w").close()
    return spool


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build-release", "release", "evald"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", help="an earlier evald binary to compare with (validate: sampled)")
    parser.add_argument("--skip-validate-all", action="store_true", help="run validate: sampled only")
    args = parser.parse_args()
    os.makedirs(WORK, exist_ok=True)

    rows = []
    loads = []
    for records in args.records:
        spool = spool_for(records)
        files = sorted(os.path.join(spool, f) for f in os.listdir(spool) if f.endswith(".jsonl"))
        size = sum(os.path.getsize(f) for f in files)
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL)  # warm the page cache

        state = os.path.join(WORK, "state")
        configs = {}
        for validate in ("sampled", "all"):
            configs[validate] = os.path.join(WORK, f"bench-{validate}.yaml")
            with open(configs[validate], "w") as f:
                f.write(f"state_dir: {state}\nspool:\n  dir: {spool}\n  validate: {validate}\nsampling:\n  rate: 0.01\n"
                        "http:\n  listen: \"\"\nlog_level: warning\n")
        # Interleaved rounds, the median of each: noise from other tenants of the host hits every
        # command alike, so the ratios hold even when the absolute times drift.
        runs = {"wc": [], "sampled": [], "all": [], "python": [], "baseline": []}
        loads.append(load_average())
        for round_ in range(args.repeat):
            runs["wc"].append(run(["wc", "-l", *files]))
            for validate in ("sampled",) if args.skip_validate_all else ("sampled", "all"):
                shutil.rmtree(state, ignore_errors=True)
                runs[validate].append(run([args.binary, "run", "--once", "--config", configs[validate]]))
            if args.baseline:
                shutil.rmtree(state, ignore_errors=True)
                runs["baseline"].append(run([args.baseline, "run", "--once", "--config", configs["sampled"]]))
            if round_ == 0 or records <= 200_000:
                runs["python"].append(run([sys.executable, os.path.join(HERE, "python_reader.py"), spool, "0.01"]))
        loads.append(load_average())
        wc, py = median(runs["wc"]), median(runs["python"])
        lines = int(wc[2].strip().splitlines()[-1].split()[0])
        for validate in ("sampled",) if args.skip_validate_all else ("sampled", "all"):
            ev = median(runs[validate])
            rows.append({
                "records": records, "bytes": size, "lines": lines, "validate": validate,
                "wc": wc, "python": py, "evald": ev, "evald_cpu": median_cpu(runs[validate]),
                "evald_out": ev[2].strip(), "python_out": py[2].strip(),
                "baseline": median(runs["baseline"]) if runs["baseline"] and validate == "sampled" else None,
                "baseline_cpu": median_cpu(runs["baseline"]) if runs["baseline"] else None,
                "read": median_phase(runs[validate], "evald: read "),
                "detection": median_phase(runs[validate], "detection: "),
                "baseline_read": median_phase(runs["baseline"], "evald: read ") if runs["baseline"] else None,
                "baseline_detection": median_phase(runs["baseline"], "detection: ") if runs["baseline"] else None,
                "all_walls": {k: [round(r[0], 3) for r in v] for k, v in runs.items() if v},
                "all_cpus": {k: [round(r[3], 3) for r in v] for k, v in runs.items() if v},
            })

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"\n## Ingest, {stamp}\n",
           f"Machine: {os.cpu_count()} cores, {cpu}; load average (1, 5, 15 min) before and after each size: "
           f"{'; '.join(loads)}. Warm page cache; {args.repeat} interleaved rounds, the median of each (by wall time; CPU is the median "
           "of user + system) "
           f"(Python once above 200k records). evald: release build, `run --once`, rate 0.01, no checks, no judge, fresh state; "
           "`spool.validate: sampled` (the default) fully decodes sampled lines only, `all` also walks every line's structure.\n",
           "| records | spool MiB | spool.validate | wc -l s | python s | evald s | evald lines/s | evald MB/s | python / evald | evald / wc -l | evald peak RSS MiB | python peak RSS MiB |",
           "|---:|---:|:--|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ev_s, py_s, wc_s = r["evald"][0], r["python"][0], r["wc"][0]
        out.append(f"| {r['records']:,} | {r['bytes'] / 2**20:.0f} | {r['validate']} | {wc_s:.3f} | {py_s:.2f} | {ev_s:.3f} | "
                   f"{r['lines'] / ev_s:,.0f} | {r['bytes'] / 1e6 / ev_s:,.0f} | {py_s / ev_s:.1f}x | {ev_s / wc_s:.1f}x | "
                   f"{r['evald'][1]:.1f} | {r['python'][1]:.1f} |")
    out.append("")
    for r in rows:
        if r["baseline"]:
            b = r["baseline"]
            out.append(f"- {r['records']:,} records, validate sampled: baseline `{args.baseline}` {b[0]:.3f} s wall, "
                       f"{r['baseline_cpu']:.3f} s CPU, {r['lines'] / b[0]:,.0f} lines/s, peak RSS {b[1]:.1f} MiB; evald {r['evald'][0]:.3f} s wall, "
                       f"{r['evald_cpu']:.3f} s CPU, {r['lines'] / r['evald'][0]:,.0f} lines/s; evald / baseline = "
                       f"{r['evald'][0] / b[0]:.2f}x wall, {r['evald_cpu'] / r['baseline_cpu']:.2f}x CPU")
            if r["read"] and r["baseline_read"]:
                out.append(f"- {r['records']:,} records, validate sampled, the phases `run --once` reports (medians): reading the spool "
                           f"{r['read']:.2f} s vs baseline {r['baseline_read']:.2f} s = {r['read'] / r['baseline_read']:.2f}x; "
                           f"detection {r['detection']} s vs baseline {r['baseline_detection']} s")
    for r in rows:
        if r["validate"] == "sampled":
            out.append(f"- {r['records']:,} records, every round's wall s: {r['all_walls']}; CPU s: {r['all_cpus']}")
    for r in rows:
        out.append(f"- {r['records']:,} records, validate {r['validate']}: `{r['evald_out']}`; `{r['python_out']}`")
    text = "\n".join(out) + "\n"
    print(text)
    results = os.path.join(HERE, "RESULTS.md")
    if not os.path.exists(results):
        with open(results, "w") as f:
            f.write("# Benchmark results\n\nRecorded by the scripts in this folder; newest last.\n")
    with open(results, "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
