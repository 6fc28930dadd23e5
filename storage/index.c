/* Offset and time indexes; see index.h. */
#include "storage/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"

int sl_index_init(struct sl_index *index, uint32_t entry_bytes, uint32_t capacity)
{
    SL_ASSERT(entry_bytes == SL_OFFSET_INDEX_ENTRY_BYTES ||
              entry_bytes == SL_TIME_INDEX_ENTRY_BYTES);
    SL_ASSERT(capacity > 0);
    index->bytes = malloc((size_t)entry_bytes * capacity);
    if (index->bytes == NULL)
        return -ENOMEM;
    index->entry_bytes = entry_bytes;
    index->count = 0;
    index->capacity = capacity;
    return 0;
}

void sl_index_fini(struct sl_index *index)
{
    free(index->bytes);
    memset(index, 0, sizeof(*index));
}

int sl_index_set_capacity(struct sl_index *index, uint32_t capacity)
{
    capacity = capacity > index->count ? capacity : index->count;
    if (capacity == 0)
        capacity = 1; /* keep a valid allocation */
    if (index->bytes != NULL && capacity == index->capacity)
        return 0; /* a realloc to the same size may copy it all (it does under ASan) */
    uint8_t *bytes = realloc(index->bytes, (size_t)capacity * index->entry_bytes);
    if (bytes == NULL)
        return -ENOMEM;
    index->bytes = bytes;
    index->capacity = capacity;
    return 0;
}

void sl_offset_index_append(struct sl_index *index, uint32_t relative_offset, uint32_t position)
{
    SL_ASSERT(index->entry_bytes == SL_OFFSET_INDEX_ENTRY_BYTES);
    SL_ASSERT(index->count < index->capacity);
    if (index->count > 0) {
        uint32_t last_rel, last_pos;
        sl_offset_index_entry(index, index->count - 1, &last_rel, &last_pos);
        SL_ASSERT(relative_offset > last_rel);
        SL_ASSERT(position > last_pos);
    }
    uint8_t *p = index->bytes + (size_t)index->count * SL_OFFSET_INDEX_ENTRY_BYTES;
    sl_store_be32(p, relative_offset);
    sl_store_be32(p + 4, position);
    index->count++;
}

void sl_offset_index_entry(const struct sl_index *index, uint32_t i, uint32_t *relative_offset,
                           uint32_t *position)
{
    SL_ASSERT(i < index->count);
    const uint8_t *p = index->bytes + (size_t)i * SL_OFFSET_INDEX_ENTRY_BYTES;
    *relative_offset = sl_load_be32(p);
    *position = sl_load_be32(p + 4);
}

