// Seeded random operations against a reference model: appends, polls, reads (some kept
// pinned), timestamp lookups with unordered timestamps, reopen, truncation, log start
// moves. A tiny cache forces evictions and cold reads. SL_MODEL_SEED replays a run.
#include <gtest/gtest.h>

#include <random>

#include "tests/storage/storage_fixture.h"

using namespace sl_test;

namespace
{

struct model_batch {
    int64_t base;
    int64_t last;
    int64_t base_ts; // record i has base_ts + i
    int64_t max_ts;
    std::vector<uint8_t> bytes;
};

class LogModel
{
  public:
    std::vector<model_batch> batches;
    int64_t start = 0;

    int64_t end() const
    {
        return batches.empty() ? start : std::max(start, batches.back().last + 1);
    }
    // Index of the batch containing offset (or the first after it).
    size_t find(int64_t offset) const
    {
        size_t i = 0;
        while (i < batches.size() && batches[i].last < offset)
            i++;
        return i;
    }
};

TEST(LogModelTest, RandomOperationsMatchTheModel)
{
    uint64_t seed = (uint64_t)time(nullptr);
    if (const char *s = getenv("SL_MODEL_SEED"))
        seed = strtoull(s, nullptr, 10);
    printf("model test seed %llu (SL_MODEL_SEED replays)\n", (unsigned long long)seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    temp_dir dir;
    sl_storage_config ec = small_engine_config(16 * 1024, 10 * 16 * 1024);
    sl_storage *st = nullptr;
    ASSERT_EQ(sl_storage_create(&ec, &st), SL_STORAGE_OK);
    sl_log_config lc = small_log_config();
    lc.segment_bytes = 48 * 1024;
    lc.max_message_bytes = 12 * 1024;
    lc.index_interval_bytes = 512;
    lc.segment_index_bytes = 4096;
    if (rng() % 2)
        lc.flush_messages = 1 + (int64_t)(rng() % 5);
    sl_log *log = nullptr;
    ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "model", 0, &lc, nullptr, 0, &log, nullptr),
              SL_STORAGE_OK);
    LogModel m;
    std::vector<sl_log_read_result> pins;
    uint64_t batch_seed = 0;

