/* The storage engine: io_uring, pool, cache, poll loop and completion dispatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "storage/log_internal.h"

static const char *const err_names[SL_STORAGE_ERR__COUNT] = {
    [SL_STORAGE_OK] = "ok",
    [SL_STORAGE_IN_PROGRESS] = "in progress",
    [SL_STORAGE_ERR_BATCH_TRUNCATED] = "batch truncated",
    [SL_STORAGE_ERR_BATCH_LENGTH] = "batch length invalid",
    [SL_STORAGE_ERR_BATCH_MAGIC] = "batch magic not 2",
    [SL_STORAGE_ERR_BATCH_CRC] = "batch crc mismatch",
    [SL_STORAGE_ERR_BATCH_RECORD_COUNT] = "batch record count invalid",
    [SL_STORAGE_ERR_BATCH_ATTRIBUTES] = "batch attributes invalid",
    [SL_STORAGE_ERR_BATCH_PRODUCER] = "batch producer fields invalid",
    [SL_STORAGE_ERR_BATCH_TOO_LARGE] = "batch too large",
    [SL_STORAGE_ERR_BATCH_EMPTY] = "no batch",
    [SL_STORAGE_ERR_BATCH_TOO_MANY] = "too many batches",
    [SL_STORAGE_ERR_NO_BUFFER] = "no buffer",
    [SL_STORAGE_ERR_BUSY] = "busy",
    [SL_STORAGE_ERR_NO_SPACE] = "no space",
    [SL_STORAGE_ERR_IO] = "i/o error",
    [SL_STORAGE_ERR_OFFSET_OUT_OF_RANGE] = "offset out of range",
    [SL_STORAGE_ERR_NOT_FOUND] = "not found",
    [SL_STORAGE_ERR_INVALID_ARGUMENT] = "invalid argument",
    [SL_STORAGE_ERR_NO_MEMORY] = "no memory",
    [SL_STORAGE_ERR_CORRUPT] = "corrupt",
    [SL_STORAGE_ERR_IN_USE] = "log directory in use",
};

const char *sl_storage_strerror(enum sl_storage_err err)
{
    if ((unsigned)err >= SL_STORAGE_ERR__COUNT || err_names[err] == NULL)
        return "unknown storage error";
    return err_names[err];
}

enum sl_storage_err sl_storage_err_from_errno(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:
        return SL_STORAGE_OK;
    case ENOSPC:
    case EDQUOT:
        return SL_STORAGE_ERR_NO_SPACE;
    case ENOMEM:
        return SL_STORAGE_ERR_NO_MEMORY;
    default:
        return SL_STORAGE_ERR_IO;
    }
}

void sl_storage_config_default(struct sl_storage_config *config)
{
    memset(config, 0, sizeof(*config));
    config->cache_bytes = 256ull * 1024 * 1024;
    config->chunk_bytes = 1024 * 1024;
    config->queue_depth = 256;
    config->read_ops_max = 256;
    config->hugepages = true;
    config->direct_io = true;
    config->fixed_buffers = true;
}

/* Registers the pool so reads and single-chunk writes can skip per-I/O page pinning.
 * Needs RLIMIT_MEMLOCK room (or CAP_IPC_LOCK); without it the engine works unregistered. */
static void register_pool(struct sl_storage *st)
{
    size_t total = st->pool.chunk_bytes * st->pool.chunk_count;
    uint32_t count = (uint32_t)((total + SL_FIXED_BUFFER_BYTES - 1) / SL_FIXED_BUFFER_BYTES);
    struct iovec *iov = calloc(count, sizeof(*iov));
    if (iov == NULL)
        return;
    for (uint32_t i = 0; i < count; i++) {
        size_t at = (size_t)i * SL_FIXED_BUFFER_BYTES;
        iov[i].iov_base = st->pool.base + at;
        iov[i].iov_len = SL_MIN((size_t)SL_FIXED_BUFFER_BYTES, total - at);
    }
    st->fixed_buffers = io_uring_register_buffers(&st->ring, iov, count) == 0;
    free(iov);
}

int sl_storage_fixed_index(const struct sl_storage *storage, const void *ptr, size_t len)
{
    if (!storage->fixed_buffers)
        return -1;
    size_t at = (size_t)((const uint8_t *)ptr - storage->pool.base);
    size_t index = at / SL_FIXED_BUFFER_BYTES;
    if ((at + len - 1) / SL_FIXED_BUFFER_BYTES != index)
        return -1;
    return (int)index;
}

