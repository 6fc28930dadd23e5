#!/bin/sh
# Build a fresh corpus (sample encodings of every API x version + golden frames), then
# run the fuzzer for a bounded time (libFuzzer build) or replay the corpus once (other
# builds). Usage: run_fuzz.sh FUZZER SEED_TOOL GOLDEN_DIR SECONDS MODE KIND
#   MODE: libfuzzer | replay      KIND: request | response
# Request inputs are frame bodies without the size prefix; response inputs are
# api_key (2 bytes), api_version (1 byte), then the body.
set -eu
fuzzer=$1 seeds=$2 golden=$3 seconds=$4 mode=$5 kind=$6
work=$(mktemp -d "${TMPDIR:-/tmp}/sl-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus" "$work/artifacts"
"$seeds" "$work/corpus" "$kind"
want=req
[ "$kind" = response ] && want=resp
if [ -f "$golden/INDEX.tsv" ]; then
    n=0
    tail -n +2 "$golden/INDEX.tsv" |
        while IFS="$(printf '\t')" read -r client file dir key ver corr; do
            [ "$dir" = "$want" ] || continue
            n=$((n + 1))
            out="$work/corpus/golden_${n}_$(basename "$file")"
            if [ "$kind" = response ]; then
                printf "\\$(printf %03o $((key >> 8)))\\$(printf %03o $((key & 255)))" > "$out"
                printf "\\$(printf %03o "$ver")" >> "$out"
            else
                : > "$out"
            fi
            tail -c +5 "$golden/$file" >> "$out"
        done
fi
echo "corpus: $(ls "$work/corpus" | wc -l) files"
if [ "$mode" = libfuzzer ]; then
    "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus"
else
    "$fuzzer" "$work/corpus"
fi
