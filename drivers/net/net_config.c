/* Defaults and validation of struct sl_net_config, shared by every driver. */
#include <errno.h>

#include "drivers/net/net_driver.h"

void sl_net_config_default(struct sl_net_config *cfg)
{
    *cfg = (struct sl_net_config){
        .max_connections = 1024,
        .queue_depth = 1024,
        .rx_buf_count = 4096,
        .rx_buf_size_bytes = 16384,
        .rx_bufs_per_conn_max = 64,
        .send_segs_per_conn_max = 256,
        .send_iov_max = 64,
        .zc_threshold_bytes = 16384,
        .mem_regions_max = 16,
        .listen_backlog = 1024,
        .zc_disable = false,
    };
}

int sl_net_config_check(const struct sl_net_config *cfg)
{
    /* Limits come from the kernel and the handle layout: buffer ids are 16 bits in a
     * CQE, and a slot shares a 64-bit user_data with an op kind and a 32-bit argument. */
    if (cfg->max_connections == 0 || cfg->max_connections > (1u << 24) - 1)
        return -EINVAL;
    if (cfg->queue_depth < 8 || cfg->queue_depth > 32768)
        return -EINVAL;
    if (cfg->rx_buf_count == 0 || cfg->rx_buf_count > 32768 ||
        (cfg->rx_buf_count & (cfg->rx_buf_count - 1)) != 0)
        return -EINVAL;
    if (cfg->rx_buf_size_bytes < 64 || cfg->rx_buf_size_bytes > (1u << 20))
        return -EINVAL;
    if (cfg->rx_bufs_per_conn_max == 0 || cfg->rx_bufs_per_conn_max > cfg->rx_buf_count)
        return -EINVAL;
    if (cfg->send_segs_per_conn_max == 0 || cfg->send_segs_per_conn_max > 65536)
        return -EINVAL;
    if (cfg->send_iov_max == 0 || cfg->send_iov_max > 1024)
        return -EINVAL;
    if (cfg->mem_regions_max > 1024)
        return -EINVAL;
    if (cfg->listen_backlog == 0)
        return -EINVAL;
    return 0;
}
