#!/usr/bin/env bash
# Detector design speed at targets up to 1e12 samples, the tail's agreement with the exact
# chain, and a simulated false-alarm check (release build). Prints Markdown for RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-release --product evald-design-benchmark >&2
.build-release/release/evald-design-benchmark "$@"
