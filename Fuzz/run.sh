#!/usr/bin/env bash
# Fuzz/run.sh SECONDS [TARGET...]: builds evald-fuzz (libFuzzer + AddressSanitizer) and runs
# each target (all by default) for SECONDS, starting from its committed seed corpus
# Fuzz/corpus/TARGET. New inputs go to Fuzz/work/corpus/TARGET (not committed); a crash, hang
# or leak stops the run with its input in Fuzz/work/artifacts/ and the script fails.
# Prints, per target, the executions per second and the corpus size at the end.
set -euo pipefail
seconds="${1:?usage: Fuzz/run.sh SECONDS [TARGET...]}"
shift
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
cd "$fuzz_dir"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=(line otlp config rubric reply schema time pii); fi

build_start=$(date +%s)
# -sanitize=fuzzer instruments every Swift module for coverage and links libFuzzer; the C code
# (zlib, BoringSSL) is not instrumented. Release: the targets run at a useful speed.
swift build -c release --scratch-path "${FUZZ_BUILD:-$fuzz_dir/.build}" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | grep -Ev "Cannot export local symbol|^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)" || true
binary="${FUZZ_BUILD:-$fuzz_dir/.build}/release/evald-fuzz"
[ -x "$binary" ] || { echo "fuzz: the build failed"; exit 1; }
echo "fuzz: built in $(( $(date +%s) - build_start )) s"

mkdir -p work/artifacts
status=0
for target in "${targets[@]}"; do
    mkdir -p "work/corpus/$target"
    log="work/$target.log"
    # -timeout: an input that takes 10 s is a hang; -rss_limit_mb bounds memory;
    # -max_len 65536: long enough for the quadratic blow-ups to show within -timeout.
    if ! "$binary" "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="work/artifacts/$target-" -print_final_stats=1 \
        "work/corpus/$target" "corpus/$target" >"$log" 2>&1; then
        echo "fuzz: $target FAILED (see Fuzz/$log and Fuzz/work/artifacts/)"
        grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 || true
        status=1
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    corpus=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    echo "fuzz: $target ok: $runs runs in $seconds s ($rate exec/s), corpus $corpus (inputs/bytes), coverage $cov edges"
done
exit $status
