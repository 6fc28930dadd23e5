// Child-process helpers for the test harness: fork/exec with output to files and bounded
// waits. Kills only the PID (or the process group) it started itself.
#include "tests/support/child_process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

extern char **environ;

namespace sl_test
{

namespace
{

// Polling interval while waiting for a child; short enough to keep tests snappy.
constexpr int k_wait_poll_ms = 10;

std::string temp_root()
{
    const char *dir = getenv("TMPDIR");
    return (dir != nullptr && dir[0] != '\0') ? dir : "/tmp";
}

std::string make_temp_file(const std::string &prefix)
{
    std::string path = temp_root() + "/" + prefix + "-XXXXXX";
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    if (fd < 0) {
        return "";
    }
    close(fd);
    return std::string(buf.data());
}

// Builds "KEY=VALUE" strings: the current environment with extra_env applied on top.
std::vector<std::string> build_environment(const std::map<std::string, std::string> &extra_env)
{
    std::map<std::string, std::string> merged;
    for (char **entry = environ; *entry != nullptr; entry++) {
        const char *eq = strchr(*entry, '=');
        if (eq == nullptr) {
            continue;
        }
        merged[std::string(*entry, (size_t)(eq - *entry))] = eq + 1;
    }
    for (const auto &kv : extra_env) {
        merged[kv.first] = kv.second;
    }
    std::vector<std::string> out;
    out.reserve(merged.size());
    for (const auto &kv : merged) {
        out.push_back(kv.first + "=" + kv.second);
    }
    return out;
}

// In the child after fork: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char *const *argv, char *const *envp, int stdin_fd, int stdout_fd,
                             int stderr_fd, const char *working_dir, bool new_group,
                             pid_t parent_pid)
{
    // If the test process dies without running destructors (meson's timeout SIGTERM, a
    // crash), its brokers and clients must not outlive it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent_pid) {
        _exit(125); // the parent died before prctl took effect
    }
    if (new_group) {
        setpgid(0, 0);
    }
    dup2(stdin_fd, STDIN_FILENO);
    dup2(stdout_fd, STDOUT_FILENO);
    dup2(stderr_fd, STDERR_FILENO);
    if (working_dir != nullptr && chdir(working_dir) != 0) {
        static const char msg[] = "child_process: chdir failed\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(126);
    }
    // The parent's test framework may block signals in helper threads; give the child
    // default dispositions so SIGTERM tests behave like a shell-started process.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execvpe(argv[0], argv, envp);
    static const char msg[] = "child_process: exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
}

} // namespace

std::string command_result::describe() const
{
    std::ostringstream out;
    if (timed_out) {
        out << "timed out (killed)";
    } else if (term_signal != 0) {
        out << "killed by signal " << term_signal;
    } else {
        out << "exit code " << exit_code;
    }
    out << "\n--- stdout (tail) ---\n"
        << tail_of(stdout_text, 4000) << "\n--- stderr (tail) ---\n"
        << tail_of(stderr_text, 4000);
    return out.str();
}

child_process::~child_process()
{
    kill_and_reap();
    for (const auto &path : temp_files_) {
        unlink(path.c_str());
    }
}

