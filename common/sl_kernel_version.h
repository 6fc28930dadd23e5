/* The running kernel's version, for features that a probe cannot detect (or, in tests, to
 * know which features the kernel must offer). */
#ifndef SL_KERNEL_VERSION_H
#define SL_KERNEL_VERSION_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/utsname.h>

/* True if the running kernel is major.minor or newer; false if uname fails or its release
 * string does not start with "major.minor". */
static inline bool sl_kernel_at_least(unsigned major, unsigned minor)
{
    struct utsname u;
    unsigned have_major = 0, have_minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &have_major, &have_minor) != 2)
        return false;
    return have_major > major || (have_major == major && have_minor >= minor);
}

#endif
