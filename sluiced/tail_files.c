/* Tail file naming and start-up replay; see tail_files.h. */
#include "sluiced/tail_files.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/log.h"

int sl_tail_files_prefix(const char *tail_dir, const char *log_dir, char *prefix, size_t size)
{
    struct stat st;
    if (stat(log_dir, &st) != 0)
        return -errno;
    int n = snprintf(prefix, size, "%s/sluice-tail-%" PRIx64 "-%" PRIu64 "-", tail_dir,
                     (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    /* Room for the shard number after the prefix. */
    return n > 0 && (size_t)n + 8 < size ? 0 : -ENAMETOOLONG;
}

int sl_tail_files_replay(const char *prefix)
{
    const char *slash = strrchr(prefix, '/');
    char dir_path[4096];
    snprintf(dir_path, sizeof(dir_path), "%.*s", (int)(slash - prefix), prefix);
    const char *name_prefix = slash + 1;
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        fprintf(stderr, "sluiced: config key 'storage.tail.dir': %s: %s\n", dir_path,
                strerror(errno));
        return -1;
    }
    int result = 0;
    struct dirent *de;
    while (result == 0 && (de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, name_prefix, strlen(name_prefix)) != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
        struct sl_tail_replay_report rep;
        int rc = sl_storage_replay_tail_file(path, &rep);
        if (rc == -EBUSY) {
            fprintf(stderr,
                    "sluiced: the tail file %s is in use: another broker runs on the data dir "
                    "of this one (log.dirs)\n",
                    path);
            result = -1;
            break;
        }
        if (rc != 0) {
            fprintf(stderr,
                    "sluiced: cannot replay the tail file %s (left by a broker that did not "
                    "stop cleanly): %s; it is kept: move it away to start without it, losing "
                    "what it holds\n",
                    path, strerror(-rc));
            result = -1;
            break;
        }
        fprintf(stderr,
                "sluiced: tail file %s (a broker that did not stop cleanly): %" PRIu32
                " chunks, %" PRIu64 " bytes written to %" PRIu32 " segment ranges, %" PRIu32
                " of deleted segments skipped\n",
                path, rep.chunks, rep.bytes_written, rep.chunks_written, rep.files_missing);
    }
    closedir(dir);
    return result;
}
