/* Sparse offset index and time index of one segment (internal to storage/).
 *
 * Kept in memory as their on-disk bytes (Kafka's format, big-endian):
 *   .index      8-byte entries: relative offset u32, file position u32
 *   .timeindex 12-byte entries: timestamp i64, relative offset u32
 * Offset index entries strictly increase in both fields. Time index entries strictly
 * increase in timestamp (an entry is only added when the segment's max timestamp grows)
 * and never decrease in offset. Capacity comes from segment.index.bytes.
 */
#ifndef SL_STORAGE_INDEX_H
#define SL_STORAGE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#define SL_OFFSET_INDEX_ENTRY_BYTES 8u
#define SL_TIME_INDEX_ENTRY_BYTES   12u

struct sl_index {
    uint8_t *bytes;
    uint32_t entry_bytes; /* 8 or 12 */
    uint32_t count;
    uint32_t capacity;
};

/* Allocates room for capacity entries. Returns 0 or -ENOMEM. */
int sl_index_init(struct sl_index *index, uint32_t entry_bytes, uint32_t capacity);
void sl_index_fini(struct sl_index *index);
static inline bool sl_index_full(const struct sl_index *index)
{
    return index->count >= index->capacity;
}

/* Gives the index room for capacity entries (never below count). Returns 0 or -ENOMEM
 * (the index is unchanged then). Sealed segments shrink to count; a segment that becomes
 * active again (truncation) grows back. */
int sl_index_set_capacity(struct sl_index *index, uint32_t capacity);

/* Offset index. */
void sl_offset_index_append(struct sl_index *index, uint32_t relative_offset, uint32_t position);
void sl_offset_index_entry(const struct sl_index *index, uint32_t i, uint32_t *relative_offset,
                           uint32_t *position);
/* Position of the last entry with relative offset <= target (0 when none). */
uint32_t sl_offset_index_lookup(const struct sl_index *index, uint32_t relative_offset);
/* Drops entries with relative offset >= target. */
void sl_offset_index_truncate(struct sl_index *index, uint32_t relative_offset);

/* Time index. */
void sl_time_index_append(struct sl_index *index, int64_t timestamp, uint32_t relative_offset);
void sl_time_index_entry(const struct sl_index *index, uint32_t i, int64_t *timestamp,
                         uint32_t *relative_offset);
/* Relative offset of the last entry with timestamp < target (0 when none): no batch
 * before it can have a max timestamp >= target. */
uint32_t sl_time_index_lookup(const struct sl_index *index, int64_t timestamp);
void sl_time_index_truncate(struct sl_index *index, uint32_t relative_offset);

/* Loads path into index (capacity grows to fit). Checks that the size is a multiple of the
 * entry size and that entries strictly increase; for the offset index also that positions
 * are < segment_bytes and relative offsets <= max_relative_offset. Returns 0, -ENOENT,
 * -EBADMSG (corrupt; index left empty), -ENOMEM or -errno. Blocking. */
int sl_index_load(struct sl_index *index, const char *path, uint32_t segment_bytes,
                  uint32_t max_relative_offset);

/* Writes the index to path (truncating it to the exact size); fsyncs when sync. Blocking. */
int sl_index_save(const struct sl_index *index, const char *path, bool sync);

#endif
