// Paths the compatibility tests need, from the environment with build-time defaults, so a
// test binary can be run by hand as well as by meson.
#pragma once

#include <string>

namespace sl_test
{

// Directory holding tests/compat sources (scripts, kafkajs package files).
// Env SLUICE_COMPAT_SOURCE_DIR, default: compiled-in source path.
std::string compat_source_dir();

// Writable directory for caches (kafkajs node_modules). Env SLUICE_COMPAT_CACHE_DIR,
// default: compiled-in build path.
std::string compat_cache_dir();

// Program path from env var name, else fallback.
std::string program_from_env(const char *name, const std::string &fallback);

} // namespace sl_test
