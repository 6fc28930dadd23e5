// Raw Kafka frames over a blocking socket for bad-input tests and readiness probes.
#include "tests/support/raw_kafka_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/child_process.h"

namespace sl_test
{

void kafka_writer::int16(int16_t v)
{
    uint16_t u = (uint16_t)v;
    bytes_.push_back((uint8_t)(u >> 8));
    bytes_.push_back((uint8_t)u);
}

void kafka_writer::int32(int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int shift = 24; shift >= 0; shift -= 8) {
        bytes_.push_back((uint8_t)(u >> shift));
    }
}

void kafka_writer::int64(int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int shift = 56; shift >= 0; shift -= 8) {
        bytes_.push_back((uint8_t)(u >> shift));
    }
}

void kafka_writer::string(const std::string &s)
{
    int16((int16_t)s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
}

void kafka_writer::bytes(const std::vector<uint8_t> &b)
{
    int32((int32_t)b.size());
    raw(b);
}

void kafka_writer::unsigned_varint(uint32_t v)
{
    while (v >= 0x80) {
        bytes_.push_back((uint8_t)(v | 0x80));
        v >>= 7;
    }
    bytes_.push_back((uint8_t)v);
}

bool kafka_reader::take(size_t n)
{
    if (failed_ || bytes_.size() - pos_ < n) {
        failed_ = true;
        return false;
    }
    return true;
}

int8_t kafka_reader::int8()
{
    if (!take(1)) {
        return 0;
    }
    return (int8_t)bytes_[pos_++];
}

int16_t kafka_reader::int16()
{
    if (!take(2)) {
        return 0;
    }
    uint16_t v = (uint16_t)((bytes_[pos_] << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return (int16_t)v;
}

int32_t kafka_reader::int32()
{
    if (!take(4)) {
        return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = (v << 8) | bytes_[pos_ + i];
    }
    pos_ += 4;
    return (int32_t)v;
}

int64_t kafka_reader::int64()
{
    if (!take(8)) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | bytes_[pos_ + i];
    }
    pos_ += 8;
    return (int64_t)v;
}

std::string kafka_reader::string()
{
    int16_t length = int16();
    if (failed_ || length < 0) {
        return "";
    }
    if (!take((size_t)length)) {
        return "";
    }
    std::string s(bytes_.begin() + (long)pos_, bytes_.begin() + (long)pos_ + length);
    pos_ += (size_t)length;
    return s;
}

const char *read_status_name(read_status s)
{
    switch (s) {
    case read_status::ok:
        return "ok";
    case read_status::closed:
        return "closed by peer";
    case read_status::timed_out:
        return "timed out";
    case read_status::error:
        return "socket error";
    }
    return "?";
}

raw_kafka_connection::~raw_kafka_connection()
{
    close_now();
}

void raw_kafka_connection::close_now()
{
    if (fd_ >= 0) {
        close(fd_);
        fd_ = -1;
    }
}

bool raw_kafka_connection::connect_to(const std::string &host_port, int timeout_ms,
                                      std::string *error)
{
    close_now();
    size_t colon = host_port.rfind(':');
    if (colon == std::string::npos) {
        *error = "bad address '" + host_port + "'";
        return false;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(host_port.c_str() + colon + 1));
    if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
        *error = "bad IPv4 address in '" + host_port + "'";
        return false;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *error = std::string("socket: ") + strerror(errno);
        return false;
    }
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        rc = poll(&pfd, 1, timeout_ms);
        if (rc == 1) {
            int so_error = 0;
            socklen_t len = sizeof(so_error);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
            errno = so_error;
            rc = so_error == 0 ? 0 : -1;
        } else {
            errno = rc == 0 ? ETIMEDOUT : errno;
            rc = -1;
        }
    }
    if (rc != 0) {
        *error = "connect " + host_port + ": " + strerror(errno);
        close(fd);
        return false;
    }
    // Blocking from here on; every read and write below is bounded by poll().
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fd_ = fd;
    return true;
}

bool raw_kafka_connection::send_raw(const std::vector<uint8_t> &bytes)
{
    size_t sent = 0;
    while (fd_ >= 0 && sent < bytes.size()) {
        ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        sent += (size_t)n;
    }
    return fd_ >= 0;
}

bool raw_kafka_connection::send_frame(const std::vector<uint8_t> &payload)
{
    kafka_writer w;
    w.int32((int32_t)payload.size());
    w.raw(payload);
    return send_raw(w.data());
}