/* Number of entries whose key (first field) is <= target; keys strictly increase. */
static uint32_t upper_bound_u32(const struct sl_index *index, uint32_t target)
{
    uint32_t lo = 0, hi = index->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t key = sl_load_be32(index->bytes + (size_t)mid * index->entry_bytes);
        if (key <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t sl_offset_index_lookup(const struct sl_index *index, uint32_t relative_offset)
{
    uint32_t n = upper_bound_u32(index, relative_offset);
    if (n == 0)
        return 0;
    uint32_t rel, pos;
    sl_offset_index_entry(index, n - 1, &rel, &pos);
    return pos;
}

void sl_offset_index_truncate(struct sl_index *index, uint32_t relative_offset)
{
    uint32_t keep = relative_offset == 0 ? 0 : upper_bound_u32(index, relative_offset - 1);
    index->count = keep;
}

void sl_time_index_append(struct sl_index *index, int64_t timestamp, uint32_t relative_offset)
{
    SL_ASSERT(index->entry_bytes == SL_TIME_INDEX_ENTRY_BYTES);
    SL_ASSERT(index->count < index->capacity);
    if (index->count > 0) {
        int64_t last_ts;
        uint32_t last_rel;
        sl_time_index_entry(index, index->count - 1, &last_ts, &last_rel);
        SL_ASSERT(timestamp > last_ts);
        SL_ASSERT(relative_offset >= last_rel);
    }
    uint8_t *p = index->bytes + (size_t)index->count * SL_TIME_INDEX_ENTRY_BYTES;
    sl_store_be64(p, (uint64_t)timestamp);
    sl_store_be32(p + 8, relative_offset);
    index->count++;
}

void sl_time_index_entry(const struct sl_index *index, uint32_t i, int64_t *timestamp,
                         uint32_t *relative_offset)
{
    SL_ASSERT(i < index->count);
    const uint8_t *p = index->bytes + (size_t)i * SL_TIME_INDEX_ENTRY_BYTES;
    *timestamp = (int64_t)sl_load_be64(p);
    *relative_offset = sl_load_be32(p + 8);
}

uint32_t sl_time_index_lookup(const struct sl_index *index, int64_t timestamp)
{
    uint32_t lo = 0, hi = index->count;
    while (lo < hi) { /* count of entries with ts < target */
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t ts = (int64_t)sl_load_be64(index->bytes + (size_t)mid * SL_TIME_INDEX_ENTRY_BYTES);
        if (ts < timestamp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    int64_t ts;
    uint32_t rel;
    sl_time_index_entry(index, lo - 1, &ts, &rel);
    return rel;
}

void sl_time_index_truncate(struct sl_index *index, uint32_t relative_offset)
{
    uint32_t keep = 0;
    while (keep < index->count) {
        int64_t ts;
        uint32_t rel;
        sl_time_index_entry(index, keep, &ts, &rel);
        if (rel >= relative_offset)
            break;
        keep++;
    }
    index->count = keep;
}

static bool entries_valid(const struct sl_index *index, uint32_t segment_bytes,
                          uint32_t max_relative_offset)
{
    for (uint32_t i = 0; i < index->count; i++) {
        if (index->entry_bytes == SL_OFFSET_INDEX_ENTRY_BYTES) {
            uint32_t rel, pos, prev_rel = 0, prev_pos = 0;
            sl_offset_index_entry(index, i, &rel, &pos);
            if (i > 0)
                sl_offset_index_entry(index, i - 1, &prev_rel, &prev_pos);
            if (pos >= segment_bytes || rel > max_relative_offset)
                return false;
            if (i > 0 && (rel <= prev_rel || pos <= prev_pos))
                return false;
        } else {
            int64_t ts, prev_ts = 0;
            uint32_t rel, prev_rel = 0;
            sl_time_index_entry(index, i, &ts, &rel);
            if (i > 0)
                sl_time_index_entry(index, i - 1, &prev_ts, &prev_rel);
            if (rel > max_relative_offset)
                return false;
            if (i > 0 && (ts <= prev_ts || rel < prev_rel))
                return false;
        }
    }
    return true;
}

int sl_index_load(struct sl_index *index, const char *path, uint32_t segment_bytes,
                  uint32_t max_relative_offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto close_fd;
    }
    if (st.st_size % index->entry_bytes != 0 || st.st_size / index->entry_bytes > UINT32_MAX) {
        rc = -EBADMSG;
        goto close_fd;
    }
    uint32_t count = (uint32_t)(st.st_size / index->entry_bytes);
    if (count > index->capacity) {
        uint8_t *bigger = realloc(index->bytes, (size_t)count * index->entry_bytes);
        if (bigger == NULL) {
            rc = -ENOMEM;
            goto close_fd;
        }
        index->bytes = bigger;
        index->capacity = count;
    }
    size_t want = (size_t)count * index->entry_bytes, got = 0;
    while (got < want) {
        ssize_t n = pread(fd, index->bytes + got, want - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EBADMSG;
            goto close_fd;
        }
        got += (size_t)n;
    }
    index->count = count;
    if (!entries_valid(index, segment_bytes, max_relative_offset)) {
        index->count = 0;
        rc = -EBADMSG;
    }
close_fd:
    close(fd);
    return rc;
}

int sl_index_save(const struct sl_index *index, const char *path, bool sync)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t want = (size_t)index->count * index->entry_bytes, done = 0;
    int rc = 0;
    while (done < want) {
        ssize_t n = pwrite(fd, index->bytes + done, want - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        done += (size_t)n;
    }
    if (rc == 0 && sync && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}
