// One broker process per test: sluiced in a temp dir, or librdkafka's mock cluster in
// mock mode. Kills only the PID it started.
#include "tests/support/broker_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

#include "tests/support/compat_env.h"
#include "tests/support/raw_kafka_client.h"
#include "tests/support/rdkafka_client.h"

#ifndef SL_MOCK_CLUSTER_DEFAULT
#error "SL_MOCK_CLUSTER_DEFAULT must be defined by meson"
#endif

namespace sl_test
{

namespace
{

// How much of the broker log goes into a failure message or the end-of-test dump.
constexpr size_t k_log_tail_bytes = 8000;
// Each readiness probe may take this long before the next try.
constexpr int k_probe_timeout_ms = 1000;
constexpr int k_probe_interval_ms = 50;
// Starts on freshly picked ports when the first ones were taken meanwhile.
constexpr int k_start_attempts = 3;

std::string env_or_empty(const char *name)
{
    const char *value = getenv(name);
    return value != nullptr ? value : "";
}

std::string first_bootstrap(const std::string &list)
{
    size_t comma = list.find(',');
    return comma == std::string::npos ? list : list.substr(0, comma);
}

} // namespace

bool broker_is_mock()
{
    return env_or_empty("SLUICE_TEST_BROKER") == "mock";
}

int pick_free_loopback_port()
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

std::vector<int> pick_free_loopback_ports(int count)
{
    std::vector<int> fds;
    std::vector<int> ports;
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            break;
        }
        fds.push_back(fd);
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(addr);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
            getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
            break;
        }
        ports.push_back(ntohs(addr.sin_port));
    }
    for (int fd : fds) {
        close(fd);
    }
    if ((int)ports.size() != count) {
        ports.clear();
    }
    return ports;
}

broker_process::broker_process(broker_options options)
    : options_(std::move(options)), mock_(broker_is_mock())
{
}

broker_process::~broker_process()
{
    if (child_) {
        child_.reset(); // SIGKILL + reap by recorded PID
    }
    if (dir_.empty()) {
        return;
    }
    if (::testing::Test::HasFailure()) {
        fprintf(stderr, "---- broker log %s (tail) ----\n%s\n---- end of broker log ----\n",
                log_path().c_str(), tail_of(log_text(), k_log_tail_bytes).c_str());
    }
    if (env_or_empty("SLUICE_TEST_KEEP") == "1") {
        fprintf(stderr, "broker dir kept: %s\n", dir_.c_str());
    } else {
        remove_tree(dir_);
    }
}

std::string broker_process::log_text() const
{
    return read_file(log_path());
}

::testing::AssertionResult broker_process::fail_with_log(const std::string &what) const
{
    return ::testing::AssertionFailure()
           << what << "\n---- broker log " << log_path() << " (tail) ----\n"
           << tail_of(log_text(), k_log_tail_bytes);
}

std::string broker_process::properties_text() const
{
    std::map<std::string, std::string> props;
    const std::string kafka = "127.0.0.1:" + std::to_string(kafka_port_);
    const std::string controller = "127.0.0.1:" + std::to_string(controller_port_);
    props["node.id"] = "1";
    props["process.roles"] = "broker,controller";
    props["listeners"] = "PLAINTEXT://" + kafka;
    if (controller_port_ > 0) {
        props["listeners"] += ",CONTROLLER://" + controller;
    }
    props["controller.quorum.voters"] = "1@" + controller;
    props["log.dirs"] = data_dir();
    props["stats.socket"] = stats_socket();
    for (const auto &kv : options_.properties) {
        props[kv.first] = kv.second;
    }
    std::ostringstream out;
    out << "# written by tests/support/broker_process.cc\n";
    for (const auto &kv : props) {
        out << kv.first << "=" << kv.second << "\n";
    }
    return out.str();
}

