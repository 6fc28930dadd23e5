/* Assertions that stay on in every build type.
 *
 * A failed assertion is a bug report: it prints the condition and location and aborts.
 * Use SL_ASSERT for programmer errors and invariants, never for client input, ENOSPC
 * or ENOBUFS (those are returned and counted).
 */
#ifndef SL_ASSERT_H
#define SL_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#include "common/sl_compiler.h"

#define SL_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (SL_UNLIKELY(!(cond))) {                                                                \
            fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", __FILE__, __LINE__, __func__,     \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#endif
