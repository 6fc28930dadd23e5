"""Turn a loopback pcap of Kafka traffic into paired request/response frames.

Shared by extract-frames.py and extract-batches.py. Standard library only: the
capture is reproducible on a plain Debian install. The pcap must be written in
classic libpcap format (tshark -F pcap), not pcapng.
"""

import struct
import sys

# Kafka API key -> name, used only to name the golden files.
API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 4: "LeaderAndIsr",
    5: "StopReplica", 6: "UpdateMetadata", 7: "ControlledShutdown", 8: "OffsetCommit",
    9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
    13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
    17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
    21: "DeleteRecords", 22: "InitProducerId", 23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers",
    28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls", 31: "DeleteAcls",
    32: "DescribeConfigs", 33: "AlterConfigs", 34: "AlterReplicaLogDirs",
    35: "DescribeLogDirs", 36: "SaslAuthenticate", 37: "CreatePartitions",
    38: "CreateDelegationToken", 39: "RenewDelegationToken", 40: "ExpireDelegationToken",
    41: "DescribeDelegationToken", 42: "DeleteGroups", 43: "ElectLeaders",
    44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments",
    46: "ListPartitionReassignments", 47: "OffsetDelete", 48: "DescribeClientQuotas",
    49: "AlterClientQuotas", 50: "DescribeUserScramCredentials",
    51: "AlterUserScramCredentials", 60: "DescribeCluster", 61: "DescribeProducers",
    65: "DescribeTransactions", 66: "ListTransactions", 68: "ConsumerGroupHeartbeat",
    71: "GetTelemetrySubscriptions", 72: "PushTelemetry",
}

# Largest frame we accept; anything bigger means we lost sync with the stream.
FRAME_BYTES_MAX = 64 * 1024 * 1024

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_ACK = 0x10


def api_name(api_key):
    return API_NAMES.get(api_key, "Api%d" % api_key)


# Number of warnings so far; the extract scripts fail at the end when it is not zero, so a
# damaged capture (dropped packets, lost stream sync) never silently becomes golden data.
warning_count = 0


def warn(message):
    global warning_count
    warning_count += 1
    print("warning: " + message, file=sys.stderr)


def exit_status():
    """Returns the process exit status for an extract script: 1 if anything was warned."""
    if warning_count:
        print("%d warnings: capture is not clean" % warning_count, file=sys.stderr)
        return 1
    return 0


def _read_pcap_packets(path):
    """Yields (timestamp_s, link-layer bytes) and returns the link type via the first yield."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("%s: too short for a pcap header" % path)
    magic_le = struct.unpack_from("<I", data, 0)[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic_le in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise ValueError("%s: not a classic pcap file (pcapng? use tshark -F pcap)" % path)
    nanos = struct.unpack_from(endian + "I", data, 0)[0] == 0xA1B23C4D
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    packets = []
    offset = 24
    while offset + 16 <= len(data):
        ts_sec, ts_frac, incl_len, orig_len = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        if offset + incl_len > len(data):
            warn("%s: truncated last packet" % path)
            break
        if incl_len != orig_len:
            raise ValueError("%s: packet cut by snaplen (%d of %d bytes)" %
                             (path, incl_len, orig_len))
        ts = ts_sec + ts_frac / (1e9 if nanos else 1e6)
        packets.append((ts, data[offset:offset + incl_len]))
        offset += incl_len
    return linktype, packets


def _network_payload(linktype, frame):
    """Returns (ethertype-like protocol, network-layer bytes) or None."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = struct.unpack_from(">H", frame, 12)[0]
        offset = 14
        while ethertype == 0x8100 and len(frame) >= offset + 4:  # VLAN tag
            ethertype = struct.unpack_from(">H", frame, offset + 2)[0]
            offset += 4
        return ethertype, frame[offset:]
    if linktype == LINKTYPE_LINUX_SLL:
        return struct.unpack_from(">H", frame, 14)[0], frame[16:]
    if linktype == LINKTYPE_LINUX_SLL2:
        return struct.unpack_from(">H", frame, 0)[0], frame[20:]
    if linktype == LINKTYPE_NULL:
        family = struct.unpack_from("<I", frame, 0)[0]
        return (0x0800 if family == 2 else 0x86DD), frame[4:]
    raise ValueError("unsupported pcap link type %d" % linktype)