bool child_process::start(const std::vector<std::string> &argv, const command_options &options,
                          std::string *error)
{
    if (pid_ > 0 || argv.empty()) {
        *error = pid_ > 0 ? "child_process already started" : "empty argv";
        return false;
    }
    stdout_path_ = options.stdout_path;
    stderr_path_ = options.stderr_path;
    if (stdout_path_.empty()) {
        stdout_path_ = make_temp_file("sl-out");
        temp_files_.push_back(stdout_path_);
    }
    if (stderr_path_.empty()) {
        stderr_path_ = make_temp_file("sl-err");
        temp_files_.push_back(stderr_path_);
    }
    const std::string stdin_path = options.stdin_path.empty() ? "/dev/null" : options.stdin_path;
    int stdin_fd = open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
    const int out_flags =
        O_WRONLY | O_CREAT | O_CLOEXEC | (options.append_output ? O_APPEND : O_TRUNC);
    int stdout_fd = open(stdout_path_.c_str(), out_flags, 0644);
    int stderr_fd = stderr_path_ == stdout_path_ ? fcntl(stdout_fd, F_DUPFD_CLOEXEC, 0)
                                                 : open(stderr_path_.c_str(), out_flags, 0644);
    if (stdin_fd < 0 || stdout_fd < 0 || stderr_fd < 0) {
        *error = "cannot open stdio files for " + argv[0] + ": " + strerror(errno);
        if (stdin_fd >= 0)
            close(stdin_fd);
        if (stdout_fd >= 0)
            close(stdout_fd);
        if (stderr_fd >= 0)
            close(stderr_fd);
        return false;
    }
    // Everything the child needs is prepared before fork: no allocation after it.
    std::vector<std::string> env_strings = build_environment(options.extra_env);
    std::vector<char *> env_ptrs;
    for (auto &s : env_strings) {
        env_ptrs.push_back(&s[0]);
    }
    env_ptrs.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    std::vector<char *> argv_ptrs;
    for (auto &s : argv_copy) {
        argv_ptrs.push_back(&s[0]);
    }
    argv_ptrs.push_back(nullptr);
    const char *working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

    const pid_t parent_pid = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        exec_child(argv_ptrs.data(), env_ptrs.data(), stdin_fd, stdout_fd, stderr_fd, working_dir,
                   options.new_process_group, parent_pid);
    }
    int fork_errno = errno;
    close(stdin_fd);
    close(stdout_fd);
    close(stderr_fd);
    if (pid < 0) {
        *error = std::string("fork: ") + strerror(fork_errno);
        return false;
    }
    if (options.new_process_group) {
        // Also set it from the parent so a kill right after start cannot miss the group.
        setpgid(pid, pid);
    }
    pid_ = pid;
    own_group_ = options.new_process_group;
    reaped_ = false;
    return true;
}

bool child_process::running()
{
    if (pid_ <= 0 || reaped_) {
        return false;
    }
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        reaped_ = true;
        wait_status_ = status;
        return false;
    }
    return true;
}

void child_process::send_signal(int signo)
{
    if (running()) {
        kill(pid_, signo);
    }
}

void child_process::kill_and_reap()
{
    if (pid_ <= 0 || reaped_) {
        return;
    }
    if (own_group_) {
        kill(-pid_, SIGKILL);
    }
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    wait_status_ = status;
}

command_result child_process::wait(int timeout_ms)
{
    command_result result;
    long long deadline_ms = monotonic_ms() + timeout_ms;
    while (running() && monotonic_ms() < deadline_ms) {
        usleep(k_wait_poll_ms * 1000);
    }
    if (running()) {
        result.timed_out = true;
        kill_and_reap();
    } else if (own_group_ && pid_ > 0) {
        // The leader exited; stragglers it left in its group must not outlive the test.
        kill(-pid_, SIGKILL);
    }
    if (WIFEXITED(wait_status_) && !result.timed_out) {
        result.exit_code = WEXITSTATUS(wait_status_);
    } else if (WIFSIGNALED(wait_status_)) {
        result.term_signal = WTERMSIG(wait_status_);
    }
    result.stdout_text = read_file(stdout_path_);
    result.stderr_text = read_file(stderr_path_);
    return result;
}

command_result run_command(const std::vector<std::string> &argv, int timeout_ms,
                           const command_options &options)
{
    child_process child;
    std::string error;
    if (!child.start(argv, options, &error)) {
        command_result result;
        result.stderr_text = error;
        return result;
    }
    return child.wait(timeout_ms);
}

std::string read_file(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return "";
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

bool write_file(const std::string &path, const std::string &content)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) {
        return false;
    }
    out.write(content.data(), (std::streamsize)content.size());
    return (bool)out;
}

std::string make_temp_dir(const std::string &prefix)
{
    std::string path = temp_root() + "/" + prefix + "-XXXXXX";
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
        return "";
    }
    return std::string(buf.data());
}

void remove_tree(const std::string &path)
{
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path.c_str());
        if (dir != nullptr) {
            struct dirent *entry;
            while ((entry = readdir(dir)) != nullptr) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
                    continue;
                }
                remove_tree(path + "/" + entry->d_name);
            }
            closedir(dir);
        }
        rmdir(path.c_str());
    } else {
        unlink(path.c_str());
    }
}

long long monotonic_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

std::string tail_of(const std::string &text, size_t max_bytes)
{
    if (text.size() <= max_bytes) {
        return text;
    }
    return "..." + text.substr(text.size() - max_bytes);
}

} // namespace sl_test