::testing::AssertionResult broker_process::Start()
{
    // The ports are picked free and released before sluiced binds them (seconds later
    // under sanitizers), so another process can take one meanwhile: start again on new
    // ports when the broker says so, instead of failing the test.
    for (int attempt = 1;; attempt++) {
        ::testing::AssertionResult spawned = Spawn();
        if (!spawned) {
            return spawned;
        }
        ::testing::AssertionResult ready = WaitReady();
        if (ready || attempt == k_start_attempts || !port_was_taken()) {
            return ready;
        }
        fprintf(stderr, "harness: sluiced could not bind port %d or %d (attempt %d): new ports\n",
                kafka_port_, controller_port_, attempt);
        child_.reset();
        remove_tree(dir_);
        dir_.clear();
        start_count_ = 0;
        topics_created_ = false;
    }
}

bool broker_process::port_was_taken()
{
    return !mock_ && options_.kafka_port <= 0 && options_.controller_port == 0 && child_ &&
           !child_->running() && log_text().find("ddress already in use") != std::string::npos;
}

::testing::AssertionResult broker_process::WaitReady()
{
    if (!child_) {
        return ::testing::AssertionFailure() << "broker_process::WaitReady: not spawned";
    }
    ::testing::AssertionResult ready = wait_ready();
    if (!ready || mock_ || topics_created_) {
        return ready;
    }
    topics_created_ = true;
    return create_topics();
}

::testing::AssertionResult broker_process::Spawn()
{
    if (start_count_ != 0) {
        return ::testing::AssertionFailure() << "broker_process::Start called twice; use Restart";
    }
    dir_ = make_temp_dir("sluice-test");
    if (dir_.empty()) {
        return ::testing::AssertionFailure() << "cannot create a temp dir: " << strerror(errno);
    }
    if (mock_) {
        // Default: the mock built in this build tree (tools/capture).
        binary_ = program_from_env("SLUICE_MOCK_CLUSTER", SL_MOCK_CLUSTER_DEFAULT);
    } else {
        binary_ = env_or_empty("SLUICED");
        if (binary_.empty()) {
            return ::testing::AssertionFailure()
                   << "env SLUICED (path to the sluiced binary) is not set; meson sets it for "
                      "the compat suite, or use SLUICE_TEST_BROKER=mock for harness work";
        }
        std::vector<int> ports = pick_free_loopback_ports(2);
        if (ports.empty()) {
            return ::testing::AssertionFailure() << "cannot pick two free loopback ports";
        }
        kafka_port_ = options_.kafka_port > 0 ? options_.kafka_port : ports[0];
        controller_port_ = options_.controller_port != 0 ? options_.controller_port : ports[1];
        if (kafka_port_ == controller_port_) {
            return ::testing::AssertionFailure()
                   << "kafka and controller port are both " << kafka_port_;
        }
        if (mkdir(data_dir().c_str(), 0755) != 0) {
            return ::testing::AssertionFailure()
                   << "mkdir " << data_dir() << ": " << strerror(errno);
        }
        if (!write_file(dir_ + "/server.properties", properties_text())) {
            return ::testing::AssertionFailure() << "cannot write server.properties in " << dir_;
        }
    }
    return spawn_child();
}

::testing::AssertionResult broker_process::launch()
{
    ::testing::AssertionResult spawned = spawn_child();
    if (!spawned) {
        return spawned;
    }
    return wait_ready();
}

