#!/usr/bin/env python3
"""Soak run (issue "Production traffic"): evald in daemon mode for 30 minutes while a writer
appends 2,000 native lines/s to the spool (timestamps = now) and rotates the file every 5
minutes, at `sampling.rate: 0.05` (about 100 evaluations/s), the stub judge answering after
200 ms, and a webhook receiver listening. Steady traffic: no alert should fire.

Samples every second: the RSS of the evald process (/proc/PID/status VmRSS), the size of
state/evald.db-wal, `evald_detection_lag_seconds` from GET /metrics (n/a when the binary does
not export it) and the response time of GET /healthz. Listens on $NOTIFY_SOCKET (AF_UNIX
datagrams, as systemd does) with WATCHDOG_USEC=10000000: evald should send WATCHDOG=1 every 5 s;
a gap over 10 s is a miss.

Reports RSS after the first minute and at the end (goal: flat within 10%), max and final WAL size
(bounded), detection lag p50/p99/max (goal: p99 under 5 s), /healthz max latency, watchdog max
gap and misses (goal: none), lines written vs evaluations stored, webhook POSTs; stops evald with
SIGTERM and checks that it exits 0 within 15 s. Prints a Markdown block for RESULTS.md.

    python3 Benchmarks/run_soak.py [--minutes 30] [--rate 2000] [--rotate-every 300] [--binary PATH] [--stub PATH]

Work files go to Benchmarks/work/soak/ (git-ignored). Only 127.0.0.1 traffic.
"""
import argparse
import datetime
import http.server
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work", "soak")
sys.path.insert(0, HERE)
import load_traffic  # noqa: E402

WATCHDOG_USEC = 10_000_000


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """A webhook receiver on 127.0.0.1 that records every POST."""

    def __init__(self):
        posts = self.posts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posts.append((time.time(), self.path, body[:2000].decode(errors="replace")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Notify:
    """The $NOTIFY_SOCKET end of sd_notify: records (monotonic time, field) for every line received."""

    def __init__(self, path):
        self.path = path
        self.events = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            at = time.monotonic()
            for field in data.decode(errors="replace").split("\n"):
                if field:
                    self.events.append((at, field))

    def first(self, prefix):
        return next((t for t, f in list(self.events) if f.startswith(prefix)), None)

    def stop(self):
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()


class Writer(threading.Thread):
    """Appends `rate` native lines/s to spool/current.jsonl in small batches (timestamps = now);
    every `rotate_every` s renames current.jsonl to current-<n>.jsonl and starts a new one. Keeps
    the newest `keep` rotated files and deletes older ones (as the collector's max_backups does)."""

    def __init__(self, spool, rate, rotate_every, keep, seed, deadline):
        super().__init__(daemon=True)
        self.spool, self.rate, self.rotate_every, self.keep, self.deadline = spool, rate, rotate_every, keep, deadline
        self.traffic = load_traffic.Traffic(seed)
        self.rng = random.Random(seed * 31 + 5)
        self.lines = 0
        self.rotations = 0
        self.deleted = 0
        self.behind_max = 0
        self.stopping = threading.Event()

    def run(self):
        current = os.path.join(self.spool, "current.jsonl")
        f = open(current, "a", encoding="utf-8")
        start = last_rotation = time.monotonic()
        rotated = []
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                if now >= self.deadline:
                    break
                if now - last_rotation >= self.rotate_every:
                    f.close()
                    self.rotations += 1
                    name = os.path.join(self.spool, f"current-{self.rotations}.jsonl")
                    os.rename(current, name)
                    rotated.append(name)
                    f = open(current, "a", encoding="utf-8")
                    last_rotation = now
                    while self.keep >= 0 and len(rotated) > self.keep:
                        os.remove(rotated.pop(0))
                        self.deleted += 1
                due = int((now - start) * self.rate) - self.lines
                self.behind_max = max(self.behind_max, due)
                if due > 0:
                    due = min(due, self.rate)  # at most a second's worth a batch: keep batches small
                    ms = int(time.time() * 1000)
                    f.write("".join(self.traffic.line(self.rng, ms) + "\n" for _ in range(due)))
                    f.flush()
                    self.lines += due
                time.sleep(0.02)
        finally:
            f.close()


def http_get(url, timeout=5.0):
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read().decode(errors="replace")
            return r.status, body, time.perf_counter() - start
    except urllib.error.HTTPError as e:
        return e.code, "", time.perf_counter() - start
    except OSError as e:
        return None, str(e), time.perf_counter() - start


def vm_rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def metric(text, name):
    m = re.search(rf"(?m)^{re.escape(name)}(?:\{{[^}}]*\}})? ([-+0-9.eEinfNa]+)$", text)
    return float(m[1]) if m else None


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))]


