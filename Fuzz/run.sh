#!/usr/bin/env bash
# Fuzz/run.sh SECONDS [TARGET...]: builds evald-fuzz (libFuzzer + AddressSanitizer) and runs
# each target (all by default) for SECONDS, starting from its committed seed corpus
# Fuzz/corpus/TARGET. New inputs go to $FUZZ_WORK/corpus/TARGET (default Fuzz/work, not
# committed); a crash, hang or leak stops that target with its input in $FUZZ_WORK/artifacts/,
# the other targets still run, and the script fails.
# Prints, per target, the executions per second and the corpus size at the end.
# FUZZ_BINARY=path skips the build and runs that binary (a copy kept for a long run while the
# sources change); FUZZ_BUILD=dir is the build directory (default Fuzz/.build).
set -euo pipefail
seconds="${1:?usage: Fuzz/run.sh SECONDS [TARGET...]}"
shift
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
cd "$fuzz_dir"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(line otlp otlp-protobuf config rubric reply schema time pii pii-scaling)
fi
work="${FUZZ_WORK:-$fuzz_dir/work}"

if [ -n "${FUZZ_BINARY:-}" ]; then
    binary="$FUZZ_BINARY"
else
    build_start=$(date +%s)
    # -sanitize=fuzzer instruments every Swift module for coverage and links libFuzzer; the C
    # code (zlib, BoringSSL) is not instrumented. -parse-as-library: no Swift main, libFuzzer's
    # driver is the entry (see Sources/CFuzzer). Release: the targets run at a useful speed.
    swift build -c release --scratch-path "${FUZZ_BUILD:-$fuzz_dir/.build}" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 \
        | grep -Ev "Cannot export local symbol|^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)" || true
    binary="${FUZZ_BUILD:-$fuzz_dir/.build}/release/evald-fuzz"
    [ -x "$binary" ] || { echo "fuzz: the build failed"; exit 1; }
    echo "fuzz: built in $(( $(date +%s) - build_start )) s"
fi

# libFuzzer reports crashes; the Swift runtime's own backtracer, racing ASan, only garbles them.
export SWIFT_BACKTRACE=enable=no
# The one-time regex allocations of libFoundation are not leaks (see lsan.supp).
export LSAN_OPTIONS="suppressions=$fuzz_dir/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$work/artifacts"
status=0
for target in "${targets[@]}"; do
    mkdir -p "$work/corpus/$target"
    log="$work/$target.log"
    # -timeout: an input that takes 10 s is a hang; -rss_limit_mb bounds memory;
    # -max_len 65536: long enough for the quadratic blow-ups to show within -timeout.
    if ! EVALD_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$work/artifacts/$target-" \
        -print_final_stats=1 "$work/corpus/$target" "corpus/$target" >"$log" 2>&1; then
        echo "fuzz: $target FAILED (see $log and $work/artifacts/)"
        grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5 || true
        status=1
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    corpus=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    echo "fuzz: $target ok: $runs runs in $seconds s ($rate exec/s)," \
        "corpus $corpus (inputs/bytes), coverage $cov edges"
done
exit $status
