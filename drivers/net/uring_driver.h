/* The kernel TCP driver over io_uring: the default sl_net driver.
 *
 * Per instance (= per shard): one io_uring, one provided-buffer ring shared by all its
 * connections (multishot recv), multishot accept on SO_REUSEPORT listeners, SEND_ZC
 * from registered memory for large segments and sendmsg for the rest. Needs Linux 6.0
 * (multishot recv, buffer rings); zero-copy send is used from 6.2 when the kernel
 * supports IORING_OP_SEND_ZC, else every segment is sent by copy (sl_net_info tells).
 */
#ifndef SL_NET_URING_DRIVER_H
#define SL_NET_URING_DRIVER_H

#include "drivers/net/net_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pass to sl_net_create(). */
extern const struct sl_net_driver_ops sl_net_uring_ops;

#ifdef __cplusplus
}
#endif

#endif