namespace
{

// Reads exactly n bytes before deadline_ms; maps EOF/reset to closed.
read_status read_exact(int fd, uint8_t *out, size_t n, long long deadline_ms)
{
    size_t got = 0;
    while (got < n) {
        long long left_ms = deadline_ms - monotonic_ms();
        if (left_ms <= 0) {
            return read_status::timed_out;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int rc = poll(&pfd, 1, (int)left_ms);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc < 0) {
            return read_status::error;
        }
        if (rc == 0) {
            return read_status::timed_out;
        }
        ssize_t r = recv(fd, out + got, n - got, 0);
        if (r == 0) {
            return read_status::closed;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return (errno == ECONNRESET || errno == EPIPE) ? read_status::closed
                                                           : read_status::error;
        }
        got += (size_t)r;
    }
    return read_status::ok;
}

} // namespace

read_status raw_kafka_connection::read_frame(std::vector<uint8_t> *payload, int timeout_ms,
                                             size_t max_frame_bytes)
{
    if (fd_ < 0) {
        return read_status::error;
    }
    long long deadline_ms = monotonic_ms() + timeout_ms;
    uint8_t prefix[4];
    read_status s = read_exact(fd_, prefix, sizeof(prefix), deadline_ms);
    if (s != read_status::ok) {
        return s;
    }
    uint32_t size = ((uint32_t)prefix[0] << 24) | ((uint32_t)prefix[1] << 16) |
                    ((uint32_t)prefix[2] << 8) | prefix[3];
    if ((int32_t)size < 0 || size > max_frame_bytes) {
        return read_status::error;
    }
    payload->assign(size, 0);
    return size == 0 ? read_status::ok : read_exact(fd_, payload->data(), size, deadline_ms);
}

bool raw_kafka_connection::wait_closed_by_peer(int timeout_ms)
{
    if (fd_ < 0) {
        return false;
    }
    long long deadline_ms = monotonic_ms() + timeout_ms;
    uint8_t scratch[4096];
    for (;;) {
        long long left_ms = deadline_ms - monotonic_ms();
        if (left_ms <= 0) {
            return false;
        }
        struct pollfd pfd = {fd_, POLLIN, 0};
        int rc = poll(&pfd, 1, (int)left_ms);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            return false;
        }
        ssize_t r = recv(fd_, scratch, sizeof(scratch), 0);
        if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE))) {
            return true;
        }
        if (r < 0 && errno != EINTR && errno != EAGAIN) {
            return false;
        }
    }
}

std::vector<uint8_t> make_request_v1(int16_t api_key, int16_t api_version, int32_t correlation_id,
                                     const std::vector<uint8_t> &body)
{
    kafka_writer w;
    w.int16(api_key);
    w.int16(api_version);
    w.int32(correlation_id);
    w.string("sluice-raw-test");
    w.raw(body);
    return w.data();
}

std::vector<uint8_t> make_api_versions_v0(int32_t correlation_id)
{
    return make_request_v1(18, 0, correlation_id, {});
}

bool parse_api_versions_v0(const std::vector<uint8_t> &payload, api_versions_response *out)
{
    kafka_reader r(payload);
    out->correlation_id = r.int32();
    out->error_code = r.int16();
    int32_t count = r.int32();
    if (r.failed() || count < 0 || (size_t)count * 6 > r.remaining()) {
        return false;
    }
    out->apis.clear();
    for (int32_t i = 0; i < count; i++) {
        api_versions_response::api_range range;
        range.api_key = r.int16();
        range.min_version = r.int16();
        range.max_version = r.int16();
        out->apis.push_back(range);
    }
    return !r.failed();
}

std::string probe_api_versions(raw_kafka_connection &conn, int32_t correlation_id, int timeout_ms)
{
    if (!conn.send_frame(make_api_versions_v0(correlation_id))) {
        return "sending ApiVersions v0 failed";
    }
    std::vector<uint8_t> payload;
    read_status s = conn.read_frame(&payload, timeout_ms);
    if (s != read_status::ok) {
        return std::string("no ApiVersions response: ") + read_status_name(s);
    }
    api_versions_response resp;
    if (!parse_api_versions_v0(payload, &resp)) {
        return "malformed ApiVersions v0 response (" + std::to_string(payload.size()) + " bytes)";
    }
    if (resp.correlation_id != correlation_id) {
        return "ApiVersions response has correlation id " + std::to_string(resp.correlation_id) +
               ", expected " + std::to_string(correlation_id);
    }
    if (resp.error_code != 0) {
        return "ApiVersions v0 answered with error " + std::to_string(resp.error_code);
    }
    return "";
}

