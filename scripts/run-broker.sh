#!/usr/bin/env bash
# Starts a single-node broker from the given build directory (used by `make run`).
set -euo pipefail
build=${1:-build}
shift || true
if [ ! -x "$build/sluiced" ]; then
  echo "make run: the broker (sluiced) is not built yet in this version of sluice." >&2
  echo "make run: it arrives with the single-node broker work (issue 6); the storage" >&2
  echo "make run: engine and its tools are built in $build/." >&2
  exit 1
fi
mkdir -p data
exec "$build/sluiced" "$@"
