// Stats-socket query helper (raw JSON text in, raw text out).
#include "tests/support/stats_socket.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "tests/support/child_process.h"

namespace sl_test
{

bool query_stats_socket(const std::string &path, const std::string &request, int timeout_ms,
                        std::string *reply, std::string *error, int idle_ms)
{
    reply->clear();
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
        *error = "stats socket path too long: " + path;
        return false;
    }
    memcpy(addr.sun_path, path.c_str(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = std::string("socket: ") + strerror(errno);
        return false;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        *error = "connect " + path + ": " + strerror(errno);
        close(fd);
        return false;
    }
    std::string line = request + "\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != (ssize_t)line.size()) {
        *error = std::string("send: ") + strerror(errno);
        close(fd);
        return false;
    }
    long long deadline_ms = monotonic_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        long long left_ms = deadline_ms - monotonic_ms();
        if (left_ms <= 0) {
            break;
        }
        int wait_ms = reply->empty() ? (int)left_ms : (int)std::min<long long>(left_ms, idle_ms);
        struct pollfd pfd = {fd, POLLIN, 0};
        int rc = poll(&pfd, 1, wait_ms);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            break;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            break;
        }
        reply->append(buf, (size_t)n);
    }
    close(fd);
    if (reply->empty()) {
        *error = "no reply from stats socket " + path;
        return false;
    }
    return true;
}

namespace
{

// A small recursive-descent reader for the JSON the stats server writes: objects, arrays,
// strings without escapes that matter here, numbers, true/false/null. Numbers inside
// the shard objects are added to out under their dotted path.
class stats_json_reader
{
  public:
    stats_json_reader(const std::string &text, stats_totals *out) : text_(text), out_(out)
    {
    }

    bool parse_top(std::string *error)
    {
        skip_space();
        if (!expect('{'))
            return fail(error, "reply is not a JSON object");
        bool saw_shards = false;
        while (true) {
            skip_space();
            if (peek() == '}') {
                pos_++;
                break;
            }
            std::string key;
            if (!read_string(&key) || !colon())
                return fail(error, "bad key");
            if (key == "shards") {
                saw_shards = true;
                skip_space();
                if (!expect('['))
                    return fail(error, "\"shards\" is not an array");
                skip_space();
                if (peek() == ']') {
                    pos_++;
                } else {
                    while (true) {
                        skip_space();
                        if (peek() != '{' || !value(""))
                            return fail(error, "a shard is not an object");
                        skip_space();
                        if (peek() == ',') {
                            pos_++;
                            continue;
                        }
                        if (!expect(']'))
                            return fail(error, "unterminated shards array");
                        break;
                    }
                }
            } else {
                // Node-wide objects (controller_rpc) under their own name.
                skip_space();
                bool ok = peek() == '{' ? value(key) : skip_value();
                if (!ok)
                    return fail(error, "bad value of " + key);
            }
            skip_space();
            if (peek() == ',') {
                pos_++;
                continue;
            }
            if (!expect('}'))
                return fail(error, "unterminated object");
            break;
        }
        if (!saw_shards)
            return fail(error, "no \"shards\" in the reply");
        return true;
    }

  private:
    char peek() const
    {
        return pos_ < text_.size() ? text_[pos_] : '\0';
    }
    bool expect(char c)
    {
        if (peek() != c)
            return false;
        pos_++;
        return true;
    }
    void skip_space()
    {
        while (pos_ < text_.size() && isspace((unsigned char)text_[pos_]))
            pos_++;
    }
    bool colon()
    {
        skip_space();
        return expect(':');
    }
    bool fail(std::string *error, const std::string &what)
    {
        *error = what + " at byte " + std::to_string(pos_) + " of the stats reply";
        return false;
    }
    bool read_string(std::string *s)
    {
        skip_space();
        if (!expect('"'))
            return false;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            if (text_[pos_] == '\\')
                pos_++;
            if (pos_ < text_.size())
                s->push_back(text_[pos_++]);
        }
        return expect('"');
    }
    // A value at path (empty for a shard object itself); numbers are summed into out_.
    bool value(const std::string &path)
    {
        skip_space();
        char c = peek();
        if (c == '{') {
            pos_++;
            skip_space();
            if (expect('}'))
                return true;
            while (true) {
                std::string key;
                if (!read_string(&key) || !colon())
                    return false;
                if (!value(path.empty() ? key : path + "." + key))
                    return false;
                skip_space();
                if (expect(','))
                    continue;
                return expect('}');
            }
        }
        if (c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n')
            return skip_value();
        size_t start = pos_;
        while (pos_ < text_.size() && (isdigit((unsigned char)text_[pos_]) || text_[pos_] == '-'))
            pos_++;
        if (pos_ == start)
            return false;
        long long v = std::stoll(text_.substr(start, pos_ - start));
        if (v > 0)
            out_->values[path] += (uint64_t)v;
        else
            out_->values.emplace(path, 0);
        return true;
    }
    bool skip_value()
    {
        skip_space();
        char c = peek();
        if (c == '"') {
            std::string ignored;
            return read_string(&ignored);
        }
        if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            pos_++;
            skip_space();
            if (expect(close))
                return true;
            while (true) {
                if (c == '{') {
                    std::string ignored;
                    if (!read_string(&ignored) || !colon())
                        return false;
                }
                if (!skip_value())
                    return false;
                skip_space();
                if (expect(','))
                    continue;
                return expect(close);
            }
        }
        size_t start = pos_;
        while (pos_ < text_.size() &&
               (isalnum((unsigned char)text_[pos_]) || text_[pos_] == '-' || text_[pos_] == '.'))
            pos_++;
        return pos_ > start;
    }

    const std::string &text_;
    stats_totals *out_;
    size_t pos_ = 0;
};

} // namespace

bool parse_stats_totals(const std::string &reply, stats_totals *out, std::string *error)
{
    out->values.clear();
    stats_json_reader reader(reply, out);
    return reader.parse_top(error);
}

bool read_stats_totals(const std::string &socket_path, stats_totals *out, std::string *error)
{
    std::string reply;
    if (!query_stats_socket(socket_path, "{\"cmd\":\"/stats\"}", 5000, &reply, error))
        return false;
    return parse_stats_totals(reply, out, error);
}

} // namespace sl_test
