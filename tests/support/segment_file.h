// Reads record batches straight from a broker's segment files (Kafka layout, see
// docs/architecture.md "Storage format"), so tests can check what is on disk, e.g. that
// batches keep the producer's compression (invariant 3). Any thread.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace sl_test
{

struct stored_batch {
    int64_t base_offset = -1;
    int compression = -1; // attributes bits 0-2: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
    int32_t record_count = -1;
    bool crc_ok = false; // stored CRC-32C matches bytes 21..end
};

// Appends the magic-v2 batches of one segment file in file order. Stops at the end of
// the file or at a zero batch length (padding). Returns false with *error on a short or
// non-magic-v2 batch.
bool read_segment_batches(const std::string &path, std::vector<stored_batch> *out,
                          std::string *error);

// The sorted "<20 digits>.log" files of <data_dir>/<topic>-<partition>/; empty if none.
std::vector<std::string> list_segment_files(const std::string &data_dir, const std::string &topic,
                                            int partition);

} // namespace sl_test
