/* The stats socket: a Unix stream socket at `stats.socket` answering one JSON request per
 * connection ({"cmd":"/stats"} or {"cmd":"/help"}) with one JSON object, then closing.
 * Runs on the broker's main (control-plane side) thread, which may block briefly; it
 * reads the shards' counter structs without locks (docs/stats.md).
 */
#ifndef SL_STATS_SERVER_H
#define SL_STATS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "controlplane/metadata_log.h"
#include "dataplane/shard.h"

struct sl_stats_server {
    int fd;
    char path[108];
    struct sl_shard **shards;
    uint32_t shard_count;
    int32_t node_id;
    const struct sl_md_log *md_log; /* controller RPC counters; NULL leaves them out */
};

/* Binds and listens at path (an old socket file there is replaced). md_log (may be NULL)
 * must stay open until sl_stats_server_close. Returns 0 or -errno with err filled. */
int sl_stats_server_open(struct sl_stats_server *srv, const char *path, struct sl_shard **shards,
                         uint32_t shard_count, int32_t node_id, const struct sl_md_log *md_log,
                         char *err, size_t err_size);
/* Accepts and answers one pending client (call when fd is readable). */
void sl_stats_server_serve_one(struct sl_stats_server *srv);
/* Closes the socket and removes its file. */
void sl_stats_server_close(struct sl_stats_server *srv);

#endif
