#!/usr/bin/env python3
"""Runs bench_broker_perf (tiny sizes, in-process mock target) and checks its output contract:
exit status 0, the last line is a RESULT line with every key the lead and docs/benchmarks.md
rely on, and every value is a number (ratios may be 'na' only when limits were skipped).

usage: check_bench_broker_perf.py BENCH [bench args...]
"""
import re
import subprocess
import sys

REQUIRED_NUMERIC = [
    "produce_1k_acks1_MBps", "produce_1k_acks1_records_per_s", "produce_1k_acks1_p99_us",
    "produce_100b_acks1_MBps", "produce_100b_acksall_MBps", "produce_1k_acksall_MBps",
    "p50_us", "p99_us", "p999_us", "p50_half_rate_us", "p99_half_rate_us",
    "p999_half_rate_us", "half_rate_records_per_s", "half_rate_achieved_records_per_s",
    "half_rate_queue_full_waits", "consume_MBps", "consume_bytes",
    "mock_burst_4m_MBps", "burst_4m_MBps", "burst_vs_mock_ratio", "sustained_bytes",
    "burst_bytes", "burst_pairs", "burst_vs_mock_ratio_min", "burst_vs_mock_ratio_max",
]
RATIOS_NEED_LIMITS = [
    "produce_1k_acks1_fio_ratio", "produce_100b_acks1_fio_ratio", "consume_iperf3_ratio",
    "fio_write_MBps", "iperf3_loopback_Gbps", "burst_4m_fio_ratio",
]


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=110)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    failures = []
    if proc.returncode != 0:
        failures.append(f"exit status {proc.returncode}")
    if not lines or not lines[-1].startswith("RESULT bench=broker_perf "):
        failures.append("last line is not 'RESULT bench=broker_perf ...'")
        lines = ["RESULT"]
    fields = dict(item.split("=", 1) for item in lines[-1].split()[1:] if "=" in item)
    number = re.compile(r"^[0-9]+(\.[0-9]+)?$")
    for key in REQUIRED_NUMERIC:
        if not number.match(fields.get(key, "")):
            failures.append(f"{key}={fields.get(key)!r} is not a number")
    for key in RATIOS_NEED_LIMITS:
        if key not in fields:
            failures.append(f"{key} missing")
    for key in ("consume_bytes", "produce_1k_acks1_MBps", "p99_half_rate_us"):
        if number.match(fields.get(key, "")) and float(fields[key]) <= 0:
            failures.append(f"{key} is zero")
    # The burst ratio is the median of the pairs: inside [min, max], one line per pair.
    if all(number.match(fields.get(k, "")) for k in
           ("burst_vs_mock_ratio", "burst_vs_mock_ratio_min", "burst_vs_mock_ratio_max",
            "burst_pairs")):
        low, mid, high = (float(fields[k]) for k in
                          ("burst_vs_mock_ratio_min", "burst_vs_mock_ratio", "burst_vs_mock_ratio_max"))
        if not low <= mid <= high:
            failures.append(f"burst ratio median {mid} outside [{low}, {high}]")
        pairs = sum(1 for line in lines if line.startswith("burst pair "))
        if pairs != int(fields["burst_pairs"]):
            failures.append(f"{pairs} 'burst pair' lines for burst_pairs={fields['burst_pairs']}")
    for failure in failures:
        print(f"check_bench_broker_perf: FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
