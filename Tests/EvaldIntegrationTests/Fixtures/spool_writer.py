#!/usr/bin/env python3
"""The crash test's writer, a separate process as the collector is: appends native records to
SPOOL/traces.jsonl in uneven pieces (often splitting a line), and now and then rotates the file
by renaming it to traces-K.jsonl between two lines, as the collector's file exporter does.
Trace ids are those of EvaldHarness.traceID(n) in the Swift tests; each record also carries
a tenant (n % 7) and token counts (n % 100 in, n % 37 out) for the usage totals."""
import os
import random
import sys
import time

ROUTES = ["support-chat", "extract-order", "refunds-assist"]
MASK = (1 << 64) - 1


def line(n):
    trace_id = "%016x%016x" % (n, (n * 0x9E3779B97F4A7C15) & MASK)
    return ('{"trace_id":"%s","timestamp":"2026-11-28T10:00:00.000Z","route":"%s","model":"gpt-4o-mini",'
            '"tenant":"t%d","input":[{"role":"user","content":"question %d"}],"output":"answer %d","latency_ms":%d,'
            '"usage":{"input_tokens":%d,"output_tokens":%d}}\n'
            % (trace_id, ROUTES[n % 3], n % 7, n, n, n % 5000, n % 100, n % 37))


def main(spool, total, seed):
    rng = random.Random(seed)
    path = os.path.join(spool, "traces.jsonl")
    pending = b""
    n = 0
    rotation = 0
    while n < total or pending:
        while len(pending) < 8192 and n < total:
            pending += line(n).encode()
            n += 1
        piece = min(len(pending), rng.randint(1, 6000))
        with open(path, "ab") as f:
            f.write(pending[:piece])
        pending = pending[piece:]
        if rng.random() < 1 / 25:
            # Rotate between lines: finish the line in progress first.
            end = pending.find(b"\n") + 1
            with open(path, "ab") as f:
                f.write(pending[:end])
            pending = pending[end:]
            rotation += 1
            os.rename(path, os.path.join(spool, "traces-%d.jsonl" % rotation))
        time.sleep(rng.random() * 0.03)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
