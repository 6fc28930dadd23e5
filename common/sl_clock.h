/* Clock reads in milliseconds: vDSO reads on x86-64 (no system call). */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock time (CLOCK_REALTIME), what Kafka timestamps are: record and batch times,
 * LogAppendTime, retention by time. It can jump; never use it to measure intervals. */
static inline int64_t sl_wall_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
