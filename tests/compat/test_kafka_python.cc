// kafka-python 2.0.2 (Debian's /usr/bin/python3 with python3-kafka) against a real broker
// process: each scenario in kafka_python_scenarios.py runs as its own test with a fresh
// broker, and fails with the script's own message.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/compat_env.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;

constexpr int k_script_timeout_ms = 90000;

class KafkaPythonTest : public ::testing::TestWithParam<const char *>
{
};

TEST_P(KafkaPythonTest, Scenario)
{
    broker_options options;
    // The topics the scenarios use (the admin scenario creates and deletes its own).
    options.topics = {{"kp-acks-0", 1},  {"kp-acks-1", 1}, {"kp-acks-all", 1},
                      {"kp-consume", 2}, {"kp-times", 1},  {"kp-delete-records", 1},
                      {"kp-configs", 1}};
    broker_process broker(options);
    ASSERT_TRUE(broker.Start());
    const std::string python = sl_test::program_from_env("SLUICE_PYTHON", "/usr/bin/python3");
    const std::string script = sl_test::compat_source_dir() + "/kafka_python_scenarios.py";
    sl_test::command_result r = sl_test::run_command(
        {python, script, "--bootstrap", broker.bootstrap(), "--scenario", GetParam()},
        k_script_timeout_ms);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    // The script prints PASS only after its last check: guards against an early exit 0.
    EXPECT_NE(r.stdout_text.find(std::string("PASS ") + GetParam()), std::string::npos)
        << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, KafkaPythonTest,
                         ::testing::Values("admin", "produce-acks", "consume", "offsets-for-times",
                                           "delete-records", "configs", "log-append-time"),
                         [](const ::testing::TestParamInfo<const char *> &info) {
                             std::string name = info.param;
                             for (char &c : name) {
                                 c = c == '-' ? '_' : c;
                             }
                             return name;
                         });

} // namespace
