"""Magic-v2 record batch facts shared by extract-batches.py and verify-data.py.

Standard library only. Offsets follow the Kafka record batch v2 layout:
baseOffset int64 @0, batchLength int32 @8, partitionLeaderEpoch int32 @12,
magic int8 @16, crc uint32 @17, attributes int16 @21, lastOffsetDelta int32 @23,
baseTimestamp int64 @27, maxTimestamp int64 @35, producerId int64 @43,
producerEpoch int16 @51, baseSequence int32 @53, recordCount int32 @57, records @61.
"""

import struct

BATCH_HEADER_BYTES = 61
# The batch length field counts the bytes after itself.
BATCH_LENGTH_PREFIX_BYTES = 12
CRC_COVERED_FROM = 21
COMPRESSION_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def _make_crc32c_table():
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class BatchInfo:
    def __init__(self, data):
        self.data = data
        self.base_offset, self.batch_length = struct.unpack_from(">qi", data, 0)
        self.magic = data[16]
        self.stored_crc = struct.unpack_from(">I", data, 17)[0]
        self.attributes = struct.unpack_from(">h", data, 21)[0]
        self.producer_id = struct.unpack_from(">q", data, 43)[0]
        self.record_count = struct.unpack_from(">i", data, 57)[0]

    @property
    def compression(self):
        return COMPRESSION_NAMES.get(self.attributes & 0x7, "codec%d" % (self.attributes & 0x7))

    def computed_crc(self):
        return crc32c(self.data[CRC_COVERED_FROM:])

    def problems(self):
        """Returns a list of reasons this is not a valid, complete magic-v2 batch."""
        out = []
        if len(self.data) < BATCH_HEADER_BYTES:
            return ["only %d bytes, header needs %d" % (len(self.data), BATCH_HEADER_BYTES)]
        if self.magic != 2:
            out.append("magic %d, expected 2" % self.magic)
        if BATCH_LENGTH_PREFIX_BYTES + self.batch_length != len(self.data):
            out.append("batchLength %d does not match %d bytes" %
                       (self.batch_length, len(self.data)))
        elif self.computed_crc() != self.stored_crc:
            out.append("crc32c 0x%08x, header says 0x%08x" %
                       (self.computed_crc(), self.stored_crc))
        return out


def split_batches(records):
    """Splits a Produce partition's records bytes into per-batch byte strings.

    Raises ValueError when the bytes do not tile exactly into batches.
    """
    batches = []
    offset = 0
    while offset < len(records):
        if offset + BATCH_LENGTH_PREFIX_BYTES > len(records):
            raise ValueError("trailing %d bytes are not a batch" % (len(records) - offset))
        length = struct.unpack_from(">i", records, offset + 8)[0]
        end = offset + BATCH_LENGTH_PREFIX_BYTES + length
        if length <= 0 or end > len(records):
            raise ValueError("batch at %d claims %d bytes, %d left" %
                             (offset, length, len(records) - offset))
        batches.append(records[offset:end])
        offset = end
    return batches
