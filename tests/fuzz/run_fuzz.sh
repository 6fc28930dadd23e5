#!/bin/sh
# Build a fresh corpus (sample encodings + golden request frames without their size
# prefix), then run the fuzzer for a bounded time (libFuzzer build) or replay the
# corpus once (other builds). Usage: run_fuzz.sh FUZZER SEED_TOOL GOLDEN_DIR SECONDS MODE
# MODE is "libfuzzer" or "replay".
set -eu
fuzzer=$1 seeds=$2 golden=$3 seconds=$4 mode=$5
work=$(mktemp -d "${TMPDIR:-/tmp}/sl-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/corpus" "$work/artifacts"
"$seeds" "$work/corpus"
if [ -f "$golden/INDEX.tsv" ]; then
    n=0
    tail -n +2 "$golden/INDEX.tsv" | while IFS="$(printf '\t')" read -r client file dir rest; do
        [ "$dir" = req ] || continue
        n=$((n + 1))
        tail -c +5 "$golden/$file" > "$work/corpus/golden_${n}_$(basename "$file")"
    done
fi
echo "corpus: $(ls "$work/corpus" | wc -l) files"
if [ "$mode" = libfuzzer ]; then
    "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus"
else
    "$fuzzer" "$work/corpus"
fi
