// Corruption injection: torn writes, garbage, zeroed pages and bit flips in segment tails
// and indexes. Recovery must cut exactly the bad part, and the log must keep working.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <random>

#include "tests/storage/storage_fixture.h"

using namespace sl_test;

namespace
{

class RecoveryTest : public ::testing::Test
{
  protected:
    temp_dir dir;
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    sl_log_config config = small_log_config();
    sl_storage_config engine_config = small_engine_config();
    sl_log_recovery_report report{};
    std::map<int64_t, std::vector<uint8_t>> expected; // base offset -> stored bytes
    std::map<int64_t, uint64_t> position;             // base offset -> position in its segment
    std::string part_dir;
    int64_t now_ms = 1700000000000;

    void SetUp() override
    {
        ASSERT_EQ(sl_storage_create(&engine_config, &st), SL_STORAGE_OK);
        part_dir = dir.path + "/orders-3";
    }
    void TearDown() override
    {
        if (log != nullptr) {
            EXPECT_EQ(sl_log_close(log), SL_STORAGE_OK);
        }
        sl_storage_destroy(st);
    }
    void open()
    {
        ASSERT_EQ(
            sl_log_open(st, dir.path.c_str(), "orders", 3, &config, nullptr, now_ms, &log, &report),
            SL_STORAGE_OK);
    }
    void close()
    {
        ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
        log = nullptr;
    }
    // Fills the log with n batches of varied sizes, remembering where each one lands.
    void fill(int n, int first_seed = 0)
    {
        for (int i = 0; i < n; i++) {
            auto b = make_seeded_batch(first_seed + i, 1 + i % 4, 200 + (i * 37) % 900);
            std::vector<int64_t> bases(sl_log_segment_count(log));
            sl_log_append_result r;
            ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 5, now_ms, &r),
                      SL_STORAGE_OK);
            expected[r.base_offset] = as_stored(b, r.base_offset, 5);
        }
        drain(st);
        recompute_positions();
    }
    void recompute_positions()
    {
        position.clear();
        std::vector<int64_t> bases(sl_log_segment_count(log));
        sl_log_segment_base_offsets(log, bases.data(), (uint32_t)bases.size());
        uint64_t pos = 0;
        size_t seg = 0;
        for (auto &kv : expected) {
            if (seg + 1 < bases.size() && kv.first >= bases[seg + 1]) {
                seg++;
                pos = 0;
            }
            position[kv.first] = pos;
            pos += kv.second.size();
        }
    }
    // Makes the last close look like a crash: no clean marker, no recovery point.
    void forget_clean_shutdown()
    {
        unlink((part_dir + "/.clean-shutdown").c_str());
        unlink((part_dir + "/recovery-point.checkpoint").c_str());
    }
    std::string seg_file(int64_t base, const char *suffix)
    {
        char name[64];
        snprintf(name, sizeof(name), "/%020lld%s", (long long)base, suffix);
        return part_dir + name;
    }
    static uint64_t file_size(const std::string &path)
    {
        struct stat sb;
        EXPECT_EQ(stat(path.c_str(), &sb), 0);
        return (uint64_t)sb.st_size;
    }
    static void write_at(const std::string &path, uint64_t pos, const std::vector<uint8_t> &bytes)
    {
        int fd = ::open(path.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), (off_t)pos), (ssize_t)bytes.size());
        ::close(fd);
    }
    static void flip_bit(const std::string &path, uint64_t pos, int bit)
    {
        int fd = ::open(path.c_str(), O_RDWR);
        ASSERT_GE(fd, 0);
        uint8_t b;
        ASSERT_EQ(pread(fd, &b, 1, (off_t)pos), 1);
        b ^= (uint8_t)(1u << bit);
        ASSERT_EQ(pwrite(fd, &b, 1, (off_t)pos), 1);
        ::close(fd);
    }
    std::vector<uint8_t> expected_below(int64_t end_offset)
    {
        std::vector<uint8_t> out;
        for (auto &kv : expected)
            if (kv.first < end_offset)
                out.insert(out.end(), kv.second.begin(), kv.second.end());
        return out;
    }
    // After recovery to end_offset: content matches, appends work, a clean reopen agrees.
    void check_recovered_to(int64_t end_offset)
    {
        EXPECT_EQ(sl_log_end_offset(log), end_offset);
        EXPECT_EQ(read_all(st, log, 0), expected_below(end_offset));
        expected.erase(expected.lower_bound(end_offset), expected.end());
        auto b = make_seeded_batch(9999, 3, 100);
        sl_log_append_result r;
        ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 6, now_ms, &r), SL_STORAGE_OK);
        EXPECT_EQ(r.base_offset, end_offset);
        expected[r.base_offset] = as_stored(b, r.base_offset, 6);
        close();
        open();
        EXPECT_TRUE(report.clean_shutdown);
        EXPECT_EQ(read_all(st, log, 0), expected_below(INT64_MAX));
    }
    int64_t nth_last_base(int n)
    {
        auto it = expected.end();
        for (int i = 0; i < n; i++)
            --it;
        return it->first;
    }
};

