// The shared-memory tail file (storage.tail.shared.memory): appended bytes count as safe at
// once, and a process killed before any write leaves them in the tail file, from which the
// next start writes them to the segment files. The kills are real (SIGKILL of a forked
// child that never submitted a write); the files are real.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/storage/batch_builder.h"
#include "tests/storage/storage_fixture.h"

namespace
{

constexpr int records_per_batch = 3;

std::vector<uint8_t> batch(int64_t index)
{
    return sl_test::make_seeded_batch(77 + (uint64_t)index, records_per_batch,
                                      100 + (size_t)(index * 131 % 3000));
}

std::string tail_file_for(const sl_test::temp_dir &dir)
{
    return "/dev/shm/sluice-test-tail-" + std::to_string(getpid()) + "-" +
           dir.path.substr(dir.path.rfind('/') + 1);
}

sl_storage_config journaled_config(const std::string &tail_file)
{
    sl_storage_config c = sl_test::small_engine_config();
    snprintf(c.tail_file, sizeof(c.tail_file), "%s", tail_file.c_str());
    return c;
}

// Creates an engine with ec and opens partition 0 of topic "t" under dir in it.
void open_log(const sl_storage_config &ec, const std::string &dir, uint32_t segment_bytes,
              sl_storage **st, sl_log **log)
{
    ASSERT_EQ(sl_storage_create(&ec, st), SL_STORAGE_OK);
    sl_log_config lc = sl_test::small_log_config();
    lc.segment_bytes = segment_bytes;
    ASSERT_EQ(sl_log_open(*st, dir.c_str(), "t", 0, &lc, nullptr, 0, log, nullptr), SL_STORAGE_OK);
}

// In a child: opens the log, appends `batches` batches (rolling segments on the way) without
// ever letting the engine submit a write, checks they count as safe, and SIGKILLs itself.
// Exit codes other than the kill say which check failed.
[[noreturn]] void append_and_die(const std::string &dir, const std::string &tail_file,
                                 int64_t first, int64_t batches, uint32_t segment_bytes)
{
    sl_storage_config ec = journaled_config(tail_file);
    sl_storage *st = nullptr;
    if (sl_storage_create(&ec, &st) != SL_STORAGE_OK)
        _exit(10);
    sl_log_config lc = sl_test::small_log_config();
    lc.segment_bytes = segment_bytes;
    sl_log *log = nullptr;
    if (sl_log_open(st, dir.c_str(), "t", 0, &lc, nullptr, 0, &log, nullptr) != SL_STORAGE_OK)
        _exit(11);
    if (sl_log_end_offset(log) != first * records_per_batch)
        _exit(12);
    for (int64_t i = first; i < first + batches; i++) {
        std::vector<uint8_t> b = batch(i);
        sl_log_append_result r;
        if (sl_log_append(log, b.data(), b.size(), nullptr, 0, 5, 0, &r) != SL_STORAGE_OK)
            _exit(13);
        if (sl_log_safe_end_offset(log) != r.log_end_offset)
            _exit(14);
    }
    if (sl_log_written_end_offset(log) >= sl_log_end_offset(log))
        _exit(15); // something was written: the test would not show the replay
    kill(getpid(), SIGKILL);
    _exit(16);
}

void run_child(const std::string &dir, const std::string &tail_file, int64_t first, int64_t batches,
               uint32_t segment_bytes)
{
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        append_and_die(dir, tail_file, first, batches, segment_bytes);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

// Opens the log without a tail file and checks it holds exactly batches [0, count).
void expect_batches(const std::string &dir, int64_t count, uint32_t segment_bytes)
{
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    ASSERT_NO_FATAL_FAILURE(
        open_log(sl_test::small_engine_config(), dir, segment_bytes, &st, &log));
    EXPECT_EQ(sl_log_end_offset(log), count * records_per_batch);
    std::vector<uint8_t> all = sl_test::read_all(st, log, 0);
    std::vector<uint8_t> want;
    for (int64_t i = 0; i < count; i++) {
        std::vector<uint8_t> b = sl_test::as_stored(batch(i), i * records_per_batch, 5);
        want.insert(want.end(), b.begin(), b.end());
    }
    EXPECT_TRUE(all == want) << "read " << all.size() << " bytes, want " << want.size();
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    sl_storage_destroy(st);
}

TEST(TailJournal, AppendsOfAKilledProcessAreReplayedIntoTheirSegments)
{
    sl_test::temp_dir dir;
    std::string tail = tail_file_for(dir);
    const uint32_t segment_bytes = 256 * 1024; // several segments, chunk boundaries inside
    // First run: nothing was ever written; every byte is only in the tail file.
    run_child(dir.path, tail, 0, 120, segment_bytes);
    ASSERT_EQ(access(tail.c_str(), F_OK), 0) << "the killed engine's tail file is gone";
    sl_tail_replay_report rep;
    ASSERT_EQ(sl_storage_replay_tail_file(tail.c_str(), &rep), 0);
    EXPECT_GT(rep.chunks_written, 2u);
    EXPECT_EQ(rep.files_missing, 0u);
    EXPECT_NE(access(tail.c_str(), F_OK), 0) << "replay leaves the tail file behind";
    expect_batches(dir.path, 120, segment_bytes);

    // Second run appends after a partial tail page that is on disk now; replay rewrites the
    // page with the old bytes and the new ones.
    run_child(dir.path, tail, 120, 45, segment_bytes);
    ASSERT_EQ(sl_storage_replay_tail_file(tail.c_str(), &rep), 0);
    EXPECT_GT(rep.bytes_written, 0u);
    expect_batches(dir.path, 165, segment_bytes);
}

TEST(TailJournal, WithoutTheReplayTheKilledProcessesAppendsAreLost)
{
    // The counterpart that shows the test above can fail: the same kill, no replay.
    sl_test::temp_dir dir;
    std::string tail = tail_file_for(dir);
    run_child(dir.path, tail, 0, 40, 1024 * 1024);
    expect_batches(dir.path, 0, 1024 * 1024);
    unlink(tail.c_str());
}

TEST(TailJournal, CleanCloseRemovesTheTailFileAndLeavesNothingToReplay)
{
    sl_test::temp_dir dir;
    std::string tail = tail_file_for(dir);
    const uint32_t segment_bytes = 1024 * 1024;
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    ASSERT_NO_FATAL_FAILURE(open_log(journaled_config(tail), dir.path, segment_bytes, &st, &log));
    EXPECT_TRUE(sl_storage_get_stats(st)->tail_shared_memory);
    for (int64_t i = 0; i < 30; i++) {
        std::vector<uint8_t> b = batch(i);
        sl_log_append_result r;
        ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 5, 0, &r), SL_STORAGE_OK);
        EXPECT_EQ(sl_log_safe_end_offset(log), r.log_end_offset);
    }
    sl_test::drain(st);
    EXPECT_EQ(sl_log_written_end_offset(log), 30 * records_per_batch);
    ASSERT_EQ(access(tail.c_str(), F_OK), 0);
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    sl_storage_destroy(st);
    EXPECT_NE(access(tail.c_str(), F_OK), 0) << "a clean stop leaves its tail file";
    sl_tail_replay_report rep;
    ASSERT_EQ(sl_storage_replay_tail_file(tail.c_str(), &rep), 0); // missing file: fine
    EXPECT_EQ(rep.chunks, 0u);
    expect_batches(dir.path, 30, segment_bytes);
}

