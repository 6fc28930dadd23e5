#!/usr/bin/python3
"""bench_broker_perf --sluiced: the broker it starts gets the documented server.properties and
overrides, the run completes, the broker is stopped and the temp dir removed; a broker that
exits at once is a clean failure (non-zero exit, no RESULT line, nothing left behind).

usage: test_bench_sluiced_mode.py BENCH SLUICE_MOCK_CLUSTER STANDIN
"""
import json
import os
import subprocess
import sys
import tempfile

SMALL = ["--skip-limits", "--bytes", "8M", "--burst-bytes", "2M", "--half-rate-seconds", "0.5",
         "--record-bytes", "1024"]


def main():
    bench, mock, standin = sys.argv[1:4]
    failures = []
    with tempfile.TemporaryDirectory() as parent:
        record = os.path.join(parent, "standin.json")
        work = os.path.join(parent, "work")
        os.mkdir(work)
        env = dict(os.environ, SLUICED_STANDIN_RECORD=record, SLUICED_STANDIN_MOCK=mock)
        proc = subprocess.run([bench, "--sluiced", standin, "--override", "num.partitions=1",
                               "--dir", work] + SMALL, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=100)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        last = proc.stdout.strip().splitlines()[-1:] or [""]
        if proc.returncode != 0 or not last[0].startswith("RESULT bench=broker_perf target=sluiced "):
            failures.append(f"run with stand-in: exit {proc.returncode}, last line {last[0]!r}")
        if "warning: sluiced" in proc.stderr:
            failures.append("broker did not exit cleanly on SIGTERM")
        if os.listdir(work):
            failures.append(f"left behind in --dir: {os.listdir(work)}")
        try:
            with open(record) as f:
                seen = json.load(f)
            props = seen["properties"]
            for key, want in (("node.id", "1"), ("process.roles", "broker,controller"),
                              ("controller.listener.names", "CONTROLLER")):
                if props.get(key) != want:
                    failures.append(f"server.properties {key}={props.get(key)!r}, want {want!r}")
            if seen["overrides"] != ["num.partitions=1"]:
                failures.append(f"overrides {seen['overrides']}")
        except (OSError, ValueError, KeyError) as e:
            failures.append(f"stand-in record: {e}")

        proc = subprocess.run([bench, "--sluiced", "/bin/false", "--dir", work] + SMALL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=60)
        if proc.returncode == 0 or "RESULT" in proc.stdout:
            failures.append("a broker that exits at once did not fail the bench")
        if "exited during startup" not in proc.stderr:
            failures.append(f"no startup-exit message: {proc.stderr!r}")
        if os.listdir(work):
            failures.append(f"left behind after failed start: {os.listdir(work)}")
    for failure in failures:
        print(f"test_bench_sluiced_mode: FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