TEST_F(RecoveryTest, UncleanShutdownWithIntactDataLosesNothing)
{
    open();
    fill(50);
    int64_t leo = sl_log_end_offset(log);
    close();
    forget_clean_shutdown();
    open();
    EXPECT_FALSE(report.clean_shutdown);
    EXPECT_EQ(report.segments_scanned, 1u);
    EXPECT_EQ(report.batches_scanned, 50u);
    EXPECT_EQ(report.bytes_truncated, 0u);
    EXPECT_EQ(report.segments_damaged, 0u);
    check_recovered_to(leo);
}

TEST_F(RecoveryTest, TornWriteInTheLastBatchIsCut)
{
    open();
    fill(40);
    close();
    forget_clean_shutdown();
    int64_t last = nth_last_base(1);
    std::string path = seg_file(0, ".log");
    uint64_t cut = position[last] + expected[last].size() / 2;
    ASSERT_EQ(truncate(path.c_str(), (off_t)cut), 0);
    open();
    EXPECT_EQ(report.bytes_truncated, cut - position[last]);
    EXPECT_EQ(report.segments_damaged, 1u);
    EXPECT_EQ(file_size(path), position[last]);
    check_recovered_to(last);
}

TEST_F(RecoveryTest, GarbageAfterTheLastBatchIsCut)
{
    open();
    fill(30);
    int64_t leo = sl_log_end_offset(log);
    close();
    forget_clean_shutdown();
    std::string path = seg_file(0, ".log");
    uint64_t size = file_size(path);
    std::vector<uint8_t> garbage(5000);
    std::mt19937 rng(7);
    for (auto &g : garbage)
        g = (uint8_t)rng();
    write_at(path, size, garbage);
    open();
    EXPECT_EQ(report.bytes_truncated, garbage.size());
    EXPECT_EQ(file_size(path), size);
    check_recovered_to(leo);
}

TEST_F(RecoveryTest, ZeroedPageCutsFromTheFirstDamagedBatch)
{
    open();
    fill(60);
    close();
    forget_clean_shutdown();
    std::string path = seg_file(0, ".log");
    uint64_t size = file_size(path);
    uint64_t page = (size / 2) & ~4095ull; // a page in the middle of the tail region
    write_at(path, page, std::vector<uint8_t>(4096, 0));
    int64_t first_bad = -1;
    for (auto &kv : position) {
        if (kv.second + expected[kv.first].size() > page) {
            first_bad = kv.first;
            break;
        }
    }
    ASSERT_GE(first_bad, 0);
    open();
    EXPECT_EQ(report.bytes_truncated, size - position[first_bad]);
    check_recovered_to(first_bad);
}

TEST_F(RecoveryTest, BitFlipInATailBatchCutsFromThatBatch)
{
    open();
    fill(40);
    close();
    forget_clean_shutdown();
    int64_t victim = nth_last_base(3);
    std::string path = seg_file(0, ".log");
    uint64_t size = file_size(path);
    // A bit in the records (CRC-covered), then one in the length field of another run.
    flip_bit(path, position[victim] + expected[victim].size() - 5, 3);
    open();
    EXPECT_EQ(report.bytes_truncated, size - position[victim]);
    check_recovered_to(victim);
}

TEST_F(RecoveryTest, BitFlipInABatchLengthIsCaught)
{
    open();
    fill(20);
    close();
    forget_clean_shutdown();
    int64_t victim = nth_last_base(2);
    std::string path = seg_file(0, ".log");
    flip_bit(path, position[victim] + SL_BATCH_OFF_LENGTH + 3, 1);
    open();
    check_recovered_to(victim);
}

