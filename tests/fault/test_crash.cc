// Crash test with a real process: a child appends and is SIGKILLed at random points,
// many times over the same log, acknowledging either at the durable end
// (flush.messages=1), at the written end (default flush policy), or, with a shared-memory
// tail file, at once (the parent then replays the tail file before reopening). After each kill the
// log is reopened (recovery) and checked: every acknowledged batch is present and byte-identical,
// every visible batch is exactly one the child wrote, nothing torn is visible. SL_CRASH_SEED=<n>
// replays a run; SL_CRASH_ITERATIONS overrides the count.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <random>
#include <string>

#include "tests/fault/crash_batches.h"
#include "tests/storage/storage_fixture.h"

namespace
{

int64_t monotonic_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct child_run {
    int64_t max_acked = -1;
    int acks = 0;
};

// Starts the child, collects ACK lines for run_ms, then SIGKILLs it.
child_run run_and_kill(const char *child_path, const std::string &dir, uint64_t seed,
                       const char *mode, const std::string &tail_file, int64_t run_ms)
{
    child_run out;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        std::string seed_arg = std::to_string(seed);
        execl(child_path, child_path, dir.c_str(), seed_arg.c_str(), mode,
              tail_file.empty() ? (char *)nullptr : tail_file.c_str(), (char *)nullptr);
        _exit(127);
    }
    EXPECT_GT(pid, 0);
    close(fds[1]);
    std::string pending;
    auto consume = [&](bool block_until_eof) {
        char buf[4096];
        for (;;) {
            struct pollfd p = {fds[0], POLLIN, 0};
            int timeout = block_until_eof ? 1000 : 0;
            if (poll(&p, 1, timeout) <= 0)
                return;
            ssize_t n = read(fds[0], buf, sizeof(buf));
            if (n <= 0)
                return;
            pending.append(buf, (size_t)n);
            size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                std::string line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                if (line.rfind("ACK ", 0) == 0) {
                    out.max_acked = std::max(out.max_acked, (int64_t)std::stoll(line.substr(4)));
                    out.acks++;
                }
            }
        }
    };
    int64_t deadline = monotonic_ms() + run_ms;
    while (monotonic_ms() < deadline) {
        struct pollfd p = {fds[0], POLLIN, 0};
        poll(&p, 1, (int)std::max<int64_t>(1, deadline - monotonic_ms()));
        consume(false);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    consume(true); // acks written before the kill are still in the pipe
    close(fds[0]);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited by itself, status " << status;
    return out;
}

void crash_many_times(const char *mode, bool durable_mode, bool memory_mode = false)
{
    const char *child = getenv("SL_CRASH_CHILD");
    ASSERT_NE(child, nullptr) << "SL_CRASH_CHILD must name the crash_child executable";
    uint64_t seed = (uint64_t)time(nullptr);
    if (const char *s = getenv("SL_CRASH_SEED"))
        seed = strtoull(s, nullptr, 10);
    int iterations = 25;
    if (const char *s = getenv("SL_CRASH_ITERATIONS"))
        iterations = atoi(s);
    printf("crash test (%s) seed %llu (SL_CRASH_SEED=%llu replays), %d iterations\n", mode,
           (unsigned long long)seed, (unsigned long long)seed, iterations);
    std::mt19937_64 rng(seed);
    sl_test::temp_dir dir;
    struct remove_tail_file {
        std::string path;
        ~remove_tail_file()
        {
            if (!path.empty())
                unlink(path.c_str()); // a failed iteration leaves no memory in /dev/shm
        }
    } tail;
    if (memory_mode)
        tail.path = "/dev/shm/sluice-crash-tail-" + std::to_string(getpid());
    const std::string &tail_file = tail.path;
    uint64_t replayed_bytes = 0;

    sl_storage_config ec = sl_crash::engine_config();
    sl_log_config lc = sl_crash::log_config(durable_mode);
    int64_t max_acked_ever = -1;
    int torn = 0, total_acks = 0;
    int64_t start_ms = monotonic_ms();
    for (int it = 0; it < iterations; it++) {
        // Mostly mid-run kills; sometimes very early (during the child's open/recovery).
        int64_t run_ms = rng() % 8 == 0 ? (int64_t)(rng() % 5) : 10 + (int64_t)(rng() % 150);
        child_run r = run_and_kill(child, dir.path, seed, mode, tail_file, run_ms);
        max_acked_ever = std::max(max_acked_ever, r.max_acked);
        total_acks += r.acks;
        if (memory_mode) {
            sl_tail_replay_report tr;
            ASSERT_EQ(sl_storage_replay_tail_file(tail_file.c_str(), &tr), 0) << "iteration " << it;
            replayed_bytes += tr.bytes_written;
        }

        sl_storage *st = nullptr;
        ASSERT_EQ(sl_storage_create(&ec, &st), SL_STORAGE_OK);
        sl_log *log = nullptr;
        sl_log_recovery_report rep;
        ASSERT_EQ(
            sl_log_open(st, dir.path.c_str(), sl_crash::topic, 0, &lc, nullptr, 0, &log, &rep),
            SL_STORAGE_OK)
            << "iteration " << it << " seed " << seed;
        if (rep.segments_damaged > 0)
            torn++;
        int64_t leo = sl_log_end_offset(log);
        ASSERT_EQ(leo % sl_crash::records_per_batch, 0) << "iteration " << it;
        int64_t batches = leo / sl_crash::records_per_batch;
        ASSERT_GT(batches, max_acked_ever) << "acknowledged batch " << max_acked_ever
                                           << " lost; iteration " << it << " seed " << seed;
        // Every visible byte is exactly what the child wrote, batch by batch.
        std::vector<uint8_t> all = sl_test::read_all(st, log, 0);
        size_t pos = 0;
        for (int64_t i = 0; i < batches; i++) {
            std::vector<uint8_t> want = sl_test::as_stored(
                sl_crash::batch(seed, i), i * sl_crash::records_per_batch, sl_crash::leader_epoch);
            ASSERT_LE(pos + want.size(), all.size()) << "batch " << i << " missing";
            ASSERT_TRUE(std::equal(want.begin(), want.end(), all.begin() + (long)pos))
                << "batch " << i << " differs; iteration " << it << " seed " << seed;
            pos += want.size();
        }
        ASSERT_EQ(pos, all.size()) << "bytes past the last whole batch are visible";
        ASSERT_EQ(sl_log_close(log), SL_STORAGE_OK);
        sl_storage_destroy(st);
    }
    printf(
        "crash test (%s): %d iterations, %d acks, %lld batches acknowledged at most, %d reopen(s) "
        "found a torn batch, %lld ms\n",
        mode, iterations, total_acks, (long long)max_acked_ever + 1, torn,
        (long long)(monotonic_ms() - start_ms));
    EXPECT_GT(total_acks, 0);
    if (memory_mode) {
        printf("crash test (%s): %llu bytes replayed from the tail file\n", mode,
               (unsigned long long)replayed_bytes);
        EXPECT_GT(replayed_bytes, 0u);
    }
}

TEST(StorageCrash, DurableAcknowledgementsSurviveSigkill)
{
    crash_many_times("durable", true);
}

TEST(StorageCrash, WrittenAcknowledgementsSurviveSigkill)
{
    crash_many_times("written", false);
}

TEST(StorageCrash, SharedMemoryAcknowledgementsSurviveSigkill)
{
    crash_many_times("memory", false, true);
}

} // namespace
