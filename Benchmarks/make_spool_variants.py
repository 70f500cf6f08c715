#!/usr/bin/env python3
"""Copies of the ingest benchmark's spool with one kind of work taken out, to tell apart what
each part of ingest costs (Benchmarks/RESULTS.md, "what the reading phase pays for"):

- `no-feedback`: every `"feedback":"up"` / `"down"` member made null (no feedback events);
- `plain`: that, and every failed call made a successful one (`"status":"ok"`, an output), so
  no failed call is decoded and stored in full: what is left over the baseline is usage.

Usage: make_spool_variants.py SOURCE_DIR VARIANT TARGET_DIR
"""
import os
import sys


def transform(line: bytes, variant: str) -> bytes:
    if b'"feedback":"' in line:
        line = line.replace(b'"feedback":"up"', b'"feedback":null').replace(b'"feedback":"down"', b'"feedback":null')
    if variant == "plain" and b'"status":"error"' in line:
        line = line.replace(b'"output":null', b'"output":"x"', 1).replace(b'"status":"error"', b'"status":"ok"', 1)
    return line


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[2] not in ("no-feedback", "plain"):
        sys.exit(__doc__)
    source, variant, target = sys.argv[1:]
    os.makedirs(target, exist_ok=True)
    for name in sorted(os.listdir(source)):
        with open(os.path.join(source, name), "rb") as f, open(os.path.join(target, name), "wb") as g:
            for line in f:
                g.write(transform(line, variant))


if __name__ == "__main__":
    main()
