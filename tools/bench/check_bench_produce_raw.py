#!/usr/bin/env python3
"""Runs bench_produce_raw (tiny sizes) and checks its output contract: exit status 0, the
last line is a RESULT line with every key docs/benchmarks.md names, every value numeric
(fio figures may be 'na' when limits were skipped), and the saturated run moved data.

usage: check_bench_produce_raw.py BENCH [bench args...]
"""
import subprocess
import sys

REQUIRED_NUMERIC = [
    "request_bytes", "inflight", "acks", "saturated_MBps", "saturated_requests_per_s",
    "saturated_p50_us", "saturated_p99_us", "half_rate_MBps", "half_rate_p50_us",
    "half_rate_p99_us", "half_rate_p999_us",
]
MAY_BE_NA = ["fio_write_MBps", "saturated_fio_ratio", "fio_half_rate_p99_us",
             "half_rate_p99_vs_fio"]


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    run = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=110)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        print(f"FAIL: exit status {run.returncode}", file=sys.stderr)
        return 1
    lines = run.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("RESULT "):
        print("FAIL: the last line is not a RESULT line", file=sys.stderr)
        return 1
    fields = dict(item.split("=", 1) for item in lines[-1].split()[1:])
    failures = []
    for key in REQUIRED_NUMERIC:
        try:
            float(fields[key])
        except (KeyError, ValueError):
            failures.append(f"{key}={fields.get(key)!r}")
    for key in MAY_BE_NA:
        if key not in fields:
            failures.append(f"{key} missing")
    if not failures and float(fields["saturated_MBps"]) <= 0:
        failures.append("saturated_MBps is 0")
    if failures:
        print("FAIL: " + ", ".join(failures), file=sys.stderr)
        return 1
    print("ok: RESULT line complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
