/* Read path: find the batch holding an offset (offset index, then a header walk), slice
 * whole batches out of cache chunks, load cold chunks with io_uring reads; timestamp
 * lookups over the same walk. */
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"

enum walk_status {
    WALK_OK = 0,
    WALK_MISS, /* a chunk must be loaded: see struct walk_miss */
    WALK_WAIT, /* a chunk is being loaded by someone else */
    WALK_FAIL, /* cached bytes do not cover what the segment claims */
};

struct walk_miss {
    struct sl_segment *segment;
    uint32_t chunk_index;
};

/* The cache entry holding file position pos of seg and how many bytes from pos it holds. */
static enum walk_status chunk_at(struct sl_log *log, struct sl_segment *seg, uint32_t pos,
                                 struct sl_cache_entry **out, uint32_t *avail,
                                 struct walk_miss *miss)
{
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    uint32_t index = pos / cb;
    struct sl_cache_entry *e = sl_cache_lookup(&st->cache, seg->id, index);
    if (e == NULL) {
        miss->segment = seg;
        miss->chunk_index = index;
        return WALK_MISS;
    }
    if (e->state == SL_CACHE_LOADING)
        return WALK_WAIT;
    uint32_t chunk_start = index * cb;
    uint32_t valid =
        e->state == SL_CACHE_DIRTY ? SL_MIN(cb, seg->size_bytes - chunk_start) : e->valid_bytes;
    uint32_t needed_end = SL_MIN(seg->size_bytes - chunk_start, cb);
    if (valid < needed_end)
        return WALK_FAIL;
    *out = e;
    *avail = needed_end - (pos - chunk_start);
    return WALK_OK;
}

/* Copies the 61-byte header at pos (it may straddle two chunks). */
static enum walk_status header_at(struct sl_log *log, struct sl_segment *seg, uint32_t pos,
                                  struct sl_batch_info *info, struct walk_miss *miss)
{
    uint8_t header[SL_BATCH_HEADER_BYTES];
    uint32_t copied = 0;
    uint32_t cb = log->storage->config.chunk_bytes;
    if ((uint64_t)pos + SL_BATCH_HEADER_BYTES > seg->size_bytes)
        return WALK_FAIL;
    while (copied < SL_BATCH_HEADER_BYTES) {
        struct sl_cache_entry *e;
        uint32_t avail;
        enum walk_status s = chunk_at(log, seg, pos + copied, &e, &avail, miss);
        if (s != WALK_OK)
            return s;
        uint32_t n = SL_MIN(avail, SL_BATCH_HEADER_BYTES - copied);
        memcpy(header + copied, e->chunk + (pos + copied) % cb, n);
        copied += n;
    }
    if (sl_batch_parse_header(header, sizeof(header), info) != SL_STORAGE_OK)
        return WALK_FAIL;
    if ((uint64_t)pos + info->size_bytes > seg->size_bytes)
        return WALK_FAIL;
    return WALK_OK;
}

