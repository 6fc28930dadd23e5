// Runs helper programs (kcat, /usr/bin/python3 scripts, node, the broker itself) as child
// processes with bounded waits. Used only by tests; every call is made from the test's
// main thread unless noted.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace sl_test
{

// What a finished (or timed-out) command left behind.
struct command_result {
    int exit_code = -1;     // exit status, or -1 when killed by a signal or never started
    int term_signal = 0;    // signal that ended it, 0 if it exited
    bool timed_out = false; // true when the harness had to SIGKILL it
    std::string stdout_text;
    std::string stderr_text;

    // One-paragraph summary for assertion messages (exit status + both outputs, tails only).
    std::string describe() const;
};

// Options for starting a child. Output always goes to files (no pipes), so a child that
// writes megabytes can never block on a full pipe.
struct command_options {
    std::string stdin_path;                       // empty: /dev/null
    std::string stdout_path;                      // empty: a temp file removed afterwards
    std::string stderr_path;                      // empty: a temp file removed afterwards;
                                                  // same as stdout_path: one merged file
    std::string working_dir;                      // empty: inherit
    std::map<std::string, std::string> extra_env; // added to (or replacing in) the environment
    bool new_process_group = true;                // lets a timeout kill grandchildren too
    bool append_output = false;                   // append to stdout/stderr files, no truncate
};

// One started child. Owns its PID: the destructor SIGKILLs it (and its process group when
// it has its own) if it is still running, then reaps it. The child also gets SIGKILL from
// the kernel (PR_SET_PDEATHSIG) if the thread that started it dies, so a test killed by
// meson's timeout leaves no broker behind. Start children from the test's main thread.
// Not copyable.
class child_process
{
  public:
    child_process() = default;
    ~child_process();
    child_process(const child_process &) = delete;
    child_process &operator=(const child_process &) = delete;

    // fork+exec argv[0] (PATH is searched). Returns false and fills *error on failure.
    bool start(const std::vector<std::string> &argv, const command_options &options,
               std::string *error);

    // Waits up to timeout_ms for exit; on timeout SIGKILLs it and reports timed_out.
    // Reads captured output into the result. May be called once.
    command_result wait(int timeout_ms);

    // Sends signo to the recorded PID only. No-op when not running.
    void send_signal(int signo);

    // Non-blocking: true while the child has not been reaped.
    bool running();

    pid_t pid() const
    {
        return pid_;
    }
    const std::string &stdout_path() const
    {
        return stdout_path_;
    }
    const std::string &stderr_path() const
    {
        return stderr_path_;
    }

    // Exit status as reported by waitpid once running() returned false.
    int wait_status() const
    {
        return wait_status_;
    }

  private:
    void kill_and_reap();

    pid_t pid_ = -1;
    bool own_group_ = false;
    bool reaped_ = false;
    int wait_status_ = 0;
    std::string stdout_path_;
    std::string stderr_path_;
    std::vector<std::string> temp_files_;
};

// Starts argv, waits up to timeout_ms, returns what happened. Never throws.
command_result run_command(const std::vector<std::string> &argv, int timeout_ms,
                           const command_options &options = command_options());

// Reads a whole file; returns "" when it cannot be read.
std::string read_file(const std::string &path);

// Writes a whole file; returns false on any error.
bool write_file(const std::string &path, const std::string &content);

// Creates a fresh directory under $TMPDIR (or /tmp) named prefix-XXXXXX; returns "" on error.
std::string make_temp_dir(const std::string &prefix);

// rm -rf without spawning a shell. Silently ignores missing paths.
void remove_tree(const std::string &path);

// Monotonic clock in milliseconds.
long long monotonic_ms();

// Last max_bytes of text, prefixed with "..." when cut.
std::string tail_of(const std::string &text, size_t max_bytes);

} // namespace sl_test
