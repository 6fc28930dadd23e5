#!/bin/sh
# Runs bench_codec natively (MiB/s), then under callgrind for instructions per request
# (repeatable, unlike times on shared machines). Usage: bench_codec.sh [BUILD_DIR]
set -eu
build=${1:-build}
bin="$build/tools/bench/bench_codec"
work=$(mktemp -d "${TMPDIR:-/tmp}/sl-bench-codec.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
"$bin" | tee "$work/native.txt"
native=$(tail -n 1 "$work/native.txt" | sed 's/^RESULT bench=codec //')
iters=20
ir_of() {
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" --collect-atstart=no \
        --toggle-collect="bench_$1_once" "$bin" --only "$1" --iterations $iters \
        >/dev/null 2>"$work/vg.$1"
    total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$work/cg.$1")
    echo $((total / iters))
}
produce_ir=$(ir_of produce)
fetch_ir=$(ir_of fetch)
echo "callgrind: produce decode+crc ${produce_ir} instructions/request," \
     "fetch encode ${fetch_ir} instructions/response"
echo "RESULT bench=codec $native produce_ir_per_request=$produce_ir fetch_ir_per_response=$fetch_ir"
