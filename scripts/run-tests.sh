#!/usr/bin/env bash
# Runs every test suite: all suites in the optimized build (build/), then the unit
# suites again in an ASan+UBSan build made with clang (build-asan/), where the fuzz
# suite runs libFuzzer for a bounded time. Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/.."

# Suites that run a second time under the sanitizers (no real-client or crash suites:
# they start many processes and take long; their correctness is covered in build/).
asan_suites=(storage codec controlplane dataplane groups fuzz)

status=0
meson test -C build --num-processes 2 --print-errorlogs || status=1

asan_args=()
for s in "${asan_suites[@]}"; do asan_args+=(--suite "$s"); done
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --num-processes 2 --print-errorlogs "${asan_args[@]}" || status=1

/usr/bin/python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"sluice tests ({', '.join(sys.argv[1:])}):")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