enum sl_storage_err sl_storage_create(const struct sl_storage_config *config,
                                      struct sl_storage **out)
{
    SL_ASSERT(config != NULL && out != NULL);
    *out = NULL;
    if (config->chunk_bytes == 0 || config->chunk_bytes % SL_MEM_PAGE_BYTES != 0)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    uint64_t chunks = config->cache_bytes / config->chunk_bytes;
    if (chunks < 2 || chunks > UINT32_MAX / 4)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;
    if (config->queue_depth < 8 || config->queue_depth > 32768 || config->read_ops_max == 0)
        return SL_STORAGE_ERR_INVALID_ARGUMENT;

    struct sl_storage *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return SL_STORAGE_ERR_NO_MEMORY;
    st->config = *config;
    st->direct_io = config->direct_io;
    st->next_segment_id = 1;
    struct sl_mem_pool_config pool_config = {
        .chunk_bytes = config->chunk_bytes,
        .chunk_count = (uint32_t)chunks,
        .hugepages = config->hugepages,
    };
    enum sl_storage_err err = SL_STORAGE_ERR_NO_MEMORY;
    if (config->tail_file[0] != '\0') {
        int rc =
            sl_tail_journal_create(config->tail_file, config->chunk_bytes, (uint32_t)chunks,
                                   &st->journal, &pool_config.file_fd, &pool_config.file_offset);
        if (rc != 0) {
            err = sl_storage_err_from_errno(rc);
            goto free_storage;
        }
        pool_config.file_backed = true;
    }
    if (sl_mem_pool_init(&st->pool, &pool_config) != 0)
        goto close_journal;
    if (sl_cache_init(&st->cache, &st->pool) != 0)
        goto fini_pool;
    st->cache.journal = st->journal;
    st->read_ops = calloc(config->read_ops_max, sizeof(st->read_ops[0]));
    if (st->read_ops == NULL)
        goto fini_cache;
    for (uint32_t i = 0; i < config->read_ops_max; i++) {
        st->read_ops[i].load_op.kind = SL_IO_LOAD;
        st->read_ops[i].load_op.owner = &st->read_ops[i];
        st->read_ops[i].next = i + 1 < config->read_ops_max ? &st->read_ops[i + 1] : NULL;
    }
    st->read_free = &st->read_ops[0];
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    int rc = io_uring_queue_init_params(config->queue_depth, &st->ring, &params);
    if (rc < 0) {
        err = sl_storage_err_from_errno(rc);
        goto free_read_ops;
    }
    st->cq_entries = params.cq_entries;
    if (config->fixed_buffers)
        register_pool(st);
    struct io_uring_probe *probe = io_uring_get_probe_ring(&st->ring);
    if (probe != NULL) {
        st->async_ftruncate = io_uring_opcode_supported(probe, SL_IORING_OP_FTRUNCATE);
        st->writev_fixed = io_uring_opcode_supported(probe, SL_IORING_OP_WRITEV_FIXED);
        io_uring_free_probe(probe);
    }
    st->stats.fixed_buffers = st->fixed_buffers;
    st->stats.writev_fixed = st->writev_fixed;
    st->stats.hugepage_backed = st->pool.hugepage_backed;
    st->stats.direct_io = st->direct_io;
    st->stats.tail_shared_memory = st->journal != NULL;
    st->stats.chunk_bytes = config->chunk_bytes;
    st->stats.chunks_total = (uint32_t)chunks;
    *out = st;
    return SL_STORAGE_OK;

free_read_ops:
    free(st->read_ops);
fini_cache:
    sl_cache_fini(&st->cache);
fini_pool:
    sl_mem_pool_fini(&st->pool);
close_journal:
    sl_tail_journal_close(st->journal);
free_storage:
    free(st);
    return err;
}

void sl_storage_destroy(struct sl_storage *storage)
{
    if (storage == NULL)
        return;
    SL_ASSERT(storage->logs == NULL);
    SL_ASSERT(storage->in_flight == 0);
    io_uring_queue_exit(&storage->ring);
    sl_cache_fini(&storage->cache);
    uint32_t leaked = sl_mem_pool_fini(&storage->pool);
    SL_ASSERT(leaked == 0); /* a read slice was never released */
    /* Every log is closed, so every append reached its file: nothing left to replay. */
    sl_tail_journal_close(storage->journal);
    free(storage->read_ops);
    free(storage);
}