TEST_F(RecoveryTest, DamageInAMiddleSegmentDropsEverythingAfterIt)
{
    config.segment_bytes = 16 * 1024;
    config.max_message_bytes = 8 * 1024;
    open();
    fill(80);
    ASSERT_GE(sl_log_segment_count(log), 4u);
    std::vector<int64_t> bases(sl_log_segment_count(log));
    sl_log_segment_base_offsets(log, bases.data(), (uint32_t)bases.size());
    close();
    forget_clean_shutdown(); // no recovery point: every segment is scanned
    // Corrupt the second batch of segment 1.
    auto it = expected.find(bases[1]);
    ++it;
    int64_t victim = it->first;
    flip_bit(seg_file(bases[1], ".log"), position[victim] + 70, 0);
    open();
    EXPECT_EQ(sl_log_segment_count(log), 2u);
    EXPECT_EQ(report.segments_deleted, bases.size() - 2);
    EXPECT_NE(access(seg_file(bases[2], ".log").c_str(), F_OK), 0);
    check_recovered_to(victim);
}

TEST_F(RecoveryTest, SegmentsBelowTheRecoveryPointAreTrusted)
{
    config.segment_bytes = 16 * 1024;
    config.max_message_bytes = 8 * 1024;
    open();
    fill(80);
    int64_t leo = sl_log_end_offset(log);
    ASSERT_EQ(sl_log_write_checkpoints(log), SL_STORAGE_OK);
    close();
    unlink((part_dir + "/.clean-shutdown").c_str()); // keep recovery-point.checkpoint
    open();
    EXPECT_FALSE(report.clean_shutdown);
    EXPECT_EQ(report.segments_scanned, 1u); // only the active segment
    check_recovered_to(leo);
}

TEST_F(RecoveryTest, CorruptOrMissingIndexesAreRebuilt)
{
    config.segment_bytes = 16 * 1024;
    config.max_message_bytes = 8 * 1024;
    open();
    fill(80);
    int64_t leo = sl_log_end_offset(log);
    std::vector<int64_t> bases(sl_log_segment_count(log));
    sl_log_segment_base_offsets(log, bases.data(), (uint32_t)bases.size());
    close();
    // Clean shutdown, but the indexes of segments 0 and 1 are damaged, 2's is gone.
    std::string idx0 = seg_file(bases[0], ".index");
    uint64_t idx0_size = file_size(idx0);
    ASSERT_GT(idx0_size, 16u);
    write_at(idx0, 8, std::vector<uint8_t>(8, 0)); // entry 1 zeroed: not increasing
    std::vector<uint8_t> garbage(13, 0x5A);        // not a multiple of 12
    ASSERT_EQ(truncate(seg_file(bases[1], ".timeindex").c_str(), 0), 0);
    write_at(seg_file(bases[1], ".timeindex"), 0, garbage);
    unlink(seg_file(bases[2], ".index").c_str());
    open();
    EXPECT_TRUE(report.clean_shutdown);
    EXPECT_GE(report.indexes_rebuilt, 3u);
    EXPECT_EQ(report.bytes_truncated, 0u);
    EXPECT_EQ(file_size(idx0), idx0_size); // rewritten with the same entries
    for (auto &kv : expected) {            // every batch is found through the rebuilt indexes
        sl_log_read_result rr;
        ASSERT_EQ(read_blocking(st, log, kv.first, 1, &rr), SL_STORAGE_OK);
        EXPECT_EQ(flatten(rr), kv.second);
        sl_log_read_release(st, &rr);
    }
    int64_t off, ts;
    ASSERT_EQ(offset_for_time_blocking(st, log, 0, &off, &ts), SL_STORAGE_OK);
    EXPECT_EQ(off, 0);
    check_recovered_to(leo);
}

TEST_F(RecoveryTest, TornIndexTailInTheActiveSegmentIsIgnored)
{
    open();
    fill(60);
    int64_t leo = sl_log_end_offset(log);
    close();
    forget_clean_shutdown();
    std::string idx = seg_file(0, ".index");
    uint64_t size = file_size(idx);
    ASSERT_EQ(truncate(idx.c_str(), (off_t)(size - 3)), 0); // a torn entry
    open();
    EXPECT_EQ(report.bytes_truncated, 0u);
    EXPECT_EQ(file_size(idx) % 8, 0u);
    check_recovered_to(leo);
}

} // namespace
