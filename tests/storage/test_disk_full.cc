// A full disk is an error the log returns and keeps, never a crash. Runs in a child with
// a private mount namespace holding a 1 MiB tmpfs, so nothing leaks into the host.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/storage/storage_fixture.h"

using namespace sl_test;

namespace
{

enum child_exit {
    CHILD_OK = 0,
    CHILD_NO_NAMESPACE = 77,
    CHILD_SETUP_FAILED = 10,
    CHILD_NEVER_FULL = 11,
    CHILD_WRONG_ERROR = 12,
    CHILD_READ_FAILED = 13,
};

struct seen_error {
    sl_storage_err err = SL_STORAGE_OK;
};

void on_progress(void *ctx, sl_log *, int64_t, int64_t, sl_storage_err err)
{
    if (err != SL_STORAGE_OK)
        static_cast<seen_error *>(ctx)->err = err;
}

int fill_until_full(const std::string &dir)
{
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return CHILD_NO_NAMESPACE;
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0)
        return CHILD_NO_NAMESPACE;
    sl_storage_config ec = small_engine_config();
    sl_storage *st = nullptr;
    if (sl_storage_create(&ec, &st) != SL_STORAGE_OK)
        return CHILD_SETUP_FAILED;
    sl_log_config lc = small_log_config();
    lc.flush_messages = 1;
    seen_error seen;
    sl_log_callbacks cb = {on_progress, &seen};
    sl_log *log = nullptr;
    if (sl_log_open(st, dir.c_str(), "full", 0, &lc, &cb, 0, &log, nullptr) != SL_STORAGE_OK)
        return CHILD_SETUP_FAILED;
    sl_storage_err err = SL_STORAGE_OK;
    for (int i = 0; i < 1000 && err == SL_STORAGE_OK; i++) {
        auto b = make_seeded_batch(i, 4, 2000); // 8 KiB: 1 MiB fills after ~128
        sl_log_append_result r;
        err = sl_log_append(log, b.data(), b.size(), nullptr, 0, 1, 0, &r);
        if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY)
            err = SL_STORAGE_OK; // backpressure, not the disk: wait below and go on
        for (int j = 0; j < 100 && !sl_storage_idle(st); j++)
            sl_storage_wait(st, 0, 10);
    }
    if (err == SL_STORAGE_OK)
        return CHILD_NEVER_FULL;
    if (err != SL_STORAGE_ERR_NO_SPACE || seen.err != SL_STORAGE_ERR_NO_SPACE ||
        sl_log_failure(log) != SL_STORAGE_ERR_NO_SPACE)
        return CHILD_WRONG_ERROR;
    // What was appended is still readable, and close reports the failure without aborting.
    sl_log_read_result rr;
    if (read_blocking(st, log, 0, 1 << 20, &rr) != SL_STORAGE_OK || rr.batch_count == 0)
        return CHILD_READ_FAILED;
    sl_log_read_release(st, &rr);
    if (sl_log_close(log) != SL_STORAGE_ERR_NO_SPACE)
        return CHILD_WRONG_ERROR;
    sl_storage_destroy(st);
    return CHILD_OK;
}

TEST(StorageDiskFull, NoSpaceIsReturnedAndSticky)
{
    temp_dir dir;
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0)
        _exit(fill_until_full(dir.path));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died: status " << status;
    if (WEXITSTATUS(status) == CHILD_NO_NAMESPACE)
        GTEST_SKIP() << "needs CAP_SYS_ADMIN for a private tmpfs (run as root)";
    EXPECT_EQ(WEXITSTATUS(status), CHILD_OK);
}

} // namespace
