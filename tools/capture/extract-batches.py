#!/usr/bin/python3
"""Pull the record batches out of captured Produce requests.

usage: extract-batches.py --batches-dir DIR [--per-codec N] CLIENT=PCAP...

Every Produce request in each pcap is decoded (v0-v8 classic encoding, v9+
flexible encoding), each partition's records bytes are split into batches, and
every magic-v2 batch is checked (batchLength, CRC32C over bytes 21..end). Per
(client, compression) up to N batches are written exactly as sent, preferring
batches with several records and then distinct producers (an idempotent batch
carries a producer id), to DIR/<client>-<compression>-<NN>.bin, and
DIR/INDEX.tsv is rewritten (rows for other clients are kept).
"""

import argparse
import glob
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_stream  # noqa: E402
import record_batch  # noqa: E402

INDEX_HEADER = ["file", "client", "compression", "record_count", "batch_bytes", "crc"]
PRODUCE_API_KEY = 0
PRODUCE_FIRST_FLEXIBLE_VERSION = 9


class Reader:
    """Bounds-checked big-endian reader over one frame."""

    def __init__(self, data, offset):
        self.data = data
        self.offset = offset

    def take(self, count):
        if count < 0 or self.offset + count > len(self.data):
            raise ValueError("need %d bytes at %d, frame has %d" %
                             (count, self.offset, len(self.data)))
        out = self.data[self.offset:self.offset + count]
        self.offset += count
        return out

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        value = 0
        for shift in range(0, 35, 7):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise ValueError("unsigned varint longer than 5 bytes")

    def string(self, flexible):
        length = self.uvarint() - 1 if flexible else self.int16()
        return None if length < 0 else self.take(length)

    def bytes_field(self, flexible):
        length = self.uvarint() - 1 if flexible else self.int32()
        return None if length < 0 else self.take(length)

    def array_count(self, flexible):
        return self.uvarint() - 1 if flexible else self.int32()

    def skip_tagged_fields(self):
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.take(self.uvarint())


def produce_records(frame):
    """Yields (topic, partition, records bytes) from a Produce request frame."""
    version = frame.api_version
    flexible = version >= PRODUCE_FIRST_FLEXIBLE_VERSION
    r = Reader(frame.data, 12)  # size, api_key, api_version, correlation_id
    r.string(False)  # client_id stays a classic nullable string even in header v2
    if flexible:
        r.skip_tagged_fields()
    if version >= 3:
        r.string(flexible)  # transactional_id
    r.int16()  # acks
    r.int32()  # timeout_ms
    for _ in range(r.array_count(flexible)):
        topic = r.string(flexible)
        for _ in range(r.array_count(flexible)):
            partition = r.int32()
            records = r.bytes_field(flexible)
            if flexible:
                r.skip_tagged_fields()
            if records:
                yield topic.decode(errors="replace"), partition, records
        if flexible:
            r.skip_tagged_fields()
    if flexible:
        r.skip_tagged_fields()
    if r.offset != len(frame.data):
        raise ValueError("%d bytes left after Produce v%d body" %
                         (len(frame.data) - r.offset, version))


def client_batches(client, pcap):
    """Returns validated BatchInfo objects from all Produce requests, in capture order."""
    batches = []
    for exchange in kafka_stream.read_exchanges(pcap):
        if exchange.api_key != PRODUCE_API_KEY:
            continue
        for topic, partition, records in produce_records(exchange.request):
            for data in record_batch.split_batches(records):
                info = record_batch.BatchInfo(data)
                if info.magic != 2:
                    kafka_stream.warn("%s: %s[%d] uses magic %d; skipped" %
                                      (client, topic, partition, info.magic))
                    continue
                problems = info.problems()
                if problems:
                    raise SystemExit("%s: bad batch in %s[%d]: %s" %
                                     (client, topic, partition, "; ".join(problems)))
                batches.append(info)
    return batches


def select(batches, per_codec):
    by_codec = {}
    for info in batches:
        by_codec.setdefault(info.compression, []).append(info)
    chosen = {}
    for codec, members in by_codec.items():
        # Stable sort: multi-record batches first, then one batch per producer id first.
        seen_producers = set()
        ranked = []
        for position, info in enumerate(members):
            new_producer = info.producer_id not in seen_producers
            seen_producers.add(info.producer_id)
            ranked.append((info.record_count < 2, not new_producer, position, info))
        ranked.sort(key=lambda t: t[:3])
        picked = sorted(ranked[:per_codec], key=lambda t: t[2])
        chosen[codec] = [t[3] for t in picked]
    return chosen


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
    parser.add_argument("--batches-dir", required=True)
    parser.add_argument("--per-codec", type=int, default=3)
    parser.add_argument("captures", nargs="+", metavar="CLIENT=PCAP")
    args = parser.parse_args()

    pairs = kafka_stream.parse_client_pcap_args(args.captures)
    os.makedirs(args.batches_dir, exist_ok=True)
    index_path = os.path.join(args.batches_dir, "INDEX.tsv")
    clients = {client for client, _ in pairs}
    rows = [row for row in read_index(index_path) if row[1] not in clients]
    for client, pcap in pairs:
        for old in glob.glob(os.path.join(args.batches_dir, client + "-*.bin")):
            os.remove(old)
        batches = client_batches(client, pcap)
        chosen = select(batches, args.per_codec)
        for codec in sorted(chosen):
            for number, info in enumerate(chosen[codec]):
                name = "%s-%s-%02d.bin" % (client, codec, number)
                with open(os.path.join(args.batches_dir, name), "wb") as f:
                    f.write(info.data)
                rows.append([name, client, codec, str(info.record_count), str(len(info.data)),
                             "0x%08x" % info.stored_crc])
        print("%s: %d magic-v2 batches captured, kept %s" %
              (client, len(batches), ", ".join("%s=%d" % (c, len(chosen[c]))
                                              for c in sorted(chosen))))
    rows.sort(key=lambda r: r[0])
    with open(index_path, "w") as f:
        f.write("\t".join(INDEX_HEADER) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return kafka_stream.exit_status()


if __name__ == "__main__":
    sys.exit(main())