def num(value, fmt="{:.2f}"):
    return "n/a" if value is None else fmt.format(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=2000, help="lines per second written (default 2000)")
    parser.add_argument("--rotate-every", type=float, default=300, help="seconds between rotations (default 300)")
    parser.add_argument("--keep-rotated", type=int, default=3, help="rotated files kept; older ones are deleted (-1: keep all)")
    parser.add_argument("--sampling", type=float, default=0.05)
    parser.add_argument("--judge-delay", type=float, default=0.2)
    parser.add_argument("--judge-score", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build-release", "release", "evald"))
    parser.add_argument("--stub", default=os.path.join(ROOT, ".build-release", "release", "evald-judge-stub"))
    args = parser.parse_args()
    for path, what in ((args.binary, "--binary"), (args.stub, "--stub")):
        if not os.access(path, os.X_OK):
            sys.exit(f"{what} {path} is missing: swift build -c release --scratch-path .build-release")
    if args.minutes <= 0 or args.rate <= 0 or args.rotate_every <= 0:
        sys.exit("--minutes, --rate and --rotate-every must be > 0")
    duration = args.minutes * 60

    shutil.rmtree(WORK, ignore_errors=True)
    spool, judges, state = (os.path.join(WORK, d) for d in ("spool", "judges", "state"))
    for d in (spool, judges, state):
        os.makedirs(d)
    for judge, route in load_traffic.JUDGED.items():
        with open(os.path.join(ROOT, "reference-judges", f"{judge}.md")) as f:
            text = re.sub(r"(?m)^applies_to:.*$", f'applies_to: ["{route}"]', f.read(), count=1)
        with open(os.path.join(judges, f"{judge}.md"), "w") as f:
            f.write(text)

    procs = []
    webhook = notify = writer = None
    evald = None
    evald_log = open(os.path.join(WORK, "evald.log"), "wb")
    try:
        stub = subprocess.Popen([args.stub, "--delay", str(args.judge_delay), "--score", str(args.judge_score)],
                                stdout=subprocess.PIPE, text=True)
        procs.append(stub)
        m = re.match(r"port=(\d+)", stub.stdout.readline())
        if not m:
            sys.exit("the judge stub did not start")
        stub_port = int(m[1])
        webhook = Webhook()
        http_port = free_port()
        config = os.path.join(WORK, "evald.yaml")
        with open(config, "w") as f:
            f.write(f"""# run_soak.py: steady traffic in daemon mode.
state_dir: state
spool: {{dir: spool, poll_interval: 1s}}
sampling: {{rate: {args.sampling}}}
{load_traffic.CONFIG_CHECKS}endpoints:
  default: {{kind: openai, base_url: "http://127.0.0.1:{stub_port}/v1", model: judge, concurrency: 16, timeout: 10s}}
judge: {{dir: judges}}
detection: {{false_alarm_every: 365d}}
alerts:
  receivers:
    - {{name: hook, kind: webhook, url: "http://127.0.0.1:{webhook.port}/"}}
http: {{listen: "127.0.0.1:{http_port}"}}
log_level: warning
""")
        check = subprocess.run([args.binary, "check-config", "--config", config], capture_output=True, text=True)
        if check.returncode != 0:
            sys.exit(f"evald check-config failed ({check.returncode}):\n{check.stdout}{check.stderr}")

        sock_path = os.path.join(WORK, "notify.sock")
        notify = Notify(sock_path)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        env.pop("WATCHDOG_PID", None)
        started = time.monotonic()
        evald = subprocess.Popen([args.binary, "run", "--config", config], env=env, stdout=evald_log, stderr=evald_log)
        while notify.first("READY=1") is None:
            if evald.poll() is not None:
                sys.exit(f"evald exited with {evald.returncode} before READY=1; see {evald_log.name}")
            if time.monotonic() - started > 60:
                sys.exit("no READY=1 within 60 s")
            time.sleep(0.05)
        ready_after = notify.first("READY=1") - started
        print(f"evald pid {evald.pid} READY=1 after {ready_after:.2f} s; soak for {args.minutes:g} min at {args.rate} lines/s",
              file=sys.stderr, flush=True)

        t0 = time.monotonic()
        writer = Writer(spool, args.rate, args.rotate_every, args.keep_rotated, args.seed, t0 + duration)
        writer.start()
        base = f"http://127.0.0.1:{http_port}"
        wal = os.path.join(state, "evald.db-wal")
        samples = []  # (t, rss, wal bytes, lag s, healthz s, healthz status)
        next_tick = t0
        died = None
        while True:
            next_tick += 1.0
            now = time.monotonic()
            if now - t0 >= duration:
                break
            if next_tick > now:
                time.sleep(next_tick - now)
            if evald.poll() is not None:
                died = evald.returncode
                break
            rss = vm_rss(evald.pid)
            wal_size = os.path.getsize(wal) if os.path.exists(wal) else 0
            status, body, _ = http_get(base + "/metrics")
            lag = metric(body, "evald_detection_lag_seconds") if status == 200 else None
            hz_status, _, hz_seconds = http_get(base + "/healthz")
            samples.append((time.monotonic() - t0, rss, wal_size, lag, hz_seconds, hz_status))
            if len(samples) % 60 == 0:
                print(f"  {samples[-1][0]:.0f} s: {writer.lines:,} lines written, RSS {rss / 2**20:.1f} MiB, "
                      f"WAL {wal_size / 2**20:.1f} MiB, lag {num(lag)} s, healthz {hz_seconds * 1000:.0f} ms ({hz_status})",
                      file=sys.stderr, flush=True)
        writer.stopping.set()
        writer.join(10)
        # Let evald read what was written last (it polls every second), then stop it.
        caught_up = None
        wait_start = time.monotonic()
        while died is None and time.monotonic() - wait_start < 60:
            status, body, _ = http_get(base + "/api/v1/status")
            try:
                lines_read = json.loads(body)["spool"]["lines_read"] if status == 200 else None
            except (ValueError, KeyError, TypeError):
                lines_read = None
            if lines_read is not None and lines_read >= writer.lines:
                caught_up = time.monotonic() - wait_start
                break
            time.sleep(0.5)
        stop_at = time.monotonic()
        exit_code, exit_seconds = died, None
        if died is None:
            evald.send_signal(signal.SIGTERM)
            try:
                exit_code = evald.wait(15)
                exit_seconds = time.monotonic() - stop_at
            except subprocess.TimeoutExpired:
                exit_code = None
                evald.kill()
                evald.wait()
        time.sleep(0.3)  # STOPPING=1 and the last datagrams
    finally:
        if writer is not None:
            writer.stopping.set()
        if evald is not None and evald.poll() is None:
            evald.kill()
            evald.wait()
        for p in procs:
            p.kill()
            p.wait()
        if webhook is not None:
            webhook.stop()
        if notify is not None:
            notify.stop()
        evald_log.close()

    # Watchdog: gaps between READY=1 and each WATCHDOG=1, up to the stop.
    events = list(notify.events)
    ready = notify.first("READY=1")
    kicks = [t for t, f in events if f == "WATCHDOG=1"]
    marks = [ready] + [t for t in kicks if t >= ready] + [stop_at]
    gaps = [b - a for a, b in zip(marks, marks[1:])]
    limit = WATCHDOG_USEC / 1e6
    misses = sum(1 for g in gaps if g > limit)
    statuses = [f for _, f in events if f.startswith("STATUS=")]
    stopping = any(f == "STOPPING=1" for _, f in events)

    db_path = os.path.join(state, "evald.db")
    evaluations = judged = None
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        evaluations = db.execute("SELECT COUNT(*) FROM evaluation").fetchone()[0]
        try:
            judged = db.execute("SELECT COUNT(*) FROM judge_score").fetchone()[0]
        except sqlite3.Error:
            pass
        db.close()
    except sqlite3.Error as e:
        print(f"cannot read {db_path}: {e}", file=sys.stderr)

    with open(os.path.join(WORK, "samples.csv"), "w") as f:
        f.write("seconds,rss_bytes,wal_bytes,lag_seconds,healthz_seconds,healthz_status\n")
        for row in samples:
            f.write(",".join("" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row) + "\n")
    rss_all = [s[1] for s in samples if s[1]]
    start_index = next((i for i, s in enumerate(samples) if s[0] >= min(60.0, duration / 2)), 0)
    rss_start = samples[start_index][1] if samples else None
    rss_end = samples[-1][1] if samples else None
    rss_ratio = rss_end / rss_start if rss_start and rss_end else None
    wals = [s[2] for s in samples]
    half = len(wals) // 2
    lags = [s[3] for s in samples if s[3] is not None]
    healthz = [s[4] for s in samples]
    healthz_bad = sum(1 for s in samples if s[5] != 200)
    lag_p99 = percentile(lags, 0.99)
    expected = writer.lines * args.sampling

    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    binary = os.path.relpath(args.binary, ROOT) if args.binary.startswith(ROOT) else args.binary
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    out = [f"## Production traffic: soak, {stamp}\n",
           f"Machine: {os.cpu_count()} cores, {cpu}. `{binary} run` (daemon) for {args.minutes:g} min: a writer appends "
           f"{args.rate:,} native lines/s (timestamps = now) to `spool/current.jsonl`, rotated every {args.rotate_every:g} s "
           f"(newest {args.keep_rotated} rotated files kept), `sampling.rate: {args.sampling}`, the load benchmark's 8 checks a route "
           f"and 2 judges, stub judge at {args.judge_delay * 1000:.0f} ms, a webhook receiver, `WATCHDOG_USEC={WATCHDOG_USEC}`; "
           f"steady traffic (no regression injected). Sampled every second.\n",
           "| measure | value | goal |", "|:--|--:|:--|",
           f"| RSS after {samples[start_index][0] if samples else 0:.0f} s / at the end | {num(rss_start and rss_start / 2**20, '{:.1f}')} / "
           f"{num(rss_end and rss_end / 2**20, '{:.1f}')} MiB (x{num(rss_ratio, '{:.3f}')}; max {num(max(rss_all) / 2**20 if rss_all else None, '{:.1f}')} MiB) | "
           f"flat within 10%: {ok(rss_ratio is not None and rss_ratio <= 1.10)} |",
           f"| WAL size max / final | {num(max(wals) / 2**20 if wals else None, '{:.1f}')} / {num(wals[-1] / 2**20 if wals else None, '{:.1f}')} MiB "
           f"(max first half {num(max(wals[:half]) / 2**20 if half else None, '{:.1f}')}, second half {num(max(wals[half:]) / 2**20 if wals else None, '{:.1f}')}) | bounded |",
           f"| detection lag p50 / p99 / max | {num(percentile(lags, 0.5))} / {num(lag_p99)} / {num(max(lags) if lags else None)} s ({len(lags)} samples) | "
           f"p99 < 5 s: {'n/a' if lag_p99 is None else ok(lag_p99 < 5)} |",
           f"| /healthz p50 / max latency | {num(percentile(healthz, 0.5) and percentile(healthz, 0.5) * 1000, '{:.1f}')} / "
           f"{num(max(healthz) * 1000 if healthz else None, '{:.1f}')} ms ({healthz_bad} answers not 200) | |",
           f"| watchdog: WATCHDOG=1 received / max gap / misses (> {limit:g} s) | {len(kicks)} / {num(max(gaps) if gaps else None)} s / {misses} | "
           f"none: {ok(misses == 0 and kicks)} |",
           f"| lines written / evaluations stored (expected ~{expected:,.0f}) | {writer.lines:,} / {num(evaluations, '{:,}')} | |",
           f"| judge results stored | {num(judged, '{:,}')} | |",
           f"| webhook POSTs | {len(webhook.posts)} | 0 (no regression) |",
           f"| SIGTERM to exit | {num(exit_seconds)} s, exit code {num(exit_code, '{}')} | 0 within 15 s: {ok(exit_code == 0)} |",
           "",
           f"- READY=1 {ready_after:.2f} s after start; {len(statuses)} STATUS= lines (last: `{statuses[-1][7:] if statuses else 'none'}`); "
           f"STOPPING=1 {'received' if stopping else 'not received'}",
           f"- writer: {writer.rotations} rotations, {writer.deleted} rotated files deleted, at most {writer.behind_max:,} lines behind its schedule; "
           f"evald caught up {num(caught_up)} s after the writer stopped; per-second samples in `Benchmarks/work/soak/samples.csv`" + (f"; evald DIED with exit code {died} during the soak" if died is not None else "")]
    if webhook.posts:
        out.append(f"- first webhook POST: `{webhook.posts[0][2][:300]}`")
    print("\n".join(out))


if __name__ == "__main__":
    main()
