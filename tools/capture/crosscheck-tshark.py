#!/usr/bin/python3
"""Cross-check kafka_stream's pcap parsing against tshark, an independent implementation.

usage: crosscheck-tshark.py CLIENT=PCAP...

For each pcap: (1) every TCP connection's client and server byte streams, as
reassembled by tshark (-z follow,tcp,raw), must equal the concatenation of the
frames kafka_stream split them into; (2) tshark's Kafka dissector, told that the
broker ports speak Kafka, must count the same requests per (api_key, api_version).
Exits 0 when both agree for every pcap, 1 otherwise. Needs tshark.
"""

import collections
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_stream  # noqa: E402

TSHARK_TIMEOUT_S = 120


def tshark(args):
    return subprocess.run(["tshark"] + args, check=True, capture_output=True, text=True,
                          timeout=TSHARK_TIMEOUT_S).stdout


def tshark_streams(pcap):
    """Returns {(client_port, server_port): (client bytes, server bytes)} per tshark."""
    index_lines = tshark(["-r", pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
                          "-T", "fields", "-e", "tcp.stream"]).split()
    streams = {}
    for stream in sorted({int(x) for x in index_lines}):
        out = tshark(["-r", pcap, "-q", "-z", "follow,tcp,raw,%d" % stream])
        nodes = [line.split()[-1] for line in out.splitlines() if line.startswith("Node ")]
        if len(nodes) != 2:
            raise SystemExit("%s: cannot read tshark follow output for stream %d" %
                             (pcap, stream))
        # Node 0 is the side that sent the first packet, i.e. the client (SYN).
        client_port, server_port = (int(n.rsplit(":", 1)[1]) for n in nodes)
        sent = {True: bytearray(), False: bytearray()}
        for line in out.splitlines():
            if not line or line.startswith(("=", "Follow:", "Filter:", "Node ")):
                continue
            from_server = line.startswith("\t")
            sent[from_server] += bytes.fromhex(line.strip())
        streams[(client_port, server_port)] = (bytes(sent[False]), bytes(sent[True]))
    return streams


def tshark_request_counts(pcap, server_ports):
    decode_as = []
    for port in sorted(server_ports):
        decode_as += ["-d", "tcp.port==%d,kafka" % port]
    out = tshark(["-r", pcap] + decode_as + ["-Y", "kafka", "-T", "fields", "-E", "occurrence=a",
                                            "-e", "tcp.dstport", "-e", "kafka.api_key",
                                            "-e", "kafka.api_version"])
    counts = collections.Counter()
    for line in out.splitlines():
        dport, keys, versions = line.split("\t")
        if int(dport) in server_ports:  # responses carry no api_key of their own
            for key, version in zip(keys.split(","), versions.split(",")):
                counts[(int(key), int(version))] += 1
    return counts


def check(client, pcap):
    problems = []
    connections = kafka_stream.read_connections(pcap)
    theirs = tshark_streams(pcap)
    server_ports = set()
    for conn in connections:
        key = (conn.client[1], conn.server[1])
        server_ports.add(conn.server[1])
        if key not in theirs:
            problems.append("connection %s not found by tshark" % (key,))
            continue
        client_bytes, server_bytes = theirs.pop(key)
        if b"".join(f.data for f in conn.requests) != client_bytes:
            problems.append("connection %s: request stream differs from tshark's" % (key,))
        if b"".join(f.data for f in conn.responses) != server_bytes:
            problems.append("connection %s: response stream differs from tshark's" % (key,))
    for key in theirs:
        problems.append("tshark found connection %s that kafka_stream did not" % (key,))
    ours = collections.Counter((f.api_key, f.api_version)
                               for conn in connections for f in conn.requests)
    dissector = tshark_request_counts(pcap, server_ports)
    if ours != dissector:
        problems.append("request counts differ: ours %s, tshark %s" %
                        (sorted(ours.items()), sorted(dissector.items())))
    for problem in problems:
        print("%s: %s" % (client, problem))
    print("%s: %d connections, %d requests, %d responses: %s" %
          (client, len(connections), sum(ours.values()),
           sum(len(c.responses) for c in connections), "FAIL" if problems else "agree with tshark"))
    return not problems


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) == 2 else 2
    results = [check(client, pcap)
               for client, pcap in kafka_stream.parse_client_pcap_args(sys.argv[1:])]
    return 0 if all(results) and kafka_stream.exit_status() == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