uint32_t sl_log_find_segment(const struct sl_log *log, int64_t offset)
{
    uint32_t lo = 0, hi = log->segment_count;
    while (lo < hi) { /* count of segments with base <= offset */
        uint32_t mid = lo + (hi - lo) / 2;
        if (log->segments[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

/* Position in seg of the batch containing offset (or the first one after it). */
static enum walk_status find_batch(struct sl_log *log, struct sl_segment *seg, int64_t offset,
                                   uint32_t *pos_out, struct walk_miss *miss)
{
    uint32_t rel = offset > seg->base_offset ? (uint32_t)(offset - seg->base_offset) : 0;
    uint32_t pos = sl_offset_index_lookup(&seg->offset_index, rel);
    while (pos < seg->size_bytes) {
        struct sl_batch_info info;
        enum walk_status s = header_at(log, seg, pos, &info, miss);
        if (s != WALK_OK)
            return s;
        if (sl_batch_last_offset(&info) >= offset)
            break;
        pos += info.size_bytes;
    }
    *pos_out = pos;
    return WALK_OK;
}

/* Adds slices for [pos, pos+len) of seg; on anything but OK the result is unchanged. */
static enum walk_status add_slices(struct sl_log *log, struct sl_segment *seg, uint32_t pos,
                                   uint32_t len, struct sl_log_read_result *r,
                                   struct walk_miss *miss, bool *full)
{
    uint32_t cb = log->storage->config.chunk_bytes;
    uint32_t slice_count = r->slice_count;
    struct sl_log_slice added[SL_LOG_READ_SLICES_MAX];
    uint32_t added_count = 0;
    bool merged_last = false;
    uint32_t merged_extra = 0;
    while (len > 0) {
        struct sl_cache_entry *e;
        uint32_t avail;
        enum walk_status s = chunk_at(log, seg, pos, &e, &avail, miss);
        if (s != WALK_OK)
            return s;
        uint32_t n = SL_MIN(avail, len);
        const uint8_t *data = e->chunk + pos % cb;
        if (added_count == 0 && slice_count > 0 &&
            r->slices[slice_count - 1].data + r->slices[slice_count - 1].len == data &&
            (pos % cb) != 0) {
            merged_last = true;
            merged_extra = n;
        } else {
            if (slice_count + added_count == SL_LOG_READ_SLICES_MAX) {
                *full = true;
                return WALK_OK;
            }
            added[added_count++] = (struct sl_log_slice){data, n};
        }
        pos += n;
        len -= n;
    }
    if (merged_last)
        r->slices[slice_count - 1].len += merged_extra;
    for (uint32_t i = 0; i < added_count; i++)
        r->slices[r->slice_count++] = added[i];
    return WALK_OK;
}

static void result_reset(struct sl_log *log, struct sl_log_read_result *r, int64_t offset)
{
    r->err = SL_STORAGE_OK;
    r->first_offset = offset;
    r->next_offset = offset;
    r->bytes = 0;
    r->batch_count = 0;
    r->slice_count = 0;
    r->log_start_offset = log->log_start_offset;
    r->log_end_offset = log->log_end_offset;
}

/* On WALK_OK with batches, *stop is where the walk ended: the chunk a sequential
 * reader's next fetch starts in. */
static enum walk_status fetch_attempt(struct sl_log *log, int64_t offset, int64_t max_offset,
                                      uint32_t max_bytes, struct sl_log_read_result *r,
                                      struct walk_miss *miss, struct walk_miss *stop)
{
    result_reset(log, r, offset);
    if (offset < log->log_start_offset || offset > log->log_end_offset) {
        r->err = SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE;
        return WALK_OK;
    }
    if (offset == log->log_end_offset)
        return WALK_OK;
    uint32_t si = sl_log_find_segment(log, offset);
    while (si + 1 < log->segment_count && log->segments[si]->next_offset <= offset)
        si++;
    struct sl_segment *seg = log->segments[si];
    uint32_t pos;
    enum walk_status s = find_batch(log, seg, offset, &pos, miss);
    if (s != WALK_OK)
        return s;
    for (;;) {
        if (pos >= seg->size_bytes) {
            if (si + 1 >= log->segment_count)
                break;
            seg = log->segments[++si];
            pos = 0;
            continue;
        }
        struct sl_batch_info info;
        s = header_at(log, seg, pos, &info, miss);
        if (s != WALK_OK)
            break;
        if (info.base_offset >= max_offset)
            break;
        if (r->batch_count > 0 && (uint64_t)r->bytes + info.size_bytes > max_bytes)
            break;
        bool full = false;
        s = add_slices(log, seg, pos, info.size_bytes, r, miss, &full);
        if (s != WALK_OK || full)
            break;
        if (r->batch_count == 0)
            r->first_offset = info.base_offset;
        r->bytes += info.size_bytes;
        r->batch_count++;
        r->next_offset = sl_batch_last_offset(&info) + 1;
        pos += info.size_bytes;
    }
    /* Whatever was found before a miss is a valid answer; a miss on the first batch
     * (or a corrupt cache) is not. */
    if (r->batch_count == 0 && s != WALK_OK) {
        r->slice_count = 0;
        return s;
    }
    struct sl_storage *st = log->storage;
    for (uint32_t i = 0; i < r->slice_count; i++)
        sl_mem_pool_ref(&st->pool, r->slices[i].data);
    stop->segment = seg;
    stop->chunk_index = pos / st->config.chunk_bytes;
    return WALK_OK;
}

/* Sequential reader over a segment's cached bytes in [pos, end). */
struct byte_cursor {
    struct sl_log *log;
    struct sl_segment *seg;
    uint32_t pos;
    uint32_t end;
    const uint8_t *p;
    uint32_t avail; /* bytes readable at p without another chunk lookup */
    struct walk_miss *miss;
    enum walk_status status;
};

static bool cursor_byte(struct byte_cursor *c, uint8_t *out)
{
    if (c->pos >= c->end) {
        c->status = WALK_FAIL;
        return false;
    }
    if (c->avail == 0) {
        struct sl_cache_entry *e;
        enum walk_status s = chunk_at(c->log, c->seg, c->pos, &e, &c->avail, c->miss);
        if (s != WALK_OK) {
            c->status = s;
            return false;
        }
        c->p = e->chunk + c->pos % c->log->storage->config.chunk_bytes;
    }
    *out = *c->p++;
    c->avail--;
    c->pos++;
    return true;
}

/* Kafka's zigzag varint (also used for varlong fields). */
static bool cursor_varint(struct byte_cursor *c, int64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (!cursor_byte(c, &b))
            return false;
        v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return true;
        }
    }
    c->status = WALK_FAIL;
    return false;
}

static bool cursor_skip(struct byte_cursor *c, uint64_t n)
{
    if (n > c->end - c->pos) {
        c->status = WALK_FAIL;
        return false;
    }
    if (n <= c->avail) {
        c->p += n;
        c->avail -= (uint32_t)n;
    } else {
        c->avail = 0;
    }
    c->pos += (uint32_t)n;
    return true;
}

/* The first record with timestamp >= target in the batch at pos. Only record headers of
 * uncompressed, CreateTime batches are read (never decompressed); otherwise, or if the
 * records do not parse, the answer is the batch itself (base offset, max timestamp). */
static enum walk_status first_record_from(struct sl_log *log, struct sl_segment *seg, uint32_t pos,
                                          const struct sl_batch_info *info, int64_t target,
                                          int64_t *offset, int64_t *timestamp,
                                          struct walk_miss *miss)
{
    *offset = info->base_offset;
    *timestamp = info->max_timestamp;
    if ((info->attributes &
         (SL_BATCH_ATTR_COMPRESSION_MASK | SL_BATCH_ATTR_TIMESTAMP_LOG_APPEND)) != 0)
        return WALK_OK;
    struct byte_cursor c = {
        log, seg, pos + SL_BATCH_HEADER_BYTES, pos + info->size_bytes, NULL, 0, miss, WALK_OK};
    for (int32_t i = 0; i < info->record_count; i++) {
        int64_t length, timestamp_delta, offset_delta;
        uint8_t attributes;
        if (!cursor_varint(&c, &length))
            break;
        uint32_t body = c.pos;
        if (length < 0 || !cursor_byte(&c, &attributes) || !cursor_varint(&c, &timestamp_delta) ||
            !cursor_varint(&c, &offset_delta))
            break;
        if (offset_delta < 0 || offset_delta > info->last_offset_delta)
            break;
        if (info->base_timestamp + timestamp_delta >= target) {
            *offset = info->base_offset + offset_delta;
            *timestamp = info->base_timestamp + timestamp_delta;
            return WALK_OK;
        }
        uint64_t consumed = c.pos - body;
        if (consumed > (uint64_t)length || !cursor_skip(&c, (uint64_t)length - consumed))
            break;
    }
    if (c.status == WALK_MISS || c.status == WALK_WAIT)
        return c.status;
    return WALK_OK; /* malformed records: fall back to the whole batch */
}

static enum walk_status time_attempt(struct sl_log *log, int64_t timestamp, int64_t *offset_out,
                                     int64_t *timestamp_out, enum sl_storage_err *err,
                                     struct walk_miss *miss)
{
    *err = SL_STORAGE_ERR_NOT_FOUND;
    for (uint32_t si = 0; si < log->segment_count; si++) {
        struct sl_segment *seg = log->segments[si];
        if (seg->max_timestamp < timestamp || seg->next_offset <= log->log_start_offset)
            continue;
        uint32_t rel = sl_time_index_lookup(&seg->time_index, timestamp);
        uint32_t pos = sl_offset_index_lookup(&seg->offset_index, rel);
        while (pos < seg->size_bytes) {
            struct sl_batch_info info;
            enum walk_status s = header_at(log, seg, pos, &info, miss);
            if (s != WALK_OK)
                return s;
            if (info.max_timestamp >= timestamp &&
                sl_batch_last_offset(&info) >= log->log_start_offset) {
                int64_t offset, ts;
                s = first_record_from(log, seg, pos, &info, timestamp, &offset, &ts, miss);
                if (s != WALK_OK)
                    return s;
                *offset_out = SL_MAX(offset, log->log_start_offset);
                *timestamp_out = ts;
                *err = SL_STORAGE_OK;
                return WALK_OK;
            }
            pos += info.size_bytes;
        }
    }
    return WALK_OK;
}

static struct sl_read_op *op_get(struct sl_storage *st)
{
    struct sl_read_op *op = st->read_free;
    if (op == NULL)
        return NULL;
    st->read_free = op->next;
    op->next = NULL;
    op->loads = 0;
    op->entry = NULL;
    return op;
}

static void op_put(struct sl_storage *st, struct sl_read_op *op)
{
    SL_ASSERT(!op->load_op.in_flight);
    op->log = NULL;
    op->next = st->read_free;
    st->read_free = op;
}

static void op_finish(struct sl_read_op *op, enum sl_storage_err err, int64_t offset,
                      int64_t timestamp)
{
    struct sl_log *log = op->log;
    struct sl_storage *st = log->storage;
    SL_ASSERT(log->reads_in_flight > 0);
    log->reads_in_flight--;
    uint8_t kind = op->kind;
    struct sl_log_read_result *result = op->result;
    sl_log_read_cb read_cb = op->read_cb;
    sl_log_lookup_cb lookup_cb = op->lookup_cb;
    int64_t *offset_out = op->offset_out, *timestamp_out = op->timestamp_out;
    void *ctx = op->ctx;
    op_put(st, op);
    if (kind == SL_READ_FETCH) {
        if (err != SL_STORAGE_OK) {
            result_reset(log, result, result->first_offset);
            result->err = err;
        }
        read_cb(ctx, log, result);
    } else {
        if (err == SL_STORAGE_OK) {
            *offset_out = offset;
            *timestamp_out = timestamp;
        }
        lookup_cb(ctx, log, err, offset, timestamp);
    }
}

/* Issues the io_uring read of one chunk. */
static enum sl_storage_err start_load(struct sl_read_op *op, const struct walk_miss *miss)
{
    struct sl_log *log = op->log;
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    if (op->loads >= SL_READ_OP_LOADS_MAX)
        return SL_STORAGE_ERR_BUSY; /* the cache is too small for this read: thrashing */
    struct sl_cache_entry *e =
        sl_cache_insert(&st->cache, miss->segment->id, miss->chunk_index, SL_CACHE_LOADING);
    if (e == NULL)
        return SL_STORAGE_ERR_NO_BUFFER;
    struct io_uring_sqe *sqe = sl_storage_get_sqe(st);
    if (sqe == NULL) {
        sl_cache_load_done(&st->cache, e, false, 0);
        return SL_STORAGE_ERR_BUSY;
    }
    int fixed = sl_storage_fixed_index(st, e->chunk, cb);
    if (fixed >= 0) {
        st->stats.fixed_io++;
        io_uring_prep_read_fixed(sqe, miss->segment->fd, e->chunk, cb,
                                 (uint64_t)miss->chunk_index * cb, fixed);
    } else {
        io_uring_prep_read(sqe, miss->segment->fd, e->chunk, cb, (uint64_t)miss->chunk_index * cb);
    }
    io_uring_sqe_set_data(sqe, &op->load_op);
    op->load_op.in_flight = true;
    op->entry = e;
    op->loads++;
    st->cache.misses++;
    log->counters.cache_misses++;
    return SL_STORAGE_OK;
}

/* Loads the chunks of seg from chunk first on that a sequential reader of max_bytes
 * fetches will want next (window: see SL_READ_PREFETCH_MIN_BYTES): those not cached or
 * loading yet, while read ops (half the pool), cache room and SQEs allow. Called after a
 * miss (from the chunk after it) and after every answer (from where it ended: for a hot
 * reader those chunks are cached or past the end, so this is a few lookups). */
static uint32_t prefetch_from(struct sl_log *log, struct sl_segment *seg, uint32_t first,
                              uint32_t max_bytes)
{
    uint32_t issued = 0;
    struct sl_storage *st = log->storage;
    uint32_t cb = st->config.chunk_bytes;
    uint32_t want =
        SL_MIN(SL_MAX(max_bytes, SL_READ_PREFETCH_MIN_BYTES) / cb, SL_READ_PREFETCH_CHUNKS_MAX);
    for (uint32_t i = 0; i < want; i++) {
        uint64_t index = (uint64_t)first + i;
        if (index * cb >= seg->size_bytes ||
            st->prefetches_in_flight >= st->config.read_ops_max / 2)
            return issued;
        if (sl_cache_lookup(&st->cache, seg->id, (uint32_t)index) != NULL)
            continue;
        struct sl_read_op *op = op_get(st);
        if (op == NULL)
            return issued;
        op->kind = SL_READ_PREFETCH;
        op->log = log;
        struct walk_miss ahead = {seg, (uint32_t)index};
        if (start_load(op, &ahead) != SL_STORAGE_OK) {
            op_put(st, op);
            return issued;
        }
        log->reads_in_flight++;
        st->prefetches_in_flight++;
        st->stats.prefetches++;
        issued++;
    }
    return issued;
}

/* Loads the chunk an op missed; a fetch also reads ahead of it. */
static enum sl_storage_err load_missed(struct sl_read_op *op, const struct walk_miss *miss)
{
    enum sl_storage_err err = start_load(op, miss);
    if (err == SL_STORAGE_OK && op->kind == SL_READ_FETCH)
        prefetch_from(op->log, miss->segment, miss->chunk_index + 1, op->max_bytes);
    return err;
}

static void park(struct sl_read_op *op)
{
    struct sl_storage *st = op->log->storage;
    op->next = st->read_retry;
    st->read_retry = op;
}

/* One step of an asynchronous read: try from cache; load what is missing. */
static void op_run(struct sl_read_op *op)
{
    struct sl_log *log = op->log;
    struct walk_miss miss = {0}, stop = {0};
    enum walk_status s;
    int64_t offset = -1, timestamp = -1;
    enum sl_storage_err err = SL_STORAGE_OK;
    if (op->kind == SL_READ_FETCH) {
        s = fetch_attempt(log, op->offset, op->max_offset, op->max_bytes, op->result, &miss, &stop);
        err = op->result->err;
    } else {
        s = time_attempt(log, op->timestamp, &offset, &timestamp, &err, &miss);
    }
    switch (s) {
    case WALK_OK:
        if (op->kind == SL_READ_FETCH && err == SL_STORAGE_OK) {
            log->counters.reads++;
            log->counters.read_bytes += op->result->bytes;
            if (stop.segment != NULL)
                prefetch_from(log, stop.segment, stop.chunk_index, op->max_bytes);
        }
        op_finish(op, err, offset, timestamp);
        return;
    case WALK_WAIT:
        park(op);
        return;
    case WALK_FAIL:
        op_finish(op, SL_STORAGE_ERR_IO, -1, -1);
        return;
    case WALK_MISS:
        err = load_missed(op, &miss);
        if (err == SL_STORAGE_ERR_BUSY && op->loads < SL_READ_OP_LOADS_MAX)
            park(op); /* no submission slot right now */
        else if (err != SL_STORAGE_OK)
            op_finish(op, err, -1, -1);
        return;
    }
}

void sl_read_load_done(struct sl_read_op *op, int res)
{
    struct sl_storage *st = op->log->storage;
    struct sl_cache_entry *e = op->entry;
    op->entry = NULL;
    bool ok = res >= 0;
    sl_cache_load_done(&st->cache, e, ok, ok ? (uint32_t)res : 0);
    if (op->kind == SL_READ_PREFETCH) {
        /* A failed prefetch leaves no entry: a fetch that needs the chunk loads it and
         * reports the error itself. */
        SL_ASSERT(op->log->reads_in_flight > 0 && st->prefetches_in_flight > 0);
        op->log->reads_in_flight--;
        st->prefetches_in_flight--;
        op_put(st, op);
        return;
    }
    if (!ok) {
        op_finish(op, SL_STORAGE_ERR_IO, -1, -1);
        return;
    }
    op_run(op);
}

void sl_read_retry_all(struct sl_storage *storage)
{
    struct sl_read_op *op = storage->read_retry;
    storage->read_retry = NULL;
    while (op != NULL) {
        struct sl_read_op *next = op->next;
        op->next = NULL;
        op_run(op);
        op = next;
    }
}

/* Starts the asynchronous part after a synchronous attempt missed. */
static enum sl_storage_err go_async(struct sl_read_op *op, enum walk_status s,
                                    const struct walk_miss *miss)
{
    struct sl_log *log = op->log;
    struct sl_storage *st = log->storage;
    log->reads_in_flight++;
    if (s == WALK_WAIT) {
        park(op);
        return SL_STORAGE_IN_PROGRESS;
    }
    enum sl_storage_err err = load_missed(op, miss);
    if (err != SL_STORAGE_OK) {
        log->reads_in_flight--;
        op_put(st, op);
        return err;
    }
    sl_storage_submit(st);
    return SL_STORAGE_IN_PROGRESS;
}

enum sl_storage_err sl_log_read(struct sl_log *log, int64_t offset, int64_t max_offset,
                                uint32_t max_bytes, struct sl_log_read_result *result,
                                sl_log_read_cb cb, void *ctx)
{
    SL_ASSERT(log != NULL && result != NULL && cb != NULL);
    struct walk_miss miss = {0}, stop = {0};
    enum walk_status s = fetch_attempt(log, offset, max_offset, max_bytes, result, &miss, &stop);
    if (s == WALK_OK) {
        if (result->err == SL_STORAGE_OK) {
            log->counters.reads++;
            log->counters.read_bytes += result->bytes;
            log->counters.cache_hits++;
            log->storage->cache.hits++;
            /* A sequential reader's next fetch starts where this one ended: keep the disk
             * ahead of it (nothing to do for a reader at the tail). */
            if (stop.segment != NULL &&
                prefetch_from(log, stop.segment, stop.chunk_index, max_bytes) > 0)
                sl_storage_submit(log->storage);
        }
        return result->err;
    }
    if (s == WALK_FAIL)
        return SL_STORAGE_ERR_IO;
    struct sl_read_op *op = op_get(log->storage);
    if (op == NULL)
        return SL_STORAGE_ERR_BUSY;
    op->kind = SL_READ_FETCH;
    op->log = log;
    op->offset = offset;
    op->max_offset = max_offset;
    op->max_bytes = max_bytes;
    op->result = result;
    op->read_cb = cb;
    op->ctx = ctx;
    return go_async(op, s, &miss);
}

void sl_log_read_release(struct sl_storage *storage, struct sl_log_read_result *result)
{
    for (uint32_t i = 0; i < result->slice_count; i++)
        sl_storage_release(storage, result->slices[i].data);
    result->slice_count = 0;
}

enum sl_storage_err sl_log_offset_for_timestamp(struct sl_log *log, int64_t timestamp,
                                                int64_t *offset, int64_t *record_timestamp,
                                                sl_log_lookup_cb cb, void *ctx)
{
    SL_ASSERT(log != NULL && offset != NULL && record_timestamp != NULL && cb != NULL);
    struct walk_miss miss = {0};
    enum sl_storage_err err;
    enum walk_status s = time_attempt(log, timestamp, offset, record_timestamp, &err, &miss);
    if (s == WALK_OK)
        return err;
    if (s == WALK_FAIL)
        return SL_STORAGE_ERR_IO;
    struct sl_read_op *op = op_get(log->storage);
    if (op == NULL)
        return SL_STORAGE_ERR_BUSY;
    op->kind = SL_READ_TIME;
    op->log = log;
    op->timestamp = timestamp;
    op->offset_out = offset;
    op->timestamp_out = record_timestamp;
    op->lookup_cb = cb;
    op->ctx = ctx;
    return go_async(op, s, &miss);
}

int64_t sl_log_max_timestamp(const struct sl_log *log)
{
    SL_ASSERT(log != NULL);
    int64_t max_ts = -1;
    for (uint32_t si = 0; si < log->segment_count; si++) {
        const struct sl_segment *seg = log->segments[si];
        /* Segments wholly below the log start hold nothing a client may list. */
        if (seg->next_offset <= log->log_start_offset)
            continue;
        max_ts = SL_MAX(max_ts, seg->max_timestamp);
    }
    return max_ts;
}
