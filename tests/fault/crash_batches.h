// What the crash child writes, shared with the parent that verifies it.
#ifndef SL_TESTS_CRASH_BATCHES_H
#define SL_TESTS_CRASH_BATCHES_H

#include "storage/log.h"
#include "tests/storage/batch_builder.h"

namespace sl_crash
{

constexpr int records_per_batch = 4;
constexpr int32_t leader_epoch = 1;
constexpr const char *topic = "crash";

inline std::vector<uint8_t> batch(uint64_t seed, int64_t index)
{
    sl_test::batch_options o;
    o.base_timestamp = 1700000000000 + index;
    return sl_test::make_seeded_batch(seed * 1000003 + (uint64_t)index, records_per_batch,
                                      40 + (size_t)((index * 97) % 500), o);
}

inline sl_storage_config engine_config()
{
    sl_storage_config c;
    sl_storage_config_default(&c);
    c.chunk_bytes = 64 * 1024;
    c.cache_bytes = 16 * 1024 * 1024;
    c.queue_depth = 64;
    c.read_ops_max = 8;
    return c;
}

inline sl_log_config log_config(bool durable_mode)
{
    sl_log_config c;
    sl_log_config_default(&c);
    if (durable_mode)
        c.flush_messages = 1;
    c.segment_bytes = 128 * 1024; // rolls happen during the run, and crashes during rolls
    c.max_message_bytes = 64 * 1024;
    c.index_interval_bytes = 1024;
    c.segment_index_bytes = 16 * 1024;
    return c;
}

} // namespace sl_crash

#endif
