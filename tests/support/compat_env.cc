// Environment lookups for the compat tests (see compat_env.h).
#include "tests/support/compat_env.h"

#include <stdlib.h>

#ifndef SL_COMPAT_SOURCE_DIR
#error "SL_COMPAT_SOURCE_DIR must be defined by meson"
#endif
#ifndef SL_COMPAT_CACHE_DIR
#error "SL_COMPAT_CACHE_DIR must be defined by meson"
#endif

namespace sl_test
{

std::string program_from_env(const char *name, const std::string &fallback)
{
    const char *value = getenv(name);
    return (value != nullptr && value[0] != '\0') ? value : fallback;
}

std::string compat_source_dir()
{
    return program_from_env("SLUICE_COMPAT_SOURCE_DIR", SL_COMPAT_SOURCE_DIR);
}

std::string compat_cache_dir()
{
    return program_from_env("SLUICE_COMPAT_CACHE_DIR", SL_COMPAT_CACHE_DIR);
}

} // namespace sl_test