::testing::AssertionResult broker_process::spawn_child()
{
    std::vector<std::string> argv;
    command_options opts;
    opts.append_output = true; // one log across restarts, so a crash loop is visible
    opts.stderr_path = log_path();
    if (mock_) {
        argv = {binary_, "--brokers", "1"};
        for (const auto &kv : options_.topics) {
            argv.push_back("--topic");
            argv.push_back(kv.first + ":" + std::to_string(kv.second));
        }
        // The mock prints its bootstrap list on stdout; a fresh file per start.
        opts.stdout_path = dir_ + "/mock-bootstrap." + std::to_string(start_count_);
    } else {
        argv = {binary_, dir_ + "/server.properties"};
        opts.stdout_path = log_path();
        bootstrap_ = "127.0.0.1:" + std::to_string(kafka_port_);
    }
    {
        std::string banner = "==== harness: start #" + std::to_string(start_count_ + 1) + ": ";
        for (const auto &a : argv) {
            banner += a + " ";
        }
        FILE *log = fopen(log_path().c_str(), "a");
        if (log != nullptr) {
            fprintf(log, "%s\n", banner.c_str());
            fclose(log);
        }
    }
    start_count_++;
    child_.reset(new child_process());
    std::string error;
    if (!child_->start(argv, opts, &error)) {
        child_.reset();
        return ::testing::AssertionFailure() << "cannot start " << binary_ << ": " << error;
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult broker_process::wait_ready()
{
    long long deadline_ms = monotonic_ms() + options_.start_timeout_ms;
    std::string last_problem = "no attempt made";
    while (monotonic_ms() < deadline_ms) {
        if (!child_->running()) {
            return fail_with_log("broker " + binary_ + " exited during startup (wait status " +
                                 std::to_string(child_->wait_status()) + ")");
        }
        if (mock_ && bootstrap_.empty()) {
            std::string out = read_file(child_->stdout_path());
            size_t newline = out.find('\n');
            if (newline == std::string::npos) {
                usleep(k_probe_interval_ms * 1000);
                continue;
            }
            bootstrap_ = out.substr(0, newline);
        }
        last_problem = probe_api_versions_fresh(first_bootstrap(bootstrap_), k_probe_timeout_ms);
        if (last_problem.empty()) {
            return ::testing::AssertionSuccess();
        }
        usleep(k_probe_interval_ms * 1000);
    }
    return fail_with_log("broker not ready within " + std::to_string(options_.start_timeout_ms) +
                         " ms (needs: Kafka port accepts and answers ApiVersions v0); last "
                         "problem: " +
                         last_problem);
}

::testing::AssertionResult broker_process::create_topics()
{
    std::string error = sl_test::create_topics(bootstrap_, options_.topics, 15000);
    if (!error.empty()) {
        return fail_with_log("creating test topics failed: " + error);
    }
    return ::testing::AssertionSuccess();
}

bool broker_process::running()
{
    return child_ && child_->running();
}

::testing::AssertionResult broker_process::Stop()
{
    if (!child_) {
        return ::testing::AssertionFailure() << "broker_process::Stop: not started";
    }
    if (!child_->running()) {
        return fail_with_log("broker_process::Stop: broker had already exited (wait status " +
                             std::to_string(child_->wait_status()) + ")");
    }
    child_->send_signal(SIGTERM);
    long long deadline_ms = monotonic_ms() + options_.stop_timeout_ms;
    while (child_->running() && monotonic_ms() < deadline_ms) {
        usleep(10 * 1000);
    }
    if (child_->running()) {
        child_.reset(); // SIGKILL + reap
        return fail_with_log("broker did not exit within " +
                             std::to_string(options_.stop_timeout_ms) +
                             " ms of SIGTERM; killed with SIGKILL");
    }
    int status = child_->wait_status();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return fail_with_log("broker exit after SIGTERM was not clean (wait status " +
                             std::to_string(status) + ")");
    }
    return ::testing::AssertionSuccess();
}

void broker_process::Kill()
{
    if (child_) {
        child_->send_signal(SIGKILL);
        while (child_->running()) {
            usleep(1000);
        }
    }
}

::testing::AssertionResult broker_process::Restart()
{
    if (start_count_ == 0) {
        return ::testing::AssertionFailure() << "broker_process::Restart before Start";
    }
    if (running()) {
        return ::testing::AssertionFailure() << "broker_process::Restart while running; Stop "
                                                "or Kill first";
    }
    if (mock_) {
        bootstrap_.clear(); // the new mock listens on new ports
    }
    return launch();
}

::testing::AssertionResult broker_process::RespawnNoWait()
{
    if (start_count_ == 0) {
        return ::testing::AssertionFailure() << "broker_process::RespawnNoWait before Start";
    }
    if (running()) {
        return ::testing::AssertionFailure() << "broker_process::RespawnNoWait while running";
    }
    if (mock_) {
        bootstrap_.clear();
    }
    return spawn_child();
}

} // namespace sl_test
