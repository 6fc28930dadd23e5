#!/usr/bin/python3
"""A stand-in for `sluiced`, used only to test bench_broker_perf's --sluiced mode while the real
broker does not exist: it checks the generated server.properties and arguments, records them
as JSON in $SLUICED_STANDIN_RECORD, starts librdkafka's mock cluster ($SLUICED_STANDIN_MOCK,
the sluice-mock-cluster program) and forwards the PLAINTEXT listener to it. Clients reach the
mock's own port after bootstrap (it is what the mock's Metadata advertises). Exits 0 on SIGTERM.

usage: sluiced_standin.py SERVER_PROPERTIES [--override KEY=VALUE]...
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading


def parse_properties(path):
    props = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                props[key.strip()] = value.strip()
    return props


def forward(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    props = parse_properties(sys.argv[1])
    overrides = [sys.argv[i + 1] for i in range(2, len(sys.argv) - 1) if sys.argv[i] == "--override"]
    match = re.fullmatch(r"PLAINTEXT://127\.0\.0\.1:(\d+),CONTROLLER://127\.0\.0\.1:(\d+)",
                         props.get("listeners", ""))
    if not match or props.get("controller.quorum.voters") != f"1@127.0.0.1:{match.group(2)}":
        print(f"sluiced_standin: bad listeners/voters in {props}", file=sys.stderr)
        return 2
    if not os.path.isdir(props.get("log.dirs", "")):
        print(f"sluiced_standin: log.dirs {props.get('log.dirs')} is not a directory",
              file=sys.stderr)
        return 2
    with open(os.environ["SLUICED_STANDIN_RECORD"], "w") as f:
        json.dump({"properties": props, "overrides": overrides}, f)
    mock = subprocess.Popen([os.environ["SLUICED_STANDIN_MOCK"], "--brokers", "1"],
                            stdout=subprocess.PIPE, text=True)
    host, port = mock.stdout.readline().strip().split(",")[0].rsplit(":", 1)

    def stop(signo, frame):
        mock.terminate()
        mock.wait()
        print("sluiced_standin: SIGTERM, exiting", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(match.group(1))))
    server.listen(16)
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=forward, args=(client, upstream), daemon=True).start()
        threading.Thread(target=forward, args=(upstream, client), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
