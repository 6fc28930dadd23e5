/* Shared-memory tail journal; see tail_journal.h. */
#include "storage/tail_journal.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/sl_assert.h"
#include "common/sl_compiler.h"
#include "drivers/mem/mem.h"
#include "storage/log.h"

#define TAIL_MAGIC   "SLTAIL01"
#define TAIL_VERSION 1u
#define TAIL_CLEAN   0u
#define TAIL_DIRTY   1u

struct tail_header {
    char magic[8];
    uint32_t version;
    uint32_t record_bytes;
    uint64_t chunk_bytes;
    uint32_t chunk_count;
    uint32_t reserved;
    uint64_t chunks_offset;
};

struct tail_record {
    uint32_t state; /* TAIL_CLEAN or TAIL_DIRTY, stored last when a record is filled */
    uint32_t valid_bytes;
    uint64_t file_offset;
    char path[SL_TAIL_PATH_BYTES];
};

_Static_assert(sizeof(struct tail_record) == SL_TAIL_RECORD_BYTES, "record size is file format");
_Static_assert(sizeof(struct tail_header) <= SL_MEM_PAGE_BYTES, "header fits its page");

struct sl_tail_journal {
    char path[4096];
    int fd;
    uint8_t *table_map; /* header page + records */
    size_t table_map_bytes;
    struct tail_record *records;
    uint32_t chunk_count;
};

static uint64_t chunks_offset_for(uint32_t chunk_count)
{
    uint64_t table = SL_MEM_PAGE_BYTES + (uint64_t)chunk_count * SL_TAIL_RECORD_BYTES;
    return SL_ALIGN_UP(table, (uint64_t)SL_MEM_HUGEPAGE_BYTES);
}

