#!/usr/bin/python3
"""Split captured Kafka TCP streams into golden frame files.

usage: extract-frames.py --golden-dir DIR [--marker STR]... [--per-group N] CLIENT=PCAP...

For each client, every request/response exchange found in its pcap is grouped by
(api_key, api_version, variety) where variety is the first --marker string found
in the request bytes (e.g. the topic name that tells which compression codec a
Produce or Fetch carries). At most N exchanges per group are kept, in this
priority: the first answered, the largest answered, the first and the largest
unanswered (acks=0 Produce, a Fetch cut off by the client's exit), the last. So
the set shows the first form, the form with the most data, and the steady state. Each kept frame is written with its 4-byte size prefix to
DIR/<client>/<NNNN>-<ApiName>-v<ver>-<req|resp>.bin, where NNNN is the exchange's
position in the capture, shared by a request and its response.

DIR/INDEX.tsv is rewritten: rows for the clients given here are replaced, rows
for other clients are kept.
"""

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_stream  # noqa: E402

INDEX_HEADER = ["client", "file", "direction", "api_key", "api_version", "correlation_id"]


def variety_of(exchange, markers):
    data = exchange.request.data
    for marker in markers:
        if marker.encode() in data:
            return marker
    return ""


def exchange_bytes(exchange):
    return len(exchange.request.data) + (len(exchange.response.data) if exchange.response else 0)


def select_exchanges(exchanges, markers, per_group):
    groups = {}
    for position, exchange in enumerate(exchanges):
        key = (exchange.api_key, exchange.api_version, variety_of(exchange, markers))
        groups.setdefault(key, []).append((position, exchange))
    chosen = []
    for members in groups.values():
        # Both directions should be represented, but an unanswered request (acks=0
        # Produce) is a golden request too.
        answered = [m for m in members if m[1].response is not None]
        unanswered = [m for m in members if m[1].response is None]
        picks = []
        if answered:
            picks += [answered[0], max(answered, key=lambda m: exchange_bytes(m[1]))]
        if unanswered:
            picks += [unanswered[0], max(unanswered, key=lambda m: exchange_bytes(m[1]))]
        picks.append(members[-1])
        seen = set()
        for position, exchange in picks:
            if position not in seen and len(seen) < per_group:
                seen.add(position)
                chosen.append((position, exchange))
    chosen.sort(key=lambda m: m[0])
    return chosen


def write_client(golden_dir, client, exchanges, markers, per_group):
    client_dir = os.path.join(golden_dir, client)
    if os.path.isdir(client_dir):
        shutil.rmtree(client_dir)
    os.makedirs(client_dir)
    rows = []
    for position, exchange in select_exchanges(exchanges, markers, per_group):
        for frame in (exchange.request, exchange.response):
            if frame is None:
                continue
            name = "%04d-%s-v%d-%s.bin" % (position, kafka_stream.api_name(exchange.api_key),
                                           exchange.api_version, frame.direction)
            with open(os.path.join(client_dir, name), "wb") as f:
                f.write(frame.data)
            rows.append([client, client + "/" + name, frame.direction, str(exchange.api_key),
                         str(exchange.api_version), str(frame.correlation_id)])
    return rows


def read_index(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0].split("\t") != INDEX_HEADER:
        raise SystemExit("%s: unexpected header" % path)
    return [line.split("\t") for line in lines[1:] if line]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--golden-dir", required=True)
    parser.add_argument("--marker", action="append", default=[],
                        help="string whose presence in a request splits its group")
    parser.add_argument("--per-group", type=int, default=3)
    parser.add_argument("captures", nargs="+", metavar="CLIENT=PCAP")
    args = parser.parse_args()

    pairs = kafka_stream.parse_client_pcap_args(args.captures)
    os.makedirs(args.golden_dir, exist_ok=True)
    index_path = os.path.join(args.golden_dir, "INDEX.tsv")
    clients = {client for client, _ in pairs}
    rows = [row for row in read_index(index_path) if row[0] not in clients]
    for client, pcap in pairs:
        exchanges = kafka_stream.read_exchanges(pcap)
        if not exchanges:
            raise SystemExit("%s: no Kafka requests found" % pcap)
        client_rows = write_client(args.golden_dir, client, exchanges, args.marker,
                                   args.per_group)
        rows.extend(client_rows)
        print("%s: %d exchanges captured, %d frames kept" %
              (client, len(exchanges), len(client_rows)))
    rows.sort(key=lambda r: (r[0], r[1]))
    with open(index_path, "w") as f:
        f.write("\t".join(INDEX_HEADER) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return kafka_stream.exit_status()


if __name__ == "__main__":
    sys.exit(main())
