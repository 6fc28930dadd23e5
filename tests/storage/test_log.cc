// Partition log behaviour against real files: round trips, offsets, durability points,
// rolls, index and time lookups, cold reads, pinning, retention, truncation, reopen.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "common/sl_clock.h"
#include "common/sl_kernel_version.h"
#include "tests/storage/storage_fixture.h"

using namespace sl_test;

namespace
{

struct durable_log {
    std::vector<int64_t> written;
    std::vector<int64_t> durable;
    sl_storage_err last_err = SL_STORAGE_OK;
};

void on_progress(void *ctx, sl_log *, int64_t written_end, int64_t durable_end, sl_storage_err err)
{
    auto *d = static_cast<durable_log *>(ctx);
    if (err == SL_STORAGE_OK) {
        d->written.push_back(written_end);
        d->durable.push_back(durable_end);
    } else {
        d->last_err = err;
    }
}

class LogTest : public ::testing::Test
{
  protected:
    temp_dir dir;
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    sl_log_config config = small_log_config();
    sl_storage_config engine_config = small_engine_config();
    durable_log durable;
    sl_log_recovery_report report{};
    // What the log should hold, batch by batch: stored bytes by base offset.
    std::map<int64_t, std::vector<uint8_t>> expected;
    int64_t now_ms = 1700000000000;

    void SetUp() override
    {
        ASSERT_EQ(sl_storage_create(&engine_config, &st), SL_STORAGE_OK);
    }
    void TearDown() override
    {
        if (log != nullptr) {
            EXPECT_EQ(sl_log_close(log), SL_STORAGE_OK);
        }
        log = nullptr;
        sl_storage_destroy(st);
    }
    void open()
    {
        sl_log_callbacks cb = {on_progress, &durable};
        ASSERT_EQ(
            sl_log_open(st, dir.path.c_str(), "orders", 3, &config, &cb, now_ms, &log, &report),
            SL_STORAGE_OK);
    }
    void reopen()
    {
        ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
        log = nullptr;
        open();
    }
    sl_log_append_result append(const std::vector<uint8_t> &batch, int32_t epoch = 7)
    {
        sl_log_append_result r{};
        sl_storage_err err =
            sl_log_append(log, batch.data(), batch.size(), nullptr, 0, epoch, now_ms, &r);
        if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY) {
            drain(st); // backpressure: let writes complete, then retry
            err = sl_log_append(log, batch.data(), batch.size(), nullptr, 0, epoch, now_ms, &r);
        }
        EXPECT_EQ(err, SL_STORAGE_OK) << sl_storage_strerror(err);
        if (err == SL_STORAGE_OK)
            expected[r.base_offset] = as_stored(batch, r.base_offset, epoch);
        return r;
    }
    std::vector<uint8_t> expected_from(int64_t offset)
    {
        std::vector<uint8_t> out;
        for (auto &kv : expected) {
            sl_batch_info info;
            sl_batch_parse_header(kv.second.data(), kv.second.size(), &info);
            if (sl_batch_last_offset(&info) >= offset)
                out.insert(out.end(), kv.second.begin(), kv.second.end());
        }
        return out;
    }
    std::vector<std::string> files()
    {
        std::vector<std::string> names;
        DIR *d = opendir(sl_log_path(log));
        while (struct dirent *de = readdir(d))
            if (de->d_name[0] != '.')
                names.push_back(de->d_name);
        closedir(d);
        std::sort(names.begin(), names.end());
        return names;
    }
};