TEST(TailJournal, WithoutATailFileTheSafeEndIsTheWrittenEnd)
{
    sl_test::temp_dir dir;
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    ASSERT_NO_FATAL_FAILURE(
        open_log(sl_test::small_engine_config(), dir.path, 1024 * 1024, &st, &log));
    EXPECT_FALSE(sl_storage_get_stats(st)->tail_shared_memory);
    std::vector<uint8_t> b = batch(0);
    sl_log_append_result r;
    ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 5, 0, &r), SL_STORAGE_OK);
    EXPECT_EQ(sl_log_safe_end_offset(log), 0);
    sl_test::drain(st);
    EXPECT_EQ(sl_log_safe_end_offset(log), records_per_batch);
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    sl_storage_destroy(st);
}

// An engine killed while it creates its tail file leaves an empty file, or one whose header
// has no magic yet: no record can be dirty then, so the replay removes it and goes on (the
// storage_crash test found this window with a kill during the child's start).
TEST(TailJournal, ReplayRemovesATailFileKilledBeforeItsHeaderWasComplete)
{
    std::string path = "/dev/shm/sluice-test-unwritten-tail-" + std::to_string(getpid());
    std::vector<std::vector<uint8_t>> contents = {{}, std::vector<uint8_t>(3 * 4096, 0)};
    std::vector<uint8_t> no_magic(3 * 4096, 0);
    no_magic[8] = 1;  // the version
    no_magic[12] = 2; // the record size: everything but the magic
    contents.push_back(no_magic);
    for (const auto &c : contents) {
        FILE *f = fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(fwrite(c.data(), 1, c.size(), f), c.size());
        fclose(f);
        sl_tail_replay_report rep;
        EXPECT_EQ(sl_storage_replay_tail_file(path.c_str(), &rep), 0) << c.size() << " bytes";
        EXPECT_EQ(rep.chunks, 0u);
        EXPECT_NE(access(path.c_str(), F_OK), 0) << "left behind: " << c.size() << " bytes";
        unlink(path.c_str());
    }
}

