// Shared helpers for storage tests: a temp directory on a real file system, an engine,
// blocking wrappers around the asynchronous read paths.
#ifndef SL_TESTS_STORAGE_FIXTURE_H
#define SL_TESTS_STORAGE_FIXTURE_H

#include <ftw.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "storage/log.h"
#include "tests/storage/batch_builder.h"

namespace sl_test
{

inline int remove_entry(const char *path, const struct stat *, int, struct FTW *)
{
    return remove(path);
}

// mkdtemp under $SL_TEST_DIR (the build dir, set by meson) or /tmp; removed in destructor.
struct temp_dir {
    std::string path;
    temp_dir()
    {
        const char *base = getenv("SL_TEST_DIR");
        std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/sl-storage-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr)
            abort();
        path = buf.data();
    }
    ~temp_dir()
    {
        nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
};

inline sl_storage_config small_engine_config(uint32_t chunk_bytes = 64 * 1024,
                                             uint64_t cache_bytes = 8 * 1024 * 1024)
{
    sl_storage_config c;
    sl_storage_config_default(&c);
    c.chunk_bytes = chunk_bytes;
    c.cache_bytes = cache_bytes;
    c.queue_depth = 64;
    c.read_ops_max = 16;
    return c;
}

inline sl_log_config small_log_config()
{
    sl_log_config c;
    sl_log_config_default(&c);
    c.max_message_bytes = 256 * 1024;
    c.segment_bytes = 8 * 1024 * 1024;
    c.index_interval_bytes = 1024;
    c.segment_index_bytes = 64 * 1024;
    return c;
}

inline void drain(sl_storage *st)
{
    for (int i = 0; i < 10000 && !sl_storage_idle(st); i++)
        sl_storage_wait(st, 0, 50);
    ASSERT_TRUE(sl_storage_idle(st));
}

struct read_wait {
    bool done = false;
    sl_log_read_result *result = nullptr;
};

inline void on_read(void *ctx, sl_log *, sl_log_read_result *result)
{
    auto *w = static_cast<read_wait *>(ctx);
    w->done = true;
    w->result = result;
}

// Reads synchronously or by waiting for the callback. Returns the final error.
inline sl_storage_err read_blocking(sl_storage *st, sl_log *log, int64_t offset, uint32_t max_bytes,
                                    sl_log_read_result *r, int64_t max_offset = INT64_MAX,
                                    bool *went_async = nullptr)
{
    read_wait w;
    sl_storage_err err = sl_log_read(log, offset, max_offset, max_bytes, r, on_read, &w);
    if (went_async != nullptr)
        *went_async = err == SL_STORAGE_IN_PROGRESS;
    if (err != SL_STORAGE_IN_PROGRESS)
        return err;
    for (int i = 0; i < 10000 && !w.done; i++)
        sl_storage_wait(st, 0, 50);
    if (!w.done)
        return SL_STORAGE_ERR__COUNT;
    return r->err;
}

// Concatenated bytes of a read result.
inline std::vector<uint8_t> flatten(const sl_log_read_result &r)
{
    std::vector<uint8_t> out;
    for (uint32_t i = 0; i < r.slice_count; i++)
        out.insert(out.end(), r.slices[i].data, r.slices[i].data + r.slices[i].len);
    return out;
}

// Reads the whole log [from, LEO) batch-complete; returns the bytes.
inline std::vector<uint8_t> read_all(sl_storage *st, sl_log *log, int64_t from)
{
    std::vector<uint8_t> out;
    int64_t offset = from;
    while (offset < sl_log_end_offset(log)) {
        sl_log_read_result r;
        sl_storage_err err = read_blocking(st, log, offset, 1 << 20, &r);
        EXPECT_EQ(err, SL_STORAGE_OK) << sl_storage_strerror(err) << " at " << offset;
        if (err != SL_STORAGE_OK || r.batch_count == 0)
            break;
        std::vector<uint8_t> bytes = flatten(r);
        out.insert(out.end(), bytes.begin(), bytes.end());
        offset = r.next_offset;
        sl_log_read_release(st, &r);
    }
    return out;
}

struct lookup_wait {
    bool done = false;
    sl_storage_err err = SL_STORAGE_OK;
    int64_t offset = -1;
    int64_t timestamp = -1;
};

inline void on_lookup(void *ctx, sl_log *, sl_storage_err err, int64_t offset, int64_t ts)
{
    auto *w = static_cast<lookup_wait *>(ctx);
    w->done = true;
    w->err = err;
    w->offset = offset;
    w->timestamp = ts;
}

inline sl_storage_err offset_for_time_blocking(sl_storage *st, sl_log *log, int64_t ts,
                                               int64_t *offset, int64_t *batch_ts)
{
    lookup_wait w;
    sl_storage_err err = sl_log_offset_for_timestamp(log, ts, offset, batch_ts, on_lookup, &w);
    if (err != SL_STORAGE_IN_PROGRESS)
        return err;
    for (int i = 0; i < 10000 && !w.done; i++)
        sl_storage_wait(st, 0, 50);
    return w.done ? w.err : SL_STORAGE_ERR__COUNT;
}

} // namespace sl_test

#endif