def _tcp_segment(linktype, frame):
    """Returns (src, sport, dst, dport, seq, flags, payload) for TCP packets, else None."""
    net = _network_payload(linktype, frame)
    if net is None:
        return None
    ethertype, ip = net
    if ethertype == 0x0800:
        if len(ip) < 20 or ip[9] != 6:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from(">H", ip, 2)[0]
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:total]
    elif ethertype == 0x86DD:
        if len(ip) < 40 or ip[6] != 6:
            return None  # extension headers never appear on loopback Kafka traffic
        payload_len = struct.unpack_from(">H", ip, 4)[0]
        src, dst = ip[8:24], ip[24:40]
        tcp = ip[40:40 + payload_len]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack_from(">HHI", tcp, 0)
    data_offset = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return bytes(src), sport, bytes(dst), dport, seq, flags, bytes(tcp[data_offset:])


class _Direction:
    """One direction of a TCP connection: segments keyed by sequence number."""

    def __init__(self):
        self.isn = None
        self.segments = []  # (seq, timestamp, payload)

    def add(self, seq, ts, payload):
        self.segments.append((seq, ts, payload))

    def reassemble(self, label):
        """Returns (bytes, [(stream_offset, timestamp)]) in sequence order."""
        if not self.segments:
            return b"", []
        base = self.isn + 1 if self.isn is not None else min(s for s, _, _ in self.segments)
        ordered = sorted(((seq - base) & 0xFFFFFFFF, ts, p) for seq, ts, p in self.segments)
        out = bytearray()
        marks = []
        for rel, ts, payload in ordered:
            end = rel + len(payload)
            if end <= len(out):
                continue  # retransmission of bytes we already have
            if rel > len(out):
                warn("%s: gap of %d bytes at stream offset %d; rest dropped" %
                     (label, rel - len(out), len(out)))
                break
            marks.append((len(out), ts))
            out += payload[len(out) - rel:]
        return bytes(out), marks


class Frame:
    """One Kafka frame, including its 4-byte size prefix."""

    def __init__(self, conn_id, direction, data, ts):
        self.conn_id = conn_id
        self.direction = direction  # "req" or "resp"
        self.data = data
        self.ts = ts
        self.correlation_id = struct.unpack_from(">i", data, 8 if direction == "req" else 4)[0]
        if direction == "req":
            self.api_key, self.api_version = struct.unpack_from(">hh", data, 4)
        else:
            self.api_key = self.api_version = None  # filled in from the paired request


class Exchange:
    """A request and its response (None for acks=0 Produce or a cut-off capture)."""

    def __init__(self, request, response):
        self.request = request
        self.response = response

    @property
    def api_key(self):
        return self.request.api_key

    @property
    def api_version(self):
        return self.request.api_version


def _split_frames(conn_id, direction, data, marks, label):
    frames = []
    offset = 0
    mark_index = 0
    while offset + 4 <= len(data):
        size = struct.unpack_from(">i", data, offset)[0]
        min_size = 8 if direction == "req" else 4
        if size < min_size or size > FRAME_BYTES_MAX:
            warn("%s: implausible frame size %d at offset %d; rest dropped" %
                 (label, size, offset))
            break
        if offset + 4 + size > len(data):
            warn("%s: last frame incomplete (%d of %d bytes)" %
                 (label, len(data) - offset - 4, size))
            break
        while mark_index + 1 < len(marks) and marks[mark_index + 1][0] <= offset:
            mark_index += 1
        ts = marks[mark_index][1] if marks else 0.0
        frames.append(Frame(conn_id, direction, data[offset:offset + 4 + size], ts))
        offset += 4 + size
    return frames


