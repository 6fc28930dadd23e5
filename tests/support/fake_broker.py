#!/usr/bin/python3
"""Stand-in for sluiced in the harness self-test (test_harness.cc), not a broker.

usage: fake_broker.py path/to/server.properties

Reads the PLAINTEXT listener from the properties, listens there, and answers every
request frame with an empty ApiVersions v0 response (error 0) carrying the request's
correlation id: just enough for broker_process's readiness probe. Exits 0 on SIGTERM,
unless FAKE_BROKER_IGNORE_SIGTERM=1 (to test the harness's SIGKILL fallback).
"""
import os
import signal
import socket
import struct
import sys
import threading


def listener_port(properties_path):
    with open(properties_path) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key == "listeners":
                for listener in value.split(","):
                    if listener.startswith("PLAINTEXT://"):
                        return int(listener.rsplit(":", 1)[1])
    raise SystemExit("fake_broker: no PLAINTEXT listener in " + properties_path)


def serve(conn):
    with conn:
        while True:
            head = conn.recv(4, socket.MSG_WAITALL)
            if len(head) < 4:
                return
            (size,) = struct.unpack(">i", head)
            body = conn.recv(size, socket.MSG_WAITALL)
            if len(body) < size or size < 8:
                return
            (correlation_id,) = struct.unpack(">i", body[4:8])
            reply = struct.pack(">ihi", correlation_id, 0, 0)
            conn.sendall(struct.pack(">i", len(reply)) + reply)


def main():
    if os.environ.get("FAKE_BROKER_IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = listener_port(sys.argv[1])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    print(f"fake_broker: listening on 127.0.0.1:{port}", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
