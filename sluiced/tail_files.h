/* The broker's shared-memory tail files (storage.tail.shared.memory): naming, and the
 * replay at start of the files a killed broker left. */
#ifndef SL_SLUICED_TAIL_FILES_H
#define SL_SLUICED_TAIL_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Writes "<tail_dir>/sluice-tail-<device>-<inode>-" into prefix: the name of log_dir's
 * tail files without the shard number, so a broker finds its own files and never another
 * data directory's. Returns 0 or a negative errno (log_dir cannot be stat'ed, or the name
 * does not fit). */
int sl_tail_files_prefix(const char *tail_dir, const char *log_dir, char *prefix, size_t size);

/* Replays (sl_storage_replay_tail_file) and removes every tail file whose name starts with
 * prefix, whatever shard count the killed broker ran with, printing what each gave. Call
 * before any log is opened. Returns 0, or -1 after printing which file failed. */
int sl_tail_files_replay(const char *prefix);

#endif