class Connection:
    """One TCP connection's frames in stream order, both directions."""

    def __init__(self, conn_id, client, server, requests, responses):
        self.conn_id = conn_id
        self.client = client  # (address bytes, port)
        self.server = server
        self.requests = requests
        self.responses = responses


def read_connections(pcap_path):
    """Parses a pcap into Connections, in the order their first packet was seen.

    The server side of each connection is the one that sent SYN+ACK, so any port
    set works without being told which ports the brokers listen on.
    """
    linktype, packets = _read_pcap_packets(pcap_path)
    conns = {}  # canonical 4-tuple -> list of connection records (ports get reused)
    order = []
    for ts, frame in packets:
        seg = _tcp_segment(linktype, frame)
        if seg is None:
            continue
        src, sport, dst, dport, seq, flags, payload = seg
        a, b = (src, sport), (dst, dport)
        key = (a, b) if a < b else (b, a)
        history = conns.setdefault(key, [])
        is_syn = bool(flags & TCP_SYN) and not flags & TCP_ACK
        if is_syn and (not history or history[-1]["dirs"][a].segments):
            conn = {"id": len(order), "client": a, "server": b,
                    "dirs": {a: _Direction(), b: _Direction()}}
            history.append(conn)
            order.append(conn)
        if not history:
            # Connection began before the capture: guess the server from the smaller port.
            server = a if sport < dport else b
            client = b if server == a else a
            conn = {"id": len(order), "client": client, "server": server,
                    "dirs": {a: _Direction(), b: _Direction()}}
            history.append(conn)
            order.append(conn)
        conn = history[-1]
        if flags & TCP_SYN and flags & TCP_ACK:
            conn["server"], conn["client"] = a, b
        direction = conn["dirs"][a]
        if flags & TCP_SYN:
            direction.isn = seq
        if payload:
            direction.add(seq, ts, payload)

    connections = []
    for conn in order:
        label = "%s conn %d" % (pcap_path, conn["id"])
        req_bytes, req_marks = conn["dirs"][conn["client"]].reassemble(label + " requests")
        resp_bytes, resp_marks = conn["dirs"][conn["server"]].reassemble(label + " responses")
        requests = _split_frames(conn["id"], "req", req_bytes, req_marks, label)
        responses = _split_frames(conn["id"], "resp", resp_bytes, resp_marks, label)
        connections.append(Connection(conn["id"], conn["client"], conn["server"], requests,
                                      responses))
    return connections


def read_exchanges(pcap_path):
    """Parses a pcap and returns all request/response exchanges ordered by request time."""
    exchanges = []
    for conn in read_connections(pcap_path):
        label = "%s conn %d" % (pcap_path, conn.conn_id)
        requests, responses = conn.requests, conn.responses
        pending = list(requests)  # responses come back in request order on one connection
        paired = {}
        for resp in responses:
            match = next((r for r in pending if r.correlation_id == resp.correlation_id), None)
            if match is None:
                warn("%s: response with unknown correlation id %d" %
                     (label, resp.correlation_id))
                continue
            pending.remove(match)
            resp.api_key, resp.api_version = match.api_key, match.api_version
            paired[id(match)] = resp
        for req in requests:
            exchanges.append(Exchange(req, paired.get(id(req))))
    exchanges.sort(key=lambda e: (e.request.ts, e.request.conn_id))
    return exchanges


def parse_client_pcap_args(args):
    """Turns ["client=path.pcap", ...] into [(client, path)]."""
    pairs = []
    for arg in args:
        client, sep, path = arg.partition("=")
        if not sep or not client or not path:
            raise SystemExit("bad argument %r: want CLIENT=PCAP" % arg)
        pairs.append((client, path))
    return pairs
