#!/usr/bin/env python3
"""Baseline for the ingest benchmark: a plain Python reader that parses every line of
the spool with json.loads and applies evald's sampling rule."""
import json
import os
import sys

THRESHOLD_CACHE = {}


def threshold(rate):
    if rate not in THRESHOLD_CACHE:
        THRESHOLD_CACHE[rate] = 1 << 56 if rate <= 0 else 0 if rate >= 1 else round((1 - rate) * 2**56)
    return THRESHOLD_CACHE[rate]


def randomness(trace_id):
    if len(trace_id) == 32:
        try:
            int(trace_id, 16)
            return int(trace_id[18:], 16)
        except ValueError:
            pass
    h = 0xcbf29ce484222325
    for b in trace_id.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h >> 8


def main(spool, rate):
    lines = records = sampled = malformed = 0
    t = threshold(rate)
    for name in sorted(os.listdir(spool)):
        if not name.endswith((".jsonl", ".ndjson", ".json")):
            continue
        with open(os.path.join(spool, name), "rb") as f:
            for line in f:
                lines += 1
                try:
                    obj = json.loads(line)
                    trace_id = obj["trace_id"]
                except (ValueError, KeyError, TypeError):
                    malformed += 1
                    continue
                records += 1
                if randomness(trace_id) >= t:
                    sampled += 1
    print(f"python: {lines} lines, {records} records, {sampled} sampled, {malformed} malformed")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.01)
