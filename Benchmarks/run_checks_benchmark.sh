#!/usr/bin/env bash
# Times the deterministic checks of the example config per trace (release build) and appends
# the result to Benchmarks/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product evald-checks-benchmark --scratch-path .build-release 2>&1 | tail -n 1
.build-release/release/evald-checks-benchmark "${1:-examples/evald.yaml}" "${2:-5}" | tee -a Benchmarks/RESULTS.md