struct io_uring_sqe *sl_storage_get_sqe(struct sl_storage *storage)
{
    /* Completions must always fit the CQ ring, so cap what is in flight. */
    if (storage->in_flight >= storage->cq_entries) {
        storage->stats.sqe_full++;
        return NULL;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&storage->ring);
    if (sqe == NULL) {
        sl_storage_submit(storage);
        sqe = io_uring_get_sqe(&storage->ring);
    }
    if (sqe == NULL) {
        storage->stats.sqe_full++;
        return NULL;
    }
    storage->in_flight++;
    storage->unsubmitted++;
    return sqe;
}

void sl_storage_submit(struct sl_storage *storage)
{
    if (storage->unsubmitted == 0)
        return;
    int rc = io_uring_submit(&storage->ring);
    if (rc >= 0) {
        storage->unsubmitted -= SL_MIN((uint32_t)rc, storage->unsubmitted);
        return;
    }
    /* -EAGAIN/-EBUSY: the kernel is short of resources; the SQEs stay queued and the
     * next poll submits them again. */
}

void sl_storage_kick(struct sl_log *log)
{
    if (log->in_work_list)
        return;
    log->in_work_list = true;
    log->work_next = log->storage->work_head;
    log->storage->work_head = log;
}

static void dispatch(struct sl_storage *storage, struct sl_io_op *op, int res)
{
    SL_ASSERT(op->in_flight);
    op->in_flight = false;
    SL_ASSERT(storage->in_flight > 0);
    storage->in_flight--;
    storage->stats.completions++;
    switch (op->kind) {
    case SL_IO_WRITE:
        sl_log_write_done(op->owner, res);
        break;
    case SL_IO_SYNC:
        sl_log_sync_done(op->owner, res);
        break;
    case SL_IO_LOAD:
        sl_read_load_done(op->owner, res);
        break;
    case SL_IO_TRUNCATE:
        sl_log_truncate_done(op->owner, res);
        break;
    default:
        SL_ASSERT(!"unknown io kind");
    }
}

static uint32_t reap(struct sl_storage *storage)
{
    uint32_t reaped = 0;
    struct io_uring_cqe *cqe;
    /* Bounded by what is in flight: every CQE belongs to one submitted op. */
    while (io_uring_peek_cqe(&storage->ring, &cqe) == 0) {
        struct sl_io_op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&storage->ring, cqe);
        dispatch(storage, op, res);
        reaped++;
    }
    return reaped;
}

uint32_t sl_storage_poll(struct sl_storage *storage, int64_t now_ms)
{
    storage->now_ms = now_ms;
    uint32_t work = reap(storage);
    if (storage->read_retry != NULL)
        sl_read_retry_all(storage);
    /* Service each queued log once; a log that re-queues itself waits for the next poll. */
    struct sl_log *log = storage->work_head;
    storage->work_head = NULL;
    while (log != NULL) {
        struct sl_log *next = log->work_next;
        log->in_work_list = false;
        log->work_next = NULL;
        sl_log_service(log, now_ms);
        log = next;
        work++;
    }
    sl_storage_submit(storage);
    return work;
}

uint32_t sl_storage_wait(struct sl_storage *storage, int64_t now_ms, uint32_t timeout_ms)
{
    sl_storage_submit(storage);
    if (storage->in_flight > 0) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ms / 1000,
            .tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
        };
        (void)io_uring_wait_cqe_timeout(&storage->ring, &cqe, &ts);
    }
    return sl_storage_poll(storage, now_ms);
}

int sl_storage_completion_fd(const struct sl_storage *storage)
{
    return storage->ring.ring_fd;
}

bool sl_storage_idle(const struct sl_storage *storage)
{
    return storage->in_flight == 0 && storage->work_head == NULL && storage->read_retry == NULL;
}

void sl_storage_release(struct sl_storage *storage, const void *slice_data)
{
    sl_mem_pool_put(&storage->pool, slice_data);
}

const struct sl_storage_stats *sl_storage_get_stats(struct sl_storage *storage)
{
    storage->stats.direct_io = storage->direct_io;
    storage->stats.chunks_free = sl_mem_pool_free_count(&storage->pool);
    storage->stats.cache_hits = storage->cache.hits;
    storage->stats.cache_misses = storage->cache.misses;
    storage->stats.cache_evictions = storage->cache.evictions;
    storage->stats.cache_pinned_skips = storage->cache.pinned_skips;
    storage->stats.no_buffer = storage->cache.no_buffer;
    return &storage->stats;
}