TEST(TailJournal, ReplayRefusesAFileThatIsNotATailFile)
{
    std::string path = "/dev/shm/sluice-test-not-tail-" + std::to_string(getpid());
    FILE *f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("not a tail file, but long enough to hold a header of forty bytes", f);
    fclose(f);
    sl_tail_replay_report rep;
    EXPECT_EQ(sl_storage_replay_tail_file(path.c_str(), &rep), -EINVAL);
    EXPECT_EQ(access(path.c_str(), F_OK), 0) << "a refused file is kept for the operator";
    unlink(path.c_str());
}

// A second broker on the same data dir must not replay (and remove) the tail file of the
// one running there, nor take it over: the live engine's flock says it is in use.
TEST(TailJournal, ATailFileInUseIsNeitherReplayedNorTakenOver)
{
    sl_test::temp_dir dir;
    std::string tail = tail_file_for(dir);
    sl_storage *st = nullptr;
    sl_log *log = nullptr;
    ASSERT_NO_FATAL_FAILURE(open_log(journaled_config(tail), dir.path, 1024 * 1024, &st, &log));
    std::vector<uint8_t> b = batch(0);
    sl_log_append_result r;
    ASSERT_EQ(sl_log_append(log, b.data(), b.size(), nullptr, 0, 5, 0, &r), SL_STORAGE_OK);

    sl_tail_replay_report rep;
    EXPECT_EQ(sl_storage_replay_tail_file(tail.c_str(), &rep), -EBUSY);
    EXPECT_EQ(access(tail.c_str(), F_OK), 0) << "the live engine's tail file was removed";
    sl_storage_config second = journaled_config(tail);
    sl_storage *other = nullptr;
    EXPECT_NE(sl_storage_create(&second, &other), SL_STORAGE_OK);
    EXPECT_EQ(access(tail.c_str(), F_OK), 0) << "the refused engine removed the file";

    sl_test::drain(st);
    ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
    sl_storage_destroy(st);
    EXPECT_NE(access(tail.c_str(), F_OK), 0);
    expect_batches(dir.path, 1, 1024 * 1024);
}

} // namespace