std::string probe_api_versions_fresh(const std::string &host_port, int timeout_ms)
{
    raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(host_port, timeout_ms, &error)) {
        return error;
    }
    return probe_api_versions(conn, 1, timeout_ms);
}

uint32_t crc32c(const uint8_t *data, size_t length)
{
    // Bitwise: test batches are small, and an independent implementation keeps the test
    // from sharing a bug with the broker's isa-l path.
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < length; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
        }
    }
    return crc ^ 0xffffffffu;
}

namespace
{

void put_varint(std::vector<uint8_t> *out, int64_t value)
{
    uint64_t zigzag = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    while (zigzag >= 0x80) {
        out->push_back((uint8_t)(zigzag | 0x80));
        zigzag >>= 7;
    }
    out->push_back((uint8_t)zigzag);
}

} // namespace

std::vector<uint8_t> build_record_batch(const std::vector<test_record> &records,
                                        int64_t timestamp_ms)
{
    std::vector<uint8_t> encoded_records;
    for (size_t i = 0; i < records.size(); i++) {
        std::vector<uint8_t> body;
        body.push_back(0);             // record attributes
        put_varint(&body, 0);          // timestamp delta
        put_varint(&body, (int64_t)i); // offset delta
        put_varint(&body, (int64_t)records[i].key.size());
        body.insert(body.end(), records[i].key.begin(), records[i].key.end());
        put_varint(&body, (int64_t)records[i].value.size());
        body.insert(body.end(), records[i].value.begin(), records[i].value.end());
        put_varint(&body, 0); // header count
        put_varint(&encoded_records, (int64_t)body.size());
        encoded_records.insert(encoded_records.end(), body.begin(), body.end());
    }
    kafka_writer w;
    w.int64(0);  // base offset: the broker assigns it
    w.int32(0);  // batch length, patched below
    w.int32(-1); // partition leader epoch
    w.int8(2);   // magic
    w.int32(0);  // crc, patched below
    w.int16(0);  // attributes: no compression, create time, not transactional
    w.int32((int32_t)records.size() - 1);
    w.int64(timestamp_ms);
    w.int64(timestamp_ms);
    w.int64(-1); // producer id
    w.int16(-1); // producer epoch
    w.int32(-1); // base sequence
    w.int32((int32_t)records.size());
    w.raw(encoded_records);
    std::vector<uint8_t> &batch = w.mutable_data();
    uint32_t batch_length = (uint32_t)(batch.size() - 12);
    for (int i = 0; i < 4; i++) {
        batch[8 + i] = (uint8_t)(batch_length >> (24 - 8 * i));
    }
    uint32_t crc = crc32c(batch.data() + 21, batch.size() - 21);
    for (int i = 0; i < 4; i++) {
        batch[k_batch_crc_offset + i] = (uint8_t)(crc >> (24 - 8 * i));
    }
    return batch;
}

std::vector<uint8_t> make_produce_v7_body(const std::string &topic, int32_t partition, int16_t acks,
                                          int32_t timeout_ms, const std::vector<uint8_t> &records)
{
    kafka_writer w;
    w.null_string(); // transactional id
    w.int16(acks);
    w.int32(timeout_ms);
    w.int32(1); // topics
    w.string(topic);
    w.int32(1); // partitions
    w.int32(partition);
    w.bytes(records);
    return w.data();
}

bool parse_produce_v7_response(const std::vector<uint8_t> &payload, int32_t *correlation_id,
                               std::vector<produce_partition_result> *out)
{
    kafka_reader r(payload);
    *correlation_id = r.int32();
    int32_t topic_count = r.int32();
    if (r.failed() || topic_count < 0 || topic_count > 1000) {
        return false;
    }
    out->clear();
    for (int32_t t = 0; t < topic_count; t++) {
        std::string topic = r.string();
        int32_t partition_count = r.int32();
        if (r.failed() || partition_count < 0 || partition_count > 100000) {
            return false;
        }
        for (int32_t p = 0; p < partition_count; p++) {
            produce_partition_result result;
            result.topic = topic;
            result.partition = r.int32();
            result.error_code = r.int16();
            result.base_offset = r.int64();
            (void)r.int64(); // log append time
            (void)r.int64(); // log start offset (v5+)
            out->push_back(result);
        }
    }
    (void)r.int32(); // throttle time
    return !r.failed();
}

} // namespace sl_test
