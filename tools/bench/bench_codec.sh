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
# ir_of MODE FUNCTION: instructions per iteration spent inside FUNCTION.
ir_of() {
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$2" --collect-atstart=no \
        --toggle-collect="$2" "$bin" --only "$1" --iterations $iters \
        >/dev/null 2>"$work/vg.$2"
    total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$work/cg.$2")
    echo $((total / iters))
}
produce_ir=$(ir_of produce bench_produce_once)
decode_ir=$(ir_of produce sl_codec_decode_request)
fetch_ir=$(ir_of fetch bench_fetch_once)
echo "callgrind: produce decode+crc ${produce_ir} instructions/request" \
     "(decode alone ${decode_ir}), fetch encode ${fetch_ir} instructions/response"
echo "RESULT bench=codec $native produce_ir_per_request=$produce_ir" \
     "produce_decode_only_ir_per_request=$decode_ir fetch_ir_per_response=$fetch_ir"