TEST_F(LogTest, AppendAssignsOffsetsAndIsReadableAtOnce)
{
    open();
    EXPECT_EQ(sl_log_end_offset(log), 0);
    auto r1 = append(make_seeded_batch(1, 3, 100));
    auto r2 = append(make_seeded_batch(2, 5, 100));
    EXPECT_EQ(r1.base_offset, 0);
    EXPECT_EQ(r1.last_offset, 2);
    EXPECT_EQ(r2.base_offset, 3);
    EXPECT_EQ(r2.last_offset, 7);
    EXPECT_EQ(r2.log_end_offset, 8);
    EXPECT_FALSE(r2.wait_for_durable); // default flush policy: page-cache semantics
    // Readable before any I/O completed: served from the tail buffer.
    EXPECT_EQ(sl_log_written_end_offset(log), 0);
    sl_log_read_result rr;
    ASSERT_EQ(sl_log_read(log, 0, INT64_MAX, 1 << 20, &rr, on_read, nullptr), SL_STORAGE_OK);
    EXPECT_EQ(flatten(rr), expected_from(0));
    EXPECT_EQ(rr.batch_count, 2u);
    EXPECT_EQ(rr.next_offset, 8);
    sl_log_read_release(st, &rr);
    drain(st);
    EXPECT_EQ(sl_log_written_end_offset(log), 8);
    ASSERT_FALSE(durable.written.empty()); // the progress callback saw the write complete
    EXPECT_EQ(durable.written.back(), 8);
    EXPECT_EQ(durable.durable.back(), 0); // no fdatasync asked for
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, ReadStartsAtTheBatchContainingTheOffsetAndHonoursLimits)
{
    open();
    for (int i = 0; i < 20; i++)
        append(make_seeded_batch(i, 4, 200)); // offsets 4i .. 4i+3
    sl_log_read_result rr;
    ASSERT_EQ(read_blocking(st, log, 13, 1 << 20, &rr), SL_STORAGE_OK);
    EXPECT_EQ(rr.first_offset, 12);
    EXPECT_EQ(flatten(rr), expected_from(13));
    sl_log_read_release(st, &rr);
    // max_bytes smaller than one batch still returns that batch whole (KIP-74).
    ASSERT_EQ(read_blocking(st, log, 40, 10, &rr), SL_STORAGE_OK);
    EXPECT_EQ(rr.batch_count, 1u);
    EXPECT_EQ(rr.next_offset, 44);
    sl_log_read_release(st, &rr);
    // max_offset (a high watermark) stops before batches at or past it.
    ASSERT_EQ(read_blocking(st, log, 0, 1 << 20, &rr, 8), SL_STORAGE_OK);
    EXPECT_EQ(rr.batch_count, 2u);
    EXPECT_EQ(rr.next_offset, 8);
    sl_log_read_release(st, &rr);
    // At the end: nothing, no error. Past it: out of range.
    ASSERT_EQ(read_blocking(st, log, 80, 1 << 20, &rr), SL_STORAGE_OK);
    EXPECT_EQ(rr.slice_count, 0u);
    EXPECT_EQ(read_blocking(st, log, 81, 1 << 20, &rr), SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(read_blocking(st, log, -1, 1 << 20, &rr), SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE);
}

TEST_F(LogTest, BadBatchLeavesTheLogUntouched)
{
    open();
    append(make_seeded_batch(1, 2, 10));
    auto good = make_seeded_batch(2, 2, 10);
    auto bad = make_seeded_batch(3, 2, 10);
    bad[bad.size() - 1] ^= 0x40;
    std::vector<uint8_t> both = good;
    both.insert(both.end(), bad.begin(), bad.end());
    sl_log_append_result r;
    EXPECT_EQ(sl_log_append(log, both.data(), both.size(), nullptr, 0, 1, now_ms, &r),
              SL_STORAGE_ERR_BATCH_CRC);
    EXPECT_EQ(sl_log_end_offset(log), 2);
    auto huge = make_seeded_batch(4, 1, config.max_message_bytes);
    EXPECT_EQ(sl_log_append(log, huge.data(), huge.size(), nullptr, 0, 1, now_ms, &r),
              SL_STORAGE_ERR_BATCH_TOO_LARGE);
    EXPECT_EQ(sl_log_get_counters(log)->append_rejects, 2u);
    EXPECT_EQ(sl_log_end_offset(log), 2);
    drain(st);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, SeveralBatchesInOneAppendWithPrevalidatedInfos)
{
    open();
    auto a = make_seeded_batch(1, 2, 10);
    auto b = make_seeded_batch(2, 3, 10);
    std::vector<uint8_t> both = a;
    both.insert(both.end(), b.begin(), b.end());
    sl_batch_info infos[SL_LOG_APPEND_BATCHES_MAX];
    uint32_t count = 0;
    ASSERT_EQ(sl_batch_validate_all(both.data(), both.size(), config.max_message_bytes, infos,
                                    SL_LOG_APPEND_BATCHES_MAX, &count),
              SL_STORAGE_OK);
    sl_log_append_result r;
    ASSERT_EQ(sl_log_append(log, both.data(), both.size(), infos, count, 9, now_ms, &r),
              SL_STORAGE_OK);
    EXPECT_EQ(r.batch_count, 2u);
    EXPECT_EQ(r.base_offset, 0);
    EXPECT_EQ(r.last_offset, 4);
    expected[0] = as_stored(a, 0, 9);
    expected[2] = as_stored(b, 2, 9);
    drain(st);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, FlushMessagesOneWaitsForDurableOffset)
{
    config.flush_messages = 1;
    open();
    auto r = append(make_seeded_batch(1, 2, 10));
    EXPECT_TRUE(r.wait_for_durable);
    EXPECT_LT(sl_log_durable_end_offset(log), r.log_end_offset);
    drain(st);
    EXPECT_EQ(sl_log_durable_end_offset(log), 2);
    ASSERT_FALSE(durable.durable.empty());
    EXPECT_EQ(durable.durable.back(), 2);
    EXPECT_GE(sl_log_get_counters(log)->syncs, 1u);
    // Group commit: many appends before a poll share writes and fdatasyncs.
    for (int i = 0; i < 50; i++)
        append(make_seeded_batch(10 + i, 1, 10));
    uint64_t writes_before = sl_log_get_counters(log)->writes;
    drain(st);
    EXPECT_EQ(sl_log_durable_end_offset(log), 52);
    EXPECT_LT(sl_log_get_counters(log)->writes - writes_before, 5u);
}

TEST_F(LogTest, FlushMsSyncsAfterTheInterval)
{
    config.flush_ms = 1000;
    open();
    append(make_seeded_batch(1, 2, 10));
    for (int i = 0; i < 20; i++)
        sl_storage_wait(st, now_ms + 10, 10);
    EXPECT_EQ(sl_log_written_end_offset(log), 2);
    EXPECT_EQ(sl_log_durable_end_offset(log), 0); // timer not expired
    for (int i = 0; i < 20 && sl_log_durable_end_offset(log) < 2; i++)
        sl_storage_wait(st, now_ms + 1000, 10);
    EXPECT_EQ(sl_log_durable_end_offset(log), 2);
}

TEST_F(LogTest, RollsOnSegmentBytesWithKafkaFileNames)
{
    config.segment_bytes = 64 * 1024;
    config.max_message_bytes = 16 * 1024;
    open();
    for (int i = 0; i < 40; i++)
        append(make_seeded_batch(i, 10, 500)); // ~5 KiB each
    drain(st);
    EXPECT_GE(sl_log_segment_count(log), 3u);
    std::vector<int64_t> bases(sl_log_segment_count(log));
    sl_log_segment_base_offsets(log, bases.data(), (uint32_t)bases.size());
    EXPECT_EQ(bases[0], 0);
    auto names = files();
    char name[64];
    snprintf(name, sizeof(name), "%020lld.log", (long long)bases[1]);
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
    snprintf(name, sizeof(name), "%020lld.index", (long long)bases[0]);
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
    snprintf(name, sizeof(name), "%020lld.timeindex", (long long)bases[0]);
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
    // A closed segment is cut to its logical size (no page padding) once written.
    struct stat sb;
    std::string first = std::string(sl_log_path(log)) + "/00000000000000000000.log";
    ASSERT_EQ(stat(first.c_str(), &sb), 0);
    uint64_t logical = 0;
    for (auto &kv : expected)
        if (kv.first < bases[1])
            logical += kv.second.size();
    EXPECT_EQ((uint64_t)sb.st_size, logical);
    EXPECT_NE(logical % 4096, 0u); // (so padding would have shown)
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
    EXPECT_EQ(read_all(st, log, 123), expected_from(123));
}

TEST_F(LogTest, RollsOnSegmentMs)
{
    config.segment_ms = 1000;
    open();
    append(make_seeded_batch(1, 1, 10));
    now_ms += 500;
    append(make_seeded_batch(2, 1, 10));
    EXPECT_EQ(sl_log_segment_count(log), 1u);
    now_ms += 600;
    append(make_seeded_batch(3, 1, 10));
    EXPECT_EQ(sl_log_segment_count(log), 2u);
    drain(st);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, CleanReopenKeepsEverything)
{
    config.segment_bytes = 64 * 1024;
    config.max_message_bytes = 16 * 1024;
    open();
    for (int i = 0; i < 30; i++)
        append(make_seeded_batch(i, 5, 700));
    sl_log_set_high_watermark(log, 50);
    int64_t leo = sl_log_end_offset(log);
    reopen();
    EXPECT_TRUE(report.clean_shutdown);
    EXPECT_EQ(report.bytes_truncated, 0u);
    // A clean open reads only what follows the active segment's last index entry.
    EXPECT_GT(report.bytes_scanned, 0u);
    EXPECT_LE(report.bytes_scanned, config.index_interval_bytes + 8u * 1024);
    EXPECT_EQ(report.indexes_rebuilt, 0u);
    EXPECT_EQ(sl_log_end_offset(log), leo);
    EXPECT_EQ(sl_log_high_watermark(log), 50);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
    append(make_seeded_batch(99, 2, 10)); // and it keeps working
    reopen();
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, OffsetIndexIsSparseAndMonotonic)
{
    open();
    for (int i = 0; i < 200; i++)
        append(make_seeded_batch(i, 1, 300)); // ~370 bytes, index every 1024 bytes
    int64_t base = 0;
    reopen();
    std::string path = std::string(sl_log_path(log)) + "/00000000000000000000.index";
    std::ifstream f(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
    ASSERT_EQ(bytes.size() % 8, 0u);
    size_t entries = bytes.size() / 8;
    EXPECT_GT(entries, 50u);
    EXPECT_LT(entries, 100u);
    uint32_t prev_rel = 0, prev_pos = 0;
    for (size_t i = 0; i < entries; i++) {
        uint32_t rel = sl_load_be32(&bytes[i * 8]), pos = sl_load_be32(&bytes[i * 8 + 4]);
        if (i > 0) {
            EXPECT_GT(rel, prev_rel);
            EXPECT_GT(pos, prev_pos);
        }
        prev_rel = rel;
        prev_pos = pos;
        // The entry points at the batch with that offset.
        sl_log_read_result rr;
        ASSERT_EQ(read_blocking(st, log, base + rel, 1, &rr), SL_STORAGE_OK);
        EXPECT_EQ(rr.first_offset, base + rel);
        sl_log_read_release(st, &rr);
    }
    for (int64_t o = 0; o < 200; o += 7) {
        sl_log_read_result rr;
        ASSERT_EQ(read_blocking(st, log, o, 1, &rr), SL_STORAGE_OK);
        EXPECT_EQ(rr.first_offset, o);
        EXPECT_EQ(flatten(rr), expected[o]);
        sl_log_read_release(st, &rr);
    }
}

TEST_F(LogTest, OffsetForTimestamp)
{
    config.segment_bytes = 32 * 1024;
    config.max_message_bytes = 16 * 1024;
    open();
    for (int i = 0; i < 60; i++) {
        batch_options o;
        o.base_timestamp = 1000000 + i * 100; // records at +0, +10, +20
        o.timestamp_step_ms = 10;
        append(make_seeded_batch(i, 3, 600, o));
    }
    int64_t off, ts;
    ASSERT_EQ(offset_for_time_blocking(st, log, 0, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 0);
    // The first record at or after the time, inside its batch (Kafka's answer).
    ASSERT_EQ(offset_for_time_blocking(st, log, 1000000 + 25 * 100 + 15, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 25 * 3 + 2);
    EXPECT_EQ(ts, 1000000 + 25 * 100 + 20);
    ASSERT_EQ(offset_for_time_blocking(st, log, 1000000 + 25 * 100 + 10, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 25 * 3 + 1);
    ASSERT_EQ(offset_for_time_blocking(st, log, 1000000 + 25 * 100 + 21, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 26 * 3);
    EXPECT_EQ(offset_for_time_blocking(st, log, 1000000 + 59 * 100 + 21, &off, &ts),
              SL_STORAGE_ERR_NOT_FOUND);
    reopen(); // cold: the lookup has to read from disk
    ASSERT_EQ(offset_for_time_blocking(st, log, 1000000 + 41 * 100 + 1, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 41 * 3 + 1);
    // Compressed batches are not opened: the answer is the batch.
    batch_options zstd;
    zstd.attributes = 4;
    zstd.base_timestamp = 5000000;
    zstd.timestamp_step_ms = 10;
    auto r = append(make_seeded_batch(7, 3, 100, zstd));
    ASSERT_EQ(offset_for_time_blocking(st, log, 5000000 + 15, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, r.base_offset);
    EXPECT_EQ(ts, 5000000 + 20);
}

// A batch whose records carry the given timestamps (not necessarily ordered): the base
// timestamp is the smallest, max timestamp the largest, as a producer writes them.
std::vector<uint8_t> batch_with_timestamps(const std::vector<int64_t> &ts)
{
    int64_t base = *std::min_element(ts.begin(), ts.end());
    int64_t max = *std::max_element(ts.begin(), ts.end());
    std::vector<std::string> values(ts.size(), "v");
    batch_options o;
    o.base_timestamp = base;
    std::vector<uint8_t> b = make_batch(values, o);
    b.resize(SL_BATCH_HEADER_BYTES);
    sl_store_be64(b.data() + SL_BATCH_OFF_MAX_TIMESTAMP, static_cast<uint64_t>(max));
    for (size_t i = 0; i < ts.size(); i++)
        put_record(b, ts[i] - base, static_cast<int32_t>(i), "k", "v");
    seal_batch(b);
    return b;
}

TEST_F(LogTest, MaxTimestampIsTheFirstRecordCarryingIt)
{
    config.segment_bytes = 16 * 1024;
    config.max_message_bytes = 8 * 1024;
    open();
    int64_t off = -1, ts = -1;
    EXPECT_EQ(sl_log_max_timestamp(log), -1);            // empty log
    append(batch_with_timestamps({100, 500, 200}));      // 0..2
    append(batch_with_timestamps({300, 900, 900, 100})); // 3..6: 900 first at 4
    append(batch_with_timestamps({50, 60}));             // 7..8
    EXPECT_EQ(sl_log_max_timestamp(log), 900);
    ASSERT_EQ(offset_for_time_blocking(st, log, sl_log_max_timestamp(log), &off, &ts),
              SL_STORAGE_OK);
    EXPECT_EQ(off, 4);
    EXPECT_EQ(ts, 900);
    // Later segments with the same maximum do not move the answer; fill a few segments.
    for (int i = 0; i < 40; i++)
        append(make_seeded_batch(i, 4, 200, batch_options{.base_timestamp = 700}));
    auto late = append(batch_with_timestamps({900, 10}));
    ASSERT_GT(sl_log_segment_count(log), 2u);
    EXPECT_EQ(sl_log_max_timestamp(log), 900);
    reopen(); // the maxima come back from the time indexes
    EXPECT_EQ(sl_log_max_timestamp(log), 900);
    ASSERT_EQ(offset_for_time_blocking(st, log, 900, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 4);
    // Once the first 900 lies below the log start, the later one is the answer.
    ASSERT_EQ(sl_log_advance_start_offset(log, late.base_offset, nullptr), SL_STORAGE_OK);
    EXPECT_EQ(sl_log_max_timestamp(log), 900);
    ASSERT_EQ(offset_for_time_blocking(st, log, 900, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, late.base_offset);
    auto r = append(batch_with_timestamps({400, 1200, 1100}));
    EXPECT_EQ(sl_log_max_timestamp(log), 1200);
    ASSERT_EQ(offset_for_time_blocking(st, log, 1200, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, r.base_offset + 1);
    EXPECT_EQ(ts, 1200);
}

// One record whose value is sized so that the whole batch is exactly `bytes` long.
std::vector<uint8_t> batch_of_size(size_t bytes, const batch_options &o)
{
    size_t value = bytes - SL_BATCH_HEADER_BYTES - 16;
    for (int tries = 0; tries < 8; tries++) {
        std::vector<uint8_t> b = make_batch({std::string(value, 'x')}, o);
        if (b.size() == bytes)
            return b;
        value += bytes - b.size(); // varint lengths may shift by a byte: try again
    }
    ADD_FAILURE() << "no batch of " << bytes << " bytes";
    return {};
}

// message.timestamp.type=LogAppendTime: the stored copy carries the append time (the wall
// clock, not the caller's monotonic now_ms) as its max timestamp, the LogAppendTime bit and a CRC
// that matches them; the records stay as sent. Batches are placed so that a header (attributes, max
// timestamp, CRC) straddles a chunk.
TEST_F(LogTest, LogAppendTimeStampsTheStoredBatchWithAMatchingCrc)
{
    config.log_append_time = true;
    open();
    batch_options old;
    old.base_timestamp = 1000;
    old.timestamp_step_ms = 5;
    // 3 x 32748 bytes: the third batch starts 40 bytes before the 64 KiB chunk boundary.
    const size_t size = engine_config.chunk_bytes / 2 - 20;
    std::vector<uint8_t> sent = batch_of_size(size, old);
    ASSERT_EQ(sent.size(), size);
    std::vector<uint8_t> want_all;
    int64_t stamped[3];
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            usleep(20 * 1000); // three different append times
        int64_t before = sl_wall_clock_ms();
        sl_log_append_result r{};
        ASSERT_EQ(sl_log_append(log, sent.data(), sent.size(), nullptr, 0, 7, now_ms, &r),
                  SL_STORAGE_OK);
        stamped[i] = r.log_append_time_ms;
        EXPECT_GE(stamped[i], before);
        EXPECT_LE(stamped[i], sl_wall_clock_ms());
        std::vector<uint8_t> want = as_stored(sent, r.base_offset, 7);
        sl_store_be16(want.data() + SL_BATCH_OFF_ATTRIBUTES, SL_BATCH_ATTR_TIMESTAMP_LOG_APPEND);
        sl_store_be64(want.data() + SL_BATCH_OFF_MAX_TIMESTAMP, static_cast<uint64_t>(stamped[i]));
        seal_batch(want);
        sl_batch_info info;
        ASSERT_EQ(sl_batch_check_stored(want.data(), want.size(), &info), SL_STORAGE_OK);
        EXPECT_EQ(info.base_timestamp, 1000); // only the max timestamp is the broker's
        want_all.insert(want_all.end(), want.begin(), want.end());
    }
    EXPECT_EQ(read_all(st, log, 0), want_all); // from the tail chunks
    // The time lookups and retention see the append times.
    EXPECT_EQ(sl_log_max_timestamp(log), stamped[2]);
    int64_t off = -1, ts = -1;
    ASSERT_EQ(offset_for_time_blocking(st, log, stamped[1] + 1, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 2);
    EXPECT_EQ(ts, stamped[2]);
    // A scan of the file checks every CRC: nothing is cut, and the bytes are the same.
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    log = nullptr;
    ASSERT_EQ(unlink((dir.path + "/orders-3/.clean-shutdown").c_str()), 0);
    open();
    EXPECT_FALSE(report.clean_shutdown);
    EXPECT_EQ(report.bytes_truncated, 0u);
    EXPECT_EQ(sl_log_end_offset(log), 3);
    EXPECT_EQ(read_all(st, log, 0), want_all);

    // CreateTime (the default) stores the batch as sent and reports no append time.
    config.log_append_time = false;
    ASSERT_EQ(sl_log_set_config(log, &config), SL_STORAGE_OK);
    auto r = append(sent);
    EXPECT_EQ(r.log_append_time_ms, -1);
    EXPECT_EQ(read_all(st, log, r.base_offset), as_stored(sent, r.base_offset, 7));
}

// A topic config altered at runtime reaches the open log: rolls, retention, limits.
TEST_F(LogTest, SetConfigChangesRollRetentionAndLimitsOfAnOpenLog)
{
    config.segment_bytes = 1024 * 1024;
    config.max_message_bytes = 64 * 1024;
    open();
    batch_options old_records;
    old_records.base_timestamp = now_ms - 3600 * 1000; // an hour old
    for (int i = 0; i < 8; i++)
        append(make_seeded_batch(i, 4, 500, old_records));
    EXPECT_EQ(sl_log_segment_count(log), 1u);
    sl_log_config next = *sl_log_get_config(log);
    next.segment_bytes = 16 * 1024; // rolls from the next append on
    next.max_message_bytes = 8 * 1024;
    ASSERT_EQ(sl_log_set_config(log, &next), SL_STORAGE_OK);
    EXPECT_EQ(sl_log_get_config(log)->segment_bytes, 16u * 1024);
    for (int i = 0; i < 40; i++)
        append(make_seeded_batch(100 + i, 4, 500, old_records));
    EXPECT_GT(sl_log_segment_count(log), 4u);
    // The lower max.message.bytes refuses a batch the old limit took.
    std::vector<uint8_t> big = make_seeded_batch(999, 4, 3000);
    sl_log_append_result r{};
    EXPECT_EQ(sl_log_append(log, big.data(), big.size(), nullptr, 0, 7, now_ms, &r),
              SL_STORAGE_ERR_BATCH_TOO_LARGE);
    // An invalid configuration changes nothing.
    sl_log_config bad = next;
    bad.max_message_bytes = bad.segment_bytes + 1;
    EXPECT_EQ(sl_log_set_config(log, &bad), SL_STORAGE_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(sl_log_get_config(log)->max_message_bytes, 8u * 1024);
    // Retention: the default week keeps everything; a minute deletes the old segments.
    drain(st);
    uint32_t segments = sl_log_segment_count(log);
    sl_log_retention_report rep{};
    ASSERT_EQ(sl_log_enforce_retention(log, now_ms, &rep), SL_STORAGE_OK);
    EXPECT_EQ(rep.segments_deleted, 0u);
    next.retention_ms = 60 * 1000;
    ASSERT_EQ(sl_log_set_config(log, &next), SL_STORAGE_OK);
    ASSERT_EQ(sl_log_enforce_retention(log, now_ms, &rep), SL_STORAGE_OK);
    EXPECT_EQ(rep.segments_deleted, segments - 1); // all but the active one
    EXPECT_EQ(sl_log_segment_count(log), 1u);
    EXPECT_GT(sl_log_start_offset(log), 0);
}

// OffsetForLeaderEpoch's answer from the log's epoch cache.
::testing::AssertionResult epoch_end(sl_log *log, int32_t asked, int32_t want_epoch,
                                     int64_t want_offset)
{
    int32_t e = -7;
    int64_t o = -7;
    bool known = sl_log_end_offset_for_epoch(log, asked, &e, &o);
    if (want_offset < 0 ? known : (!known || e != want_epoch || o != want_offset))
        return ::testing::AssertionFailure()
               << "epoch " << asked << ": got (" << e << ", " << o << ") known=" << known
               << ", want (" << want_epoch << ", " << want_offset << ")";
    return ::testing::AssertionSuccess();
}

std::string read_text(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST_F(LogTest, LeaderEpochCacheAnswersEndOffsetsAndSurvivesReopenTruncationAndLoss)
{
    config.segment_bytes = 16 * 1024;
    config.max_message_bytes = 8 * 1024;
    open();
    EXPECT_EQ(sl_log_latest_epoch(log), -1);
    EXPECT_TRUE(epoch_end(log, 0, -1, -1)); // nothing known
    for (int i = 0; i < 10; i++)
        append(make_seeded_batch(i, 3, 400), 3); // offsets 0..29
    for (int i = 0; i < 10; i++)
        append(make_seeded_batch(10 + i, 3, 400), 5); // 30..59
    for (int i = 0; i < 10; i++)
        append(make_seeded_batch(20 + i, 3, 400), 8); // 60..89
    ASSERT_GE(sl_log_segment_count(log), 3u);
    auto check_all = [&](const char *when) {
        SCOPED_TRACE(when);
        EXPECT_EQ(sl_log_latest_epoch(log), 8);
        EXPECT_TRUE(epoch_end(log, 8, 8, 90)); // current epoch: the log end
        EXPECT_TRUE(epoch_end(log, 5, 5, 60));
        EXPECT_TRUE(epoch_end(log, 7, 5, 60)); // never led: the epoch before it
        EXPECT_TRUE(epoch_end(log, 4, 3, 30));
        EXPECT_TRUE(epoch_end(log, 3, 3, 30));
        EXPECT_TRUE(epoch_end(log, 1, 1, 0)); // older than the log: where it begins
        EXPECT_TRUE(epoch_end(log, 9, -1, -1));
        EXPECT_TRUE(epoch_end(log, -1, -1, -1));
    };
    check_all("live");
    reopen();
    check_all("after a clean reopen");
    EXPECT_EQ(read_text(std::string(sl_log_path(log)) + "/leader-epoch-checkpoint"),
              "0\n3\n3 0\n5 30\n8 60\n");

    // Without the checkpoint file the cache is rebuilt from the batch headers.
    std::string dir = sl_log_path(log);
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    log = nullptr;
    ASSERT_EQ(unlink((dir + "/leader-epoch-checkpoint").c_str()), 0);
    open();
    check_all("rebuilt");

    // A follower's truncation into epoch 5 forgets epoch 8.
    drain(st);
    ASSERT_EQ(sl_log_truncate_to(log, 45), SL_STORAGE_OK);
    EXPECT_EQ(sl_log_latest_epoch(log), 5);
    EXPECT_TRUE(epoch_end(log, 5, 5, 45));
    EXPECT_TRUE(epoch_end(log, 8, -1, -1));
    append(make_seeded_batch(50, 3, 400), 9); // 45..47
    EXPECT_TRUE(epoch_end(log, 5, 5, 45));
    EXPECT_TRUE(epoch_end(log, 9, 9, 48));

    // A new log start moves the first epoch's start; older epochs end there.
    ASSERT_EQ(sl_log_advance_start_offset(log, 33, nullptr), SL_STORAGE_OK);
    int32_t epochs[8];
    int64_t starts[8];
    ASSERT_EQ(sl_log_leader_epochs(log, epochs, starts, 8), 2u);
    EXPECT_EQ(epochs[0], 5);
    EXPECT_EQ(starts[0], 33);
    EXPECT_TRUE(epoch_end(log, 3, 3, 33));
}

TEST_F(LogTest, LeaderEpochsAfterACrashComeFromTheRecoveryScan)
{
    open();
    for (int i = 0; i < 4; i++)
        append(make_seeded_batch(i, 2, 100), 1); // 0..7
    drain(st);
    ASSERT_EQ(sl_log_write_checkpoints(log), SL_STORAGE_OK);
    std::string dir = sl_log_path(log);
    std::string old_epochs = read_text(dir + "/leader-epoch-checkpoint");
    std::string old_recovery = read_text(dir + "/recovery-point.checkpoint");
    append(make_seeded_batch(9, 2, 100), 2); // 8..9, after the last checkpoint
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    log = nullptr;
    // As if the process died before writing the checkpoints again.
    std::ofstream(dir + "/leader-epoch-checkpoint") << old_epochs;
    std::ofstream(dir + "/recovery-point.checkpoint") << old_recovery;
    ASSERT_EQ(unlink((dir + "/.clean-shutdown").c_str()), 0);
    open();
    EXPECT_FALSE(report.clean_shutdown);
    EXPECT_GT(report.segments_scanned, 0u);
    EXPECT_EQ(sl_log_latest_epoch(log), 2);
    EXPECT_TRUE(epoch_end(log, 1, 1, 8));
    EXPECT_TRUE(epoch_end(log, 2, 2, 10));
}

TEST_F(LogTest, LeaderEpochCacheIsBounded)
{
    open();
    for (int32_t e = 0; e < (int32_t)SL_LOG_LEADER_EPOCHS_MAX + 6; e++)
        append(make_seeded_batch((uint64_t)e, 1, 10), e);
    int32_t epochs[SL_LOG_LEADER_EPOCHS_MAX + 8];
    int64_t starts[SL_LOG_LEADER_EPOCHS_MAX + 8];
    ASSERT_EQ(sl_log_leader_epochs(log, epochs, starts, SL_LOG_LEADER_EPOCHS_MAX + 8),
              SL_LOG_LEADER_EPOCHS_MAX);
    EXPECT_EQ(epochs[0], 6); // the oldest were forgotten
    EXPECT_EQ(starts[0], 6);
    EXPECT_TRUE(epoch_end(log, 2, 2, 6));
    reopen();
    EXPECT_EQ(sl_log_leader_epochs(log, epochs, starts, SL_LOG_LEADER_EPOCHS_MAX + 8),
              SL_LOG_LEADER_EPOCHS_MAX);
}

TEST_F(LogTest, ColdReadsGoThroughIoUring)
{
    config.segment_bytes = 256 * 1024;
    open();
    for (int i = 0; i < 100; i++)
        append(make_seeded_batch(i, 4, 1000));
    reopen();
    bool async = false;
    sl_log_read_result rr;
    ASSERT_EQ(read_blocking(st, log, 200, 1 << 20, &rr, INT64_MAX, &async), SL_STORAGE_OK);
    EXPECT_TRUE(async);
    EXPECT_EQ(rr.first_offset, 200);
    std::vector<uint8_t> got = flatten(rr);
    std::vector<uint8_t> want = expected_from(200);
    ASSERT_LE(got.size(), want.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
    sl_log_read_release(st, &rr);
    EXPECT_GT(sl_log_get_counters(log)->cache_misses, 0u);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

// A cold fetch loads the chunks after the one it missed (up to its max_bytes), so the
// next fetch of the same range finds them in memory; closing the log waits for
// prefetches still in flight.
TEST_F(LogTest, ColdFetchPrefetchesTheChunksAfterItsMiss)
{
    open(); // 64 KiB chunks, 8 MiB segments, 16 read ops (so at most 8 prefetches)
    for (int i = 0; i < 200; i++)
        append(make_seeded_batch(i, 4, 1000)); // ~4 KiB each: about 13 chunks
    reopen();
    const sl_storage_stats *stats = sl_storage_get_stats(st);
    uint64_t prefetches_before = stats->prefetches;
    bool async = false;
    sl_log_read_result rr;
    ASSERT_EQ(read_blocking(st, log, 0, 512 * 1024, &rr, INT64_MAX, &async), SL_STORAGE_OK);
    EXPECT_TRUE(async);
    uint64_t prefetched = stats->prefetches - prefetches_before;
    EXPECT_GE(prefetched, 4u);
    EXPECT_LE(prefetched, 8u); // 512 KiB / 64 KiB, and half of the 16 read ops
    int64_t next = rr.next_offset;
    std::vector<uint8_t> got = flatten(rr);
    sl_log_read_release(st, &rr);
    drain(st);
    uint64_t misses_before = sl_log_get_counters(log)->cache_misses;
    uint64_t prefetches_mid = stats->prefetches;
    ASSERT_EQ(read_blocking(st, log, next, 4 * 64 * 1024, &rr, INT64_MAX, &async), SL_STORAGE_OK);
    EXPECT_FALSE(async) << "the prefetched chunks should serve the next fetch from memory";
    // Its only loads are the read-ahead past where it ended (a sequential reader's next
    // fetch), none for the fetch itself.
    EXPECT_GT(stats->prefetches, prefetches_mid);
    EXPECT_EQ(sl_log_get_counters(log)->cache_misses - misses_before,
              stats->prefetches - prefetches_mid);
    std::vector<uint8_t> more = flatten(rr);
    sl_log_read_release(st, &rr);
    got.insert(got.end(), more.begin(), more.end());
    std::vector<uint8_t> want = expected_from(0);
    ASSERT_LE(got.size(), want.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));

    // A small fetch (clients ask 1 MiB per partition by default) still reads ahead the
    // next 4 MiB: here every chunk after the first, up to the 8 read ops allowed.
    reopen();
    prefetches_before = stats->prefetches;
    ASSERT_EQ(read_blocking(st, log, 0, 64 * 1024, &rr, INT64_MAX, &async), SL_STORAGE_OK);
    EXPECT_TRUE(async);
    sl_log_read_release(st, &rr);
    EXPECT_EQ(stats->prefetches - prefetches_before, 8u);

    reopen(); // cold again: close right after a read that left prefetches in flight
    ASSERT_EQ(read_blocking(st, log, 0, 512 * 1024, &rr, INT64_MAX, &async), SL_STORAGE_OK);
    sl_log_read_release(st, &rr);
    reopen();
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

// Most logs of a broker never see a record (the __consumer_offsets partitions): an empty
// log takes no pool chunk until its first append, so the cache keeps them for data.
TEST_F(LogTest, AnEmptyLogHoldsNoChunkUntilItsFirstAppend)
{
    uint32_t free_before = sl_storage_get_stats(st)->chunks_free;
    open();
    EXPECT_EQ(sl_storage_get_stats(st)->chunks_free, free_before);
    reopen(); // still empty after a clean close
    EXPECT_EQ(sl_storage_get_stats(st)->chunks_free, free_before);
    append(make_seeded_batch(1, 2, 100));
    EXPECT_EQ(sl_storage_get_stats(st)->chunks_free, free_before - 1);
    drain(st);
    reopen(); // the partial tail chunk comes back as the append target
    append(make_seeded_batch(2, 3, 100));
    drain(st);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, PinnedChunksAreNeverReused)
{
    // A tiny cache: 8 chunks of 64 KiB. Data: ~1.2 MiB, so reads must evict.
    sl_storage_destroy(st);
    engine_config = small_engine_config(64 * 1024, 8 * 64 * 1024);
    ASSERT_EQ(sl_storage_create(&engine_config, &st), SL_STORAGE_OK);
    config.segment_bytes = 512 * 1024;
    config.max_message_bytes = 32 * 1024;
    open();
    for (int i = 0; i < 120; i++)
        append(make_seeded_batch(i, 2, 4000));
    reopen();
    // Pin the first batch.
    sl_log_read_result pinned;
    ASSERT_EQ(read_blocking(st, log, 0, 1, &pinned), SL_STORAGE_OK);
    std::vector<uint8_t> pinned_copy = flatten(pinned);
    EXPECT_EQ(pinned_copy, expected[0]);
    // Read everything else repeatedly: forces eviction of every unpinned chunk.
    for (int pass = 0; pass < 2; pass++)
        EXPECT_EQ(read_all(st, log, 2), expected_from(2));
    EXPECT_GT(sl_storage_get_stats(st)->cache_evictions, 0u);
    EXPECT_EQ(flatten(pinned), pinned_copy); // bytes under the pin never changed
    // Pin chunks until none is left: reads report backpressure instead of failing hard.
    std::vector<sl_log_read_result> pins(8);
    int held = 0;
    sl_storage_err last = SL_STORAGE_OK;
    for (int64_t o = 20; o < 240 && held < 8; o += 34) {
        last = read_blocking(st, log, o, 1, &pins[held]);
        if (last != SL_STORAGE_OK)
            break;
        held++;
    }
    EXPECT_EQ(last, SL_STORAGE_ERR_NO_BUFFER);
    EXPECT_GT(sl_storage_get_stats(st)->cache_pinned_skips, 0u);
    for (int i = 0; i < held; i++)
        sl_log_read_release(st, &pins[i]);
    sl_log_read_release(st, &pinned);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0)); // works again once unpinned
}

// O_DIRECT writes whole pages, so the bytes between the log's end and the end of its page
// go to disk too: they must be zero even when the tail chunk is memory that held other
// data before (chunks are recycled through the cache).
TEST_F(LogTest, PaddingAfterTheEndIsZeroInRecycledChunks)
{
    sl_storage_destroy(st);
    engine_config = small_engine_config(64 * 1024, 8 * 64 * 1024);
    ASSERT_EQ(sl_storage_create(&engine_config, &st), SL_STORAGE_OK);
    config.segment_bytes = 64 * 1024 * 1024; // one segment: its file is the whole log
    config.max_message_bytes = 32 * 1024;
    open();
    std::string file = std::string(sl_log_path(log)) + "/00000000000000000000.log";
    uint64_t end = 0;
    for (int i = 0; i < 300; i++) {
        std::vector<uint8_t> batch = make_seeded_batch(1000 + i, 2, 1000 + 37 * (i % 50));
        append(batch);
        end += batch.size();
        if (i % 25 != 24)
            continue;
        drain(st);
        std::ifstream in(file, std::ios::binary);
        std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
        ASSERT_GE(bytes.size(), end);
        ASSERT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + (long)end), expected_from(0));
        size_t nonzero = 0;
        for (size_t b = end; b < bytes.size(); b++)
            nonzero += bytes[b] != 0;
        ASSERT_EQ(nonzero, 0u) << "padding after the end at " << end << " (file " << bytes.size()
                               << " bytes, after " << i + 1 << " appends)";
    }
    EXPECT_GT(sl_storage_get_stats(st)->cache_evictions, 0u) << "no chunk was recycled";
}

TEST_F(LogTest, RetentionByBytesAndTime)
{
    config.segment_bytes = 32 * 1024;
    config.max_message_bytes = 16 * 1024;
    config.retention_bytes = 100 * 1024;
    open();
    for (int i = 0; i < 100; i++) {
        batch_options o;
        o.base_timestamp = now_ms - 100000 + i * 1000;
        append(make_seeded_batch(i, 2, 1000, o));
    }
    drain(st);
    uint64_t size_before = sl_log_size_bytes(log);
    uint32_t segments_before = sl_log_segment_count(log);
    sl_log_retention_report rep;
    ASSERT_EQ(sl_log_enforce_retention(log, now_ms, &rep), SL_STORAGE_OK);
    EXPECT_GT(rep.segments_deleted, 0u);
    EXPECT_EQ(sl_log_segment_count(log), segments_before - rep.segments_deleted);
    EXPECT_LE(sl_log_size_bytes(log), 100u * 1024 + config.segment_bytes);
    EXPECT_EQ(size_before - sl_log_size_bytes(log), rep.bytes_deleted);
    int64_t start = sl_log_start_offset(log);
    EXPECT_GT(start, 0);
    sl_log_read_result rr;
    EXPECT_EQ(read_blocking(st, log, start - 1, 1, &rr), SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE);
    EXPECT_EQ(read_all(st, log, start), expected_from(start));
    // Time: everything older than 30 s goes (except the active segment).
    config.retention_bytes = -1;
    reopen();
    EXPECT_EQ(sl_log_start_offset(log), start); // checkpointed
    // retention.ms comes from the log config at open: reopen with a short one.
    sl_log_close(log);
    log = nullptr;
    config.retention_ms = 30000;
    open();
    ASSERT_EQ(sl_log_enforce_retention(log, now_ms, &rep), SL_STORAGE_OK);
    EXPECT_GT(rep.segments_deleted, 0u);
    int64_t new_start = sl_log_start_offset(log);
    // Every remaining closed segment has a batch newer than the cutoff.
    auto it = expected.lower_bound(new_start);
    ASSERT_NE(it, expected.end());
    EXPECT_EQ(read_all(st, log, new_start), expected_from(new_start));
}

TEST_F(LogTest, AdvanceStartOffsetForDeleteRecords)
{
    config.segment_bytes = 32 * 1024;
    config.max_message_bytes = 16 * 1024;
    open();
    for (int i = 0; i < 60; i++)
        append(make_seeded_batch(i, 2, 1000));
    drain(st);
    EXPECT_EQ(sl_log_advance_start_offset(log, 1000, nullptr), SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE);
    sl_log_retention_report rep;
    ASSERT_EQ(sl_log_advance_start_offset(log, 61, &rep), SL_STORAGE_OK);
    EXPECT_EQ(sl_log_start_offset(log), 61);
    EXPECT_GT(rep.segments_deleted, 0u);
    sl_log_read_result rr;
    EXPECT_EQ(read_blocking(st, log, 59, 1, &rr), SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE);
    ASSERT_EQ(read_blocking(st, log, 61, 1, &rr), SL_STORAGE_OK);
    EXPECT_EQ(rr.first_offset, 60); // the batch holding 61 starts at 60
    sl_log_read_release(st, &rr);
    reopen();
    EXPECT_EQ(sl_log_start_offset(log), 61);
    int64_t off, ts;
    ASSERT_EQ(offset_for_time_blocking(st, log, 0, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 61);
}

TEST_F(LogTest, TruncateToRemovesTheTailAndKeepsWorking)
{
    config.segment_bytes = 32 * 1024;
    config.max_message_bytes = 16 * 1024;
    open();
    for (int i = 0; i < 60; i++)
        append(make_seeded_batch(i, 2, 1000)); // offsets 2i, 2i+1
    sl_log_set_high_watermark(log, 40);
    ASSERT_EQ(sl_log_truncate_to(log, 50), SL_STORAGE_OK);
    EXPECT_EQ(sl_log_end_offset(log), 50);
    EXPECT_EQ(sl_log_high_watermark(log), 40);
    expected.erase(expected.lower_bound(50), expected.end());
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
    EXPECT_EQ(sl_log_get_counters(log)->truncations, 1u);
    // Truncate into a closed segment, then append and reopen.
    ASSERT_EQ(sl_log_write_checkpoints(log), SL_STORAGE_OK);
    ASSERT_EQ(sl_log_truncate_to(log, 10), SL_STORAGE_OK);
    // The recovery point moved back with the cut, so a crash now rescans what is rewritten.
    std::ifstream rp(std::string(sl_log_path(log)) + "/recovery-point.checkpoint");
    long long recovery_point = -1;
    rp >> recovery_point;
    EXPECT_EQ(recovery_point, 0);
    expected.erase(expected.lower_bound(10), expected.end());
    EXPECT_EQ(sl_log_end_offset(log), 10);
    EXPECT_EQ(sl_log_segment_count(log), 1u);
    for (int i = 0; i < 30; i++)
        append(make_seeded_batch(100 + i, 2, 1000));
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
    reopen();
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
    EXPECT_EQ(sl_log_end_offset(log), 70);
}

TEST_F(LogTest, BackpressureWhenPendingBatchesAreFull)
{
    config.pending_batches_max = SL_LOG_APPEND_BATCHES_MAX;
    open();
    int ok = 0;
    sl_storage_err err = SL_STORAGE_OK;
    for (int i = 0; i < 200 && err == SL_STORAGE_OK; i++) {
        auto b = make_seeded_batch(i, 1, 10);
        sl_log_append_result r;
        err = sl_log_append(log, b.data(), b.size(), nullptr, 0, 1, now_ms, &r);
        if (err == SL_STORAGE_OK) {
            expected[r.base_offset] = as_stored(b, r.base_offset, 1);
            ok++;
        }
    }
    EXPECT_EQ(err, SL_STORAGE_ERR_BUSY);
    EXPECT_EQ(ok, (int)SL_LOG_APPEND_BATCHES_MAX);
    drain(st); // writes complete, room again
    append(make_seeded_batch(1000, 1, 10));
    drain(st);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, BatchStraddlingChunksComesBackAsSeveralSlices)
{
    open();                                 // 64 KiB chunks
    append(make_seeded_batch(1, 4, 10000)); // ~40 KiB
    append(make_seeded_batch(2, 4, 10000)); // crosses the first chunk boundary
    sl_log_read_result rr;
    ASSERT_EQ(read_blocking(st, log, 4, 1, &rr), SL_STORAGE_OK);
    EXPECT_EQ(rr.batch_count, 1u);
    EXPECT_EQ(rr.slice_count, 2u);
    EXPECT_EQ(flatten(rr), expected[4]);
    sl_log_read_release(st, &rr);
    reopen(); // and the same from disk
    bool async = false;
    ASSERT_EQ(read_blocking(st, log, 4, 1, &rr, INT64_MAX, &async), SL_STORAGE_OK);
    EXPECT_TRUE(async);
    EXPECT_EQ(rr.slice_count, 2u);
    EXPECT_EQ(flatten(rr), expected[4]);
    sl_log_read_release(st, &rr);
}

TEST_F(LogTest, PinnedSliceSurvivesTruncationAndReuse)
{
    open();
    for (int i = 0; i < 30; i++)
        append(make_seeded_batch(i, 2, 3000));
    sl_log_read_result pinned;
    ASSERT_EQ(read_blocking(st, log, 40, 1, &pinned), SL_STORAGE_OK);
    std::vector<uint8_t> before = flatten(pinned);
    ASSERT_EQ(sl_log_truncate_to(log, 20), SL_STORAGE_OK); // drops the pinned batch
    expected.erase(expected.lower_bound(20), expected.end());
    for (int i = 0; i < 60; i++) // new data for the same offsets, through fresh chunks
        append(make_seeded_batch(500 + i, 2, 3000));
    drain(st);
    EXPECT_EQ(flatten(pinned), before); // the pinned chunk was never handed out again
    EXPECT_NE(before, expected[40]);
    sl_log_read_release(st, &pinned);
    EXPECT_EQ(read_all(st, log, 0), expected_from(0));
}

TEST_F(LogTest, ManyLogsShareOneEngine)
{
    open();
    std::vector<sl_log *> logs;
    std::vector<std::map<int64_t, std::vector<uint8_t>>> want(5);
    for (int p = 0; p < 5; p++) {
        sl_log *l = nullptr;
        ASSERT_EQ(
            sl_log_open(st, dir.path.c_str(), "many", p, &config, nullptr, now_ms, &l, nullptr),
            SL_STORAGE_OK);
        logs.push_back(l);
    }
    for (int round = 0; round < 40; round++) {
        for (int p = 0; p < 5; p++) {
            auto b = make_seeded_batch(round * 10 + p, 1 + p, 800);
            sl_log_append_result r;
            ASSERT_EQ(sl_log_append(logs[p], b.data(), b.size(), nullptr, 0, p, now_ms, &r),
                      SL_STORAGE_OK);
            want[p][r.base_offset] = as_stored(b, r.base_offset, p);
        }
        sl_storage_poll(st, now_ms);
    }
    drain(st);
    for (int p = 0; p < 5; p++) {
        std::vector<uint8_t> all;
        for (auto &kv : want[p])
            all.insert(all.end(), kv.second.begin(), kv.second.end());
        EXPECT_EQ(read_all(st, logs[p], 0), all) << "partition " << p;
        EXPECT_EQ(sl_log_close(logs[p]), SL_STORAGE_OK);
    }
}

TEST_F(LogTest, APartitionDirectoryHasOneOwner)
{
    open();
    sl_log *second = nullptr;
    EXPECT_EQ(
        sl_log_open(st, dir.path.c_str(), "orders", 3, &config, nullptr, now_ms, &second, nullptr),
        SL_STORAGE_ERR_IN_USE);
    EXPECT_EQ(second, nullptr);
    reopen(); // the lock goes with the close
    append(make_seeded_batch(1, 1, 10));
}

TEST_F(LogTest, EmptyLogAnswersLookups)
{
    open();
    int64_t off = -1, ts = -1;
    EXPECT_EQ(offset_for_time_blocking(st, log, 0, &off, &ts), SL_STORAGE_ERR_NOT_FOUND);
    sl_log_read_result rr;
    EXPECT_EQ(read_blocking(st, log, 0, 100, &rr), SL_STORAGE_OK);
    EXPECT_EQ(rr.slice_count, 0u);
    EXPECT_EQ(sl_log_start_offset(log), 0);
    EXPECT_EQ(sl_log_end_offset(log), 0);
    reopen();
    EXPECT_EQ(sl_log_end_offset(log), 0);
    EXPECT_EQ(sl_log_segment_count(log), 1u);
}

TEST(StorageEngine, RegisteredAndPlainBuffersGiveTheSameBytes)
{
    for (bool fixed : {true, false}) {
        SCOPED_TRACE(fixed ? "fixed buffers" : "plain buffers");
        temp_dir dir;
        sl_storage_config ec = small_engine_config();
        ec.fixed_buffers = fixed;
        sl_storage *st = nullptr;
        ASSERT_EQ(sl_storage_create(&ec, &st), SL_STORAGE_OK);
        if (geteuid() == 0 || !fixed) { // registration needs memlock room (root has it)
            EXPECT_EQ(sl_storage_get_stats(st)->fixed_buffers, fixed);
        }
        sl_log_config lc = small_log_config();
        std::vector<uint8_t> want;
        for (int round = 0; round < 2; round++) { // write, then read back cold
            sl_log *log = nullptr;
            ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "fx", 0, &lc, nullptr, 0, &log, nullptr),
                      SL_STORAGE_OK);
            for (int i = 0; round == 0 && i < 60; i++) {
                auto b = make_seeded_batch(i, 3, 1500);
                sl_log_append_result r;
                ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 2, 0, &r),
                          SL_STORAGE_OK);
                auto stored = as_stored(b, r.base_offset, 2);
                want.insert(want.end(), stored.begin(), stored.end());
                if (i % 7 == 0)
                    drain(st); // small single-chunk writes as well as multi-chunk ones
            }
            drain(st);
            if (round == 0 && fixed && sl_storage_get_stats(st)->writev_fixed) {
                // Every write so far, single- and multi-chunk, came from registered buffers.
                EXPECT_GE(sl_log_get_counters(log)->writes, 5u);
                EXPECT_EQ(sl_storage_get_stats(st)->fixed_io, sl_log_get_counters(log)->writes);
            }
            EXPECT_EQ(read_all(st, log, 0), want);
            ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
        }
        if (fixed && geteuid() == 0 && sl_kernel_at_least(6, 15)) {
            EXPECT_TRUE(sl_storage_get_stats(st)->writev_fixed);
        }
        if (fixed && sl_storage_get_stats(st)->fixed_buffers) {
            EXPECT_GT(sl_storage_get_stats(st)->fixed_io, 0u);
        }
        if (!fixed) {
            EXPECT_EQ(sl_storage_get_stats(st)->fixed_io, 0u);
        }
        sl_storage_destroy(st);
    }
}

// The buffered path is what runs after a file system refuses O_DIRECT (EINVAL at open);
// no file system here refuses it (ext4 and tmpfs on kernel 6.x accept it), so the
// configuration switch drives the same code.
TEST(StorageEngine, BufferedIoWorksLikeDirectIo)
{
    temp_dir dir;
    sl_storage_config ec = small_engine_config();
    ec.direct_io = false;
    sl_storage *st = nullptr;
    ASSERT_EQ(sl_storage_create(&ec, &st), SL_STORAGE_OK);
    sl_log_config lc = small_log_config();
    lc.flush_messages = 1;
    std::vector<uint8_t> want;
    sl_log *log = nullptr;
    ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "buf", 0, &lc, nullptr, 0, &log, nullptr),
              SL_STORAGE_OK);
    for (int i = 0; i < 40; i++) {
        auto b = make_seeded_batch(i, 2, 999);
        sl_log_append_result r;
        ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 1, 0, &r), SL_STORAGE_OK);
        auto stored = as_stored(b, r.base_offset, 1);
        want.insert(want.end(), stored.begin(), stored.end());
        if (i % 5 == 0)
            drain(st);
    }
    drain(st);
    EXPECT_EQ(sl_log_durable_end_offset(log), 80);
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    ASSERT_EQ(sl_log_open(st, dir.path.c_str(), "buf", 0, &lc, nullptr, 0, &log, nullptr),
              SL_STORAGE_OK);
    EXPECT_EQ(read_all(st, log, 0), want);
    EXPECT_FALSE(sl_storage_get_stats(st)->direct_io);
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    sl_storage_destroy(st);
}

TEST(StorageEngine, RejectsBadConfigAndNamesErrors)
{
    sl_storage_config c = small_engine_config();
    c.chunk_bytes = 1000;
    sl_storage *st = nullptr;
    EXPECT_EQ(sl_storage_create(&c, &st), SL_STORAGE_ERR_INVALID_ARGUMENT);
    for (int e = 0; e < SL_STORAGE_ERR__COUNT; e++)
        EXPECT_STRNE(sl_storage_strerror((sl_storage_err)e), "unknown storage error");
    sl_log_config lc = small_log_config();
    EXPECT_EQ(sl_log_config_check(&lc), SL_STORAGE_OK);
    lc.max_message_bytes = lc.segment_bytes + 1;
    EXPECT_EQ(sl_log_config_check(&lc), SL_STORAGE_ERR_INVALID_ARGUMENT);
}

} // namespace
