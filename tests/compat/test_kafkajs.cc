// kafkajs 2.2.4 (npm, pinned by tests/compat/kafkajs/package-lock.json) against a real
// broker process: produce and consume with exact content. The first run installs kafkajs
// with `npm ci` into the build tree's cache dir, under a file lock so concurrent test
// processes install once; later runs reuse it while the lock file is unchanged.
#include <gtest/gtest.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/compat_env.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;

constexpr int k_npm_timeout_ms = 100000;
constexpr int k_scenario_timeout_ms = 90000;

bool make_dirs(const std::string &path)
{
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
            return false;
        }
        if (slash == std::string::npos) {
            return true;
        }
    }
}

// Returns the node_modules dir holding kafkajs, installing it first when needed; "" and a
// gtest failure when npm fails.
std::string ensure_kafkajs_installed()
{
    const std::string source = sl_test::compat_source_dir() + "/kafkajs";
    const std::string cache = sl_test::compat_cache_dir() + "/kafkajs";
    if (!make_dirs(cache)) {
        ADD_FAILURE() << "cannot create " << cache << ": " << strerror(errno);
        return "";
    }
    int lock_fd = open((cache + "/.install.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
        ADD_FAILURE() << "cannot lock " << cache << ": " << strerror(errno);
        if (lock_fd >= 0) {
            close(lock_fd);
        }
        return "";
    }
    const std::string lock_json = sl_test::read_file(source + "/package-lock.json");
    bool installed =
        sl_test::read_file(cache + "/node_modules/kafkajs/package.json").find("\"2.2.4\"") !=
            std::string::npos &&
        sl_test::read_file(cache + "/package-lock.json") == lock_json;
    std::string result = cache + "/node_modules";
    if (!installed) {
        sl_test::remove_tree(cache + "/node_modules");
        bool copied = sl_test::write_file(cache + "/package.json",
                                          sl_test::read_file(source + "/package.json")) &&
                      sl_test::write_file(cache + "/package-lock.json", lock_json) &&
                      !lock_json.empty();
        sl_test::command_options opts;
        opts.working_dir = cache;
        sl_test::command_result r;
        if (copied) {
            r = sl_test::run_command({sl_test::program_from_env("NPM", "npm"), "ci", "--no-audit",
                                      "--no-fund", "--loglevel=error"},
                                     k_npm_timeout_ms, opts);
        }
        if (!copied || r.exit_code != 0) {
            ADD_FAILURE() << "npm ci of kafkajs in " << cache
                          << " failed: " << (copied ? r.describe() : "cannot copy package files");
            result.clear();
        }
    }
    flock(lock_fd, LOCK_UN);
    close(lock_fd);
    return result;
}

TEST(KafkajsTest, ProduceAndConsumeExactContent)
{
    const std::string node_modules = ensure_kafkajs_installed();
    ASSERT_FALSE(node_modules.empty());
    const std::string topic = "kafkajs-roundtrip";
    broker_options options;
    options.topics = {{topic, 2}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    sl_test::command_options opts;
    opts.extra_env["NODE_PATH"] = node_modules;
    sl_test::command_result r = sl_test::run_command(
        {sl_test::program_from_env("NODE", "node"),
         sl_test::compat_source_dir() + "/kafkajs/scenario.js", broker.bootstrap(), topic},
        k_scenario_timeout_ms, opts);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_NE(r.stdout_text.find("PASS kafkajs"), std::string::npos) << r.describe();
}

} // namespace
