#!/usr/bin/env bash
# Simulates the detectors (issue 6) in a release build and appends the Markdown result to
# Benchmarks/RESULTS.md. Optional argument: scale of the simulation (1 = the recorded run).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product evald-detection-benchmark --scratch-path .build-detect-release 2>&1 | tail -n 1
.build-detect-release/release/evald-detection-benchmark "${1:-1}" | tee -a Benchmarks/RESULTS.md