int sl_tail_journal_create(const char *path, size_t chunk_bytes, uint32_t chunk_count,
                           struct sl_tail_journal **out, int *pool_fd, uint64_t *pool_offset)
{
    SL_ASSERT(path != NULL && out != NULL && pool_fd != NULL && pool_offset != NULL);
    *out = NULL;
    struct sl_tail_journal *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    if (strlen(path) >= sizeof(j->path)) {
        free(j);
        return -ENAMETOOLONG;
    }
    strcpy(j->path, path);
    j->chunk_count = chunk_count;
    uint64_t chunks_offset = chunks_offset_for(chunk_count);
    uint64_t file_bytes = chunks_offset + SL_ALIGN_UP((uint64_t)chunk_bytes * chunk_count,
                                                      (uint64_t)SL_MEM_HUGEPAGE_BYTES);
    /* Locked before it is cut: a file another engine holds is in use, not left over. A file
     * left by an earlier run was replayed already; cutting it to 0 first zeroes every
     * record before the new size applies. */
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;
    bool locked = false;
    if (j->fd < 0)
        rc = -errno;
    else if (flock(j->fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    else
        locked = true;
    if (rc == 0 && (ftruncate(j->fd, 0) != 0 || ftruncate(j->fd, (off_t)file_bytes) != 0))
        rc = -errno;
    /* Take the memory now: a tmpfs (or hugetlbfs) page that cannot be allocated when the
     * shard first touches it is a SIGBUS, not an error. */
    if (rc == 0 && (rc = posix_fallocate(j->fd, 0, (off_t)file_bytes)) != 0)
        rc = -rc;
    if (rc == 0) {
        j->table_map_bytes = chunks_offset;
        void *map = mmap(NULL, j->table_map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
        if (map == MAP_FAILED)
            rc = -errno;
        else
            j->table_map = map;
    }
    if (rc != 0) {
        if (locked)
            unlink(path);
        if (j->fd >= 0)
            close(j->fd);
        free(j);
        return rc;
    }
    struct tail_header *h = (struct tail_header *)j->table_map;
    h->version = TAIL_VERSION;
    h->record_bytes = SL_TAIL_RECORD_BYTES;
    h->chunk_bytes = chunk_bytes;
    h->chunk_count = chunk_count;
    h->chunks_offset = chunks_offset;
    /* The magic last: with it, the rest of the header is there (replay relies on that). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(h->magic, TAIL_MAGIC, sizeof(h->magic));
    j->records = (struct tail_record *)(j->table_map + SL_MEM_PAGE_BYTES);
    *pool_fd = j->fd;
    *pool_offset = chunks_offset;
    *out = j;
    return 0;
}

void sl_tail_journal_close(struct sl_tail_journal *journal)
{
    if (journal == NULL)
        return;
    munmap(journal->table_map, journal->table_map_bytes);
    unlink(journal->path); /* before the unlock: a starting broker never sees it half gone */
    close(journal->fd);
    free(journal);
}

void sl_tail_journal_dirty(struct sl_tail_journal *journal, uint32_t chunk_index, const char *path,
                           uint64_t file_offset, uint32_t valid_bytes)
{
    SL_ASSERT(chunk_index < journal->chunk_count);
    struct tail_record *r = &journal->records[chunk_index];
    size_t len = strlen(path);
    SL_ASSERT(len < sizeof(r->path));
    /* Records are cleared whenever their chunk leaves DIRTY (the cache does it), so this
     * one is clean: it is filled first and published by the state store, and a kill in
     * between leaves a record replay ignores. */
    SL_ASSERT(r->state == TAIL_CLEAN);
    memcpy(r->path, path, len + 1);
    r->file_offset = file_offset;
    r->valid_bytes = valid_bytes;
    __atomic_store_n(&r->state, TAIL_DIRTY, __ATOMIC_RELEASE);
}

void sl_tail_journal_valid(struct sl_tail_journal *journal, uint32_t chunk_index,
                           uint32_t valid_bytes)
{
    SL_ASSERT(chunk_index < journal->chunk_count);
    struct tail_record *r = &journal->records[chunk_index];
    SL_ASSERT(r->state == TAIL_DIRTY);
    /* Release: the copied bytes (streaming stores end with a fence) come first. */
    __atomic_store_n(&r->valid_bytes, valid_bytes, __ATOMIC_RELEASE);
}

void sl_tail_journal_clean(struct sl_tail_journal *journal, uint32_t chunk_index)
{
    SL_ASSERT(chunk_index < journal->chunk_count);
    __atomic_store_n(&journal->records[chunk_index].state, TAIL_CLEAN, __ATOMIC_RELEASE);
}

static int pread_all(int fd, void *buf, size_t len, uint64_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(at + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EINVAL; /* the file is shorter than its header says */
        done += (size_t)n;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t at)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(at + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return 0;
}

/* Writes one DIRTY record's bytes to its segment file; the first file written stays open
 * in *sync_fd for the one syncfs at the end. */
static int replay_record(int journal_fd, const struct tail_header *h, uint32_t index,
                         const struct tail_record *r, uint8_t *buf, int *sync_fd,
                         struct sl_tail_replay_report *report)
{
    if (r->valid_bytes > h->chunk_bytes || memchr(r->path, 0, sizeof(r->path)) == NULL)
        return -EINVAL;
    report->chunks++;
    if (r->valid_bytes == 0)
        return 0;
    int fd = open(r->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        report->files_missing++; /* the topic was deleted while the broker was down */
        return 0;
    }
    if (fd < 0)
        return -errno;
    int rc = pread_all(journal_fd, buf, r->valid_bytes,
                       h->chunks_offset + (uint64_t)index * h->chunk_bytes);
    if (rc == 0)
        rc = pwrite_all(fd, buf, r->valid_bytes, r->file_offset);
    if (rc == 0 && *sync_fd < 0) {
        *sync_fd = fd;
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0) {
        report->chunks_written++;
        report->bytes_written += r->valid_bytes;
    }
    return rc;
}

int sl_storage_replay_tail_file(const char *path, struct sl_tail_replay_report *report)
{
    SL_ASSERT(path != NULL && report != NULL);
    memset(report, 0, sizeof(*report));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    /* The engine using a tail file holds this lock until it closes (or dies). */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return err;
    }
    struct tail_header h;
    memset(&h, 0, sizeof(h));
    int rc = 0;
    ssize_t got = pread(fd, &h, sizeof(h), 0);
    if (got < 0)
        rc = -errno;
    /* An engine killed while creating its file leaves it empty or without its magic yet.
     * The magic is stored before any record is marked dirty (by a release store), so such a
     * file has nothing to replay. */
    static const char no_magic[sizeof(h.magic)];
    bool never_used = rc == 0 && memcmp(h.magic, no_magic, sizeof(h.magic)) == 0;
    if (never_used)
        h.chunk_count = 0;
    if (rc == 0 && !never_used &&
        ((size_t)got < sizeof(h) || memcmp(h.magic, TAIL_MAGIC, sizeof(h.magic)) != 0 ||
         h.version != TAIL_VERSION || h.record_bytes != SL_TAIL_RECORD_BYTES ||
         h.chunk_bytes == 0 || h.chunk_bytes > (1u << 30) ||
         h.chunks_offset != chunks_offset_for(h.chunk_count)))
        rc = -EINVAL;
    uint8_t *buf = rc == 0 && !never_used ? malloc(h.chunk_bytes) : NULL;
    if (rc == 0 && !never_used && buf == NULL)
        rc = -ENOMEM;
    int sync_fd = -1;
    for (uint32_t i = 0; rc == 0 && i < h.chunk_count; i++) {
        struct tail_record r;
        rc = pread_all(fd, &r, sizeof(r), SL_MEM_PAGE_BYTES + (uint64_t)i * SL_TAIL_RECORD_BYTES);
        if (rc == 0 && r.state == TAIL_DIRTY)
            rc = replay_record(fd, &h, i, &r, buf, &sync_fd, report);
    }
    /* One engine's segments share its data dir's file system: one syncfs makes every
     * replayed byte durable before the tail file goes (instead of an fdatasync per chunk). */
    if (sync_fd >= 0) {
        if (rc == 0 && syncfs(sync_fd) != 0)
            rc = -errno;
        close(sync_fd);
    }
    free(buf);
    close(fd);
    if (rc == 0 && unlink(path) != 0)
        rc = -errno;
    return rc;
}
