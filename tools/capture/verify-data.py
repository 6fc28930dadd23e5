#!/usr/bin/python3
"""Check that the committed golden frames and record batches match their indexes.

usage: verify-data.py DATA_DIR          check DATA_DIR/golden and DATA_DIR/batches
       verify-data.py --self-test DATA_DIR
                                        copy the data, damage it in several ways, and
                                        check that every damage is detected

Golden frames: every INDEX.tsv row names an existing file whose 4-byte size prefix
equals its length minus 4 and whose header agrees with the row (api_key, api_version
and correlation_id for requests, correlation_id for responses); every .bin file is
indexed. Batches: every row names an existing file whose size, magic (2), batchLength,
CRC32C, record count and compression agree with the row and the bytes; every .bin
file is indexed. Exits 0 when consistent, 1 with one line per problem otherwise.
"""

import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import record_batch  # noqa: E402

GOLDEN_HEADER = ["client", "file", "direction", "api_key", "api_version", "correlation_id"]
BATCH_HEADER = ["file", "client", "compression", "record_count", "batch_bytes", "crc"]


def read_tsv(path, header, problems):
    if not os.path.isfile(path):
        problems.append("%s: missing" % path)
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0].split("\t") != header:
        problems.append("%s: header is not %s" % (path, "\\t".join(header)))
        return []
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            problems.append("%s:%d: %d fields, expected %d" %
                            (path, number, len(fields), len(header)))
            continue
        rows.append(dict(zip(header, fields)))
    if not rows:
        problems.append("%s: no rows" % path)
    return rows


def listed_bin_files(top):
    found = set()
    for root, _, files in os.walk(top):
        for name in files:
            if name.endswith(".bin"):
                found.add(os.path.relpath(os.path.join(root, name), top))
    return found


def check_golden(golden_dir, problems):
    rows = read_tsv(os.path.join(golden_dir, "INDEX.tsv"), GOLDEN_HEADER, problems)
    indexed = set()
    for row in rows:
        rel = row["file"]
        indexed.add(rel)
        path = os.path.join(golden_dir, rel)
        if not rel.startswith(row["client"] + "/"):
            problems.append("%s: not under client dir %s" % (rel, row["client"]))
        if not os.path.isfile(path):
            problems.append("%s: missing" % rel)
            continue
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < 8:
            problems.append("%s: only %d bytes" % (rel, len(data)))
            continue
        size = struct.unpack_from(">i", data, 0)[0]
        if size + 4 != len(data):
            problems.append("%s: size prefix %d but %d bytes follow" % (rel, size, len(data) - 4))
        direction = row["direction"]
        if direction == "req":
            if len(data) < 12:
                problems.append("%s: request shorter than its header" % rel)
                continue
            api_key, api_version, correlation_id = struct.unpack_from(">hhi", data, 4)
            if (str(api_key), str(api_version)) != (row["api_key"], row["api_version"]):
                problems.append("%s: header says api %d v%d, index says %s v%s" %
                                (rel, api_key, api_version, row["api_key"], row["api_version"]))
        elif direction == "resp":
            correlation_id = struct.unpack_from(">i", data, 4)[0]
        else:
            problems.append("%s: direction %r" % (rel, direction))
            continue
        if str(correlation_id) != row["correlation_id"]:
            problems.append("%s: correlation id %d, index says %s" %
                            (rel, correlation_id, row["correlation_id"]))
        expected_suffix = "-v%s-%s.bin" % (row["api_version"], direction)
        if not rel.endswith(expected_suffix):
            problems.append("%s: name does not end in %s" % (rel, expected_suffix))
    for rel in sorted(listed_bin_files(golden_dir) - indexed):
        problems.append("%s: not in INDEX.tsv" % rel)
    return len(rows)


def check_batches(batches_dir, problems):
    rows = read_tsv(os.path.join(batches_dir, "INDEX.tsv"), BATCH_HEADER, problems)
    indexed = set()
    for row in rows:
        rel = row["file"]
        indexed.add(rel)
        path = os.path.join(batches_dir, rel)
        if not os.path.isfile(path):
            problems.append("%s: missing" % rel)
            continue
        with open(path, "rb") as f:
            data = f.read()
        if str(len(data)) != row["batch_bytes"]:
            problems.append("%s: %d bytes, index says %s" % (rel, len(data), row["batch_bytes"]))
        info = record_batch.BatchInfo(data) if len(data) >= record_batch.BATCH_HEADER_BYTES \
            else None
        if info is None:
            problems.append("%s: shorter than a batch header" % rel)
            continue
        problems.extend("%s: %s" % (rel, p) for p in info.problems())
        if "0x%08x" % info.stored_crc != row["crc"]:
            problems.append("%s: crc 0x%08x, index says %s" % (rel, info.stored_crc, row["crc"]))
        if str(info.record_count) != row["record_count"]:
            problems.append("%s: %d records, index says %s" %
                            (rel, info.record_count, row["record_count"]))
        if info.compression != row["compression"]:
            problems.append("%s: compression %s, index says %s" %
                            (rel, info.compression, row["compression"]))
        if not rel.startswith("%s-%s-" % (row["client"], row["compression"])):
            problems.append("%s: name does not match client/compression" % rel)
    for rel in sorted(listed_bin_files(batches_dir) - indexed):
        problems.append("%s: not in INDEX.tsv" % rel)
    return len(rows)


def verify(data_dir):
    problems = []
    frames = check_golden(os.path.join(data_dir, "golden"), problems)
    batches = check_batches(os.path.join(data_dir, "batches"), problems)
    return frames, batches, problems


def first_file(directory, suffix):
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            if name.endswith(suffix):
                return os.path.join(root, name)
    raise SystemExit("self-test: no %s file under %s" % (suffix, directory))


def truncate_by_one(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-1])


def flip_last_byte(path):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0x01
    with open(path, "wb") as f:
        f.write(bytes(data))


def self_test(data_dir):
    """Each damage must turn a clean verify into a failing one."""
    damages = [
        ("truncated golden frame", "golden", ".bin", truncate_by_one),
        ("missing golden frame", "golden", ".bin", os.remove),
        ("truncated batch", "batches", ".bin", truncate_by_one),
        ("bit flip in batch (crc)", "batches", ".bin", flip_last_byte),
        ("missing batch", "batches", ".bin", os.remove),
        ("missing golden index", "golden", "INDEX.tsv", os.remove),
    ]
    _, _, problems = verify(data_dir)
    if problems:
        print("self-test: data is not clean to begin with:\n  " + "\n  ".join(problems))
        return 1
    failures = 0
    for label, sub, suffix, damage in damages:
        with tempfile.TemporaryDirectory(prefix="sluice-verify-") as tmp:
            copy = os.path.join(tmp, "data")
            os.makedirs(copy)
            for part in ("golden", "batches"):
                shutil.copytree(os.path.join(data_dir, part), os.path.join(copy, part))
            damage(first_file(os.path.join(copy, sub), suffix))
            _, _, problems = verify(copy)
            if problems:
                print("self-test: %s detected: %s" % (label, problems[0]))
            else:
                print("self-test: %s NOT detected" % label)
                failures += 1
    return 1 if failures else 0


def main():
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(args) == 2 and args[0] == "--self-test":
        return self_test(args[1])
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    frames, batches, problems = verify(args[0])
    for problem in problems:
        print(problem)
    if problems:
        print("FAIL: %d problems in %s" % (len(problems), args[0]))
        return 1
    print("OK: %d golden frames, %d record batches consistent" % (frames, batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
