#!/usr/bin/env bash
# Starts a single-node broker from the given build directory (used by `make run`):
# PLAINTEXT on 127.0.0.1:9092, data under ./data (the embedded default configuration),
# run from the repository root. Extra arguments go to sluiced (a properties file,
# --override key=value). Stop it with Ctrl-C (SIGINT): logs are closed cleanly.
set -euo pipefail
build=${1:-build}
shift || true
if [ ! -x "$build/sluiced/sluiced" ]; then
  echo "make run: $build/sluiced/sluiced is not built; run 'make build' first." >&2
  exit 1
fi
mkdir -p data
exec "$build/sluiced/sluiced" "$@"