    for (int step = 0; step < 600; step++) {
        SCOPED_TRACE("step " + std::to_string(step));
        unsigned op = (unsigned)(rng() % 100);
        if (op < 45) { // append 1..3 batches in one call
            std::vector<uint8_t> buf;
            std::vector<model_batch> added;
            int n = 1 + (int)(rng() % 3);
            int64_t offset = m.end();
            for (int i = 0; i < n; i++) {
                batch_options o;
                o.base_timestamp = 1000000 + (int64_t)(rng() % 100000); // unordered on purpose
                int records = 1 + (int)(rng() % 4);
                auto b = make_seeded_batch(batch_seed++, records, 10 + rng() % 2500, o);
                sl_batch_info info;
                sl_batch_parse_header(b.data(), b.size(), &info);
                added.push_back({offset, offset + records - 1, o.base_timestamp, info.max_timestamp,
                                 as_stored(b, offset, 3)});
                offset += records;
                buf.insert(buf.end(), b.begin(), b.end());
            }
            sl_log_append_result r;
            sl_storage_err err = sl_log_append(log, buf.data(), buf.size(), nullptr, 0, 3, 0, &r);
            if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) {
                drain(st);
                err = sl_log_append(log, buf.data(), buf.size(), nullptr, 0, 3, 0, &r);
            }
            if (err == SL_STORAGE_ERR_NO_BUFFER) { // all chunks pinned by held reads
                EXPECT_FALSE(pins.empty());
                continue;
            }
            ASSERT_EQ(err, SL_STORAGE_OK) << sl_storage_strerror(err);
            ASSERT_EQ(r.base_offset, m.end());
            m.batches.insert(m.batches.end(), added.begin(), added.end());
        } else if (op < 55) {
            sl_storage_poll(st, 0);
        } else if (op < 80) { // read, sometimes keep it pinned
            int64_t offset = m.start + (int64_t)(rng() % (uint64_t)(m.end() - m.start + 1));
            uint32_t max_bytes = (uint32_t)(rng() % 20000);
            sl_log_read_result rr;
            sl_storage_err err = read_blocking(st, log, offset, max_bytes, &rr);
            if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) {
                drain(st); // unwritten appends hold the pool
                err = read_blocking(st, log, offset, max_bytes, &rr);
            }
            if ((err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) && !pins.empty())
                continue;
            ASSERT_EQ(err, SL_STORAGE_OK) << sl_storage_strerror(err) << " offset " << offset;
            size_t i = m.find(offset);
            std::vector<uint8_t> want;
            uint32_t batches = 0;
            for (; i < m.batches.size(); i++) {
                if (batches > 0 && want.size() + m.batches[i].bytes.size() > max_bytes)
                    break;
                want.insert(want.end(), m.batches[i].bytes.begin(), m.batches[i].bytes.end());
                batches++;
            }
            std::vector<uint8_t> got = flatten(rr);
            // A read may stop early (slice limit or a cold chunk), never return other bytes.
            ASSERT_LE(got.size(), want.size());
            ASSERT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
            if (offset < m.end()) {
                ASSERT_GE(rr.batch_count, 1u);
            }
            if (pins.size() < 3 && rng() % 3 == 0)
                pins.push_back(rr);
            else
                sl_log_read_release(st, &rr);
        } else if (op < 85) { // timestamp lookup
            int64_t ts = 1000000 + (int64_t)(rng() % 110000);
            int64_t off = -1, bts = -1;
            sl_storage_err err = offset_for_time_blocking(st, log, ts, &off, &bts);
            // NO_BUFFER, or BUSY after too many loads (the walk's own chunks evicting each
            // other): backpressure from a cache mostly pinned by held reads.
            if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) {
                drain(st);
                err = offset_for_time_blocking(st, log, ts, &off, &bts);
            }
            if ((err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) && !pins.empty())
                continue;
            int64_t want = -1;
            for (auto &b : m.batches) {
                if (b.last >= m.start && b.max_ts >= ts) {
                    int64_t record = b.base + std::max<int64_t>(0, ts - b.base_ts);
                    want = std::max(record, m.start);
                    break;
                }
            }
            if (want < 0) {
                EXPECT_EQ(err, SL_STORAGE_ERR_NOT_FOUND);
            } else {
                EXPECT_EQ(err, SL_STORAGE_OK);
                EXPECT_EQ(off, want) << "ts " << ts;
            }
        } else if (op < 90) { // release pins
            for (auto &p : pins)
                sl_log_read_release(st, &p);
            pins.clear();
        } else if (op < 94) { // clean reopen
            for (auto &p : pins)
                sl_log_read_release(st, &p);
            pins.clear();
            ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
            ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "model", 0, &lc, nullptr, 0, &log, nullptr),
                      SL_STORAGE_OK);
            ASSERT_EQ(sl_log_end_offset(log), m.end());
            ASSERT_EQ(sl_log_start_offset(log), m.start);
        } else if (op < 97 && !m.batches.empty()) { // truncate at a batch boundary
            size_t keep = m.find(m.start) + rng() % (m.batches.size() - m.find(m.start) + 1);
            int64_t to = keep < m.batches.size() ? m.batches[keep].base : m.end();
            to = std::max(to, m.start);
            ASSERT_EQ(sl_log_truncate_to(log, to), SL_STORAGE_OK);
            while (!m.batches.empty() && m.batches.back().base >= to)
                m.batches.pop_back();
            ASSERT_EQ(sl_log_end_offset(log), m.end());
        } else { // DeleteRecords
            int64_t to = m.start + (int64_t)(rng() % (uint64_t)(m.end() - m.start + 1));
            ASSERT_EQ(sl_log_advance_start_offset(log, to, nullptr), SL_STORAGE_OK);
            m.start = std::max(m.start, to);
            ASSERT_EQ(sl_log_start_offset(log), m.start);
        }
        ASSERT_EQ(sl_log_end_offset(log), m.end());
    }
    for (auto &p : pins)
        sl_log_read_release(st, &p);
    drain(st);
    std::vector<uint8_t> want;
    for (size_t i = m.find(m.start); i < m.batches.size(); i++)
        want.insert(want.end(), m.batches[i].bytes.begin(), m.batches[i].bytes.end());
    EXPECT_EQ(read_all(st, log, m.start), want);
    const sl_storage_stats *stats = sl_storage_get_stats(st);
    printf("model test: %zu batches, %u segments, cache hits %llu misses %llu evictions %llu "
           "pinned skips %llu\n",
           m.batches.size(), sl_log_segment_count(log), (unsigned long long)stats->cache_hits,
           (unsigned long long)stats->cache_misses, (unsigned long long)stats->cache_evictions,
           (unsigned long long)stats->cache_pinned_skips);
    EXPECT_GT(stats->cache_misses, 0u); // the cache is small enough to need disk reads
    EXPECT_EQ(sl_log_close(log), SL_STORAGE_OK);
    sl_storage_destroy(st);
}

} // namespace
