// A tiny Kafka client over one blocking loopback TCP socket, for tests that must send bytes
// no real client would send (bad-input tests) and for the harness's readiness probe.
// Single-threaded: one raw_kafka_connection belongs to one thread.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace sl_test
{

// Big-endian writer for hand-built requests (non-flexible encodings, plus the few compact
// pieces a test needs).
class kafka_writer
{
  public:
    void int8(int8_t v)
    {
        bytes_.push_back((uint8_t)v);
    }
    void int16(int16_t v);
    void int32(int32_t v);
    void int64(int64_t v);
    void string(const std::string &s); // int16 length + bytes
    void null_string()
    {
        int16(-1);
    }
    void bytes(const std::vector<uint8_t> &b); // int32 length + bytes
    void raw(const std::vector<uint8_t> &b)
    {
        bytes_.insert(bytes_.end(), b.begin(), b.end());
    }
    void unsigned_varint(uint32_t v);

    const std::vector<uint8_t> &data() const
    {
        return bytes_;
    }
    std::vector<uint8_t> &mutable_data()
    {
        return bytes_;
    }

  private:
    std::vector<uint8_t> bytes_;
};

// Big-endian reader over a response body; every read is bounds-checked and a short buffer
// sets failed() instead of reading past the end.
class kafka_reader
{
  public:
    explicit kafka_reader(const std::vector<uint8_t> &b) : bytes_(b)
    {
    }
    int8_t int8();
    int16_t int16();
    int32_t int32();
    int64_t int64();
    std::string string();
    bool failed() const
    {
        return failed_;
    }
    size_t remaining() const
    {
        return failed_ ? 0 : bytes_.size() - pos_;
    }

  private:
    bool take(size_t n);
    const std::vector<uint8_t> &bytes_;
    size_t pos_ = 0;
    bool failed_ = false;
};

// Outcome of reading one response frame.
enum class read_status {
    ok,        // a whole frame arrived
    closed,    // the peer closed (EOF or reset) before a whole frame arrived
    timed_out, // nothing complete within the timeout
    error,     // local socket error
};

const char *read_status_name(read_status s);

class raw_kafka_connection
{
  public:
    raw_kafka_connection() = default;
    ~raw_kafka_connection();
    raw_kafka_connection(const raw_kafka_connection &) = delete;
    raw_kafka_connection &operator=(const raw_kafka_connection &) = delete;

    // Connects to "host:port" (numeric IPv4). Returns false and fills *error on failure.
    bool connect_to(const std::string &host_port, int timeout_ms, std::string *error);

    // Writes all bytes as they are (the caller includes any size prefix). False on error
    // (including the peer having closed).
    bool send_raw(const std::vector<uint8_t> &bytes);

    // Writes a 4-byte big-endian size prefix and then payload.
    bool send_frame(const std::vector<uint8_t> &payload);

    // Reads one size-prefixed frame; *payload gets the bytes after the prefix.
    // Frames larger than max_frame_bytes are refused with read_status::error.
    read_status read_frame(std::vector<uint8_t> *payload, int timeout_ms,
                           size_t max_frame_bytes = 64u << 20);

    // Waits until the peer closes the connection; returns true if it did within timeout_ms.
    // Any bytes that arrive meanwhile are discarded.
    bool wait_closed_by_peer(int timeout_ms);

    void close_now();
    bool is_open() const
    {
        return fd_ >= 0;
    }

  private:
    int fd_ = -1;
};

// Request header v1 (api_key, api_version, correlation_id, client_id) prepended to body.
std::vector<uint8_t> make_request_v1(int16_t api_key, int16_t api_version, int32_t correlation_id,
                                     const std::vector<uint8_t> &body);

// ApiVersions v0 request frame payload (no body).
std::vector<uint8_t> make_api_versions_v0(int32_t correlation_id);

// Parsed ApiVersions response (v0 layout; v1+ adds throttle_time after the array).
struct api_versions_response {
    int32_t correlation_id = 0;
    int16_t error_code = -1;
    struct api_range {
        int16_t api_key;
        int16_t min_version;
        int16_t max_version;
    };
    std::vector<api_range> apis;
};

// Parses the v0 response layout; returns false on a short or inconsistent frame.
bool parse_api_versions_v0(const std::vector<uint8_t> &payload, api_versions_response *out);

// Sends ApiVersions v0 on conn and checks a well-formed answer with error 0 arrives within
// timeout_ms. Returns "" on success, else a description of what went wrong.
std::string probe_api_versions(raw_kafka_connection &conn, int32_t correlation_id, int timeout_ms);

// Connects to host_port and runs probe_api_versions; "" on success.
std::string probe_api_versions_fresh(const std::string &host_port, int timeout_ms);

// CRC-32C (Castagnoli), as Kafka uses in record batches.
uint32_t crc32c(const uint8_t *data, size_t length);

// One record for build_record_batch.
struct test_record {
    std::string key;
    std::string value;
};

// Builds an uncompressed magic-v2 record batch (no producer id, base offset 0) with a
// correct CRC-32C. timestamp_ms is used for every record.
std::vector<uint8_t> build_record_batch(const std::vector<test_record> &records,
                                        int64_t timestamp_ms);

// Offset of the CRC field inside a magic-v2 batch (flip a bit there to corrupt it).
constexpr size_t k_batch_crc_offset = 17;

// Produce v7 request body for one topic and one partition carrying records.
std::vector<uint8_t> make_produce_v7_body(const std::string &topic, int32_t partition, int16_t acks,
                                          int32_t timeout_ms, const std::vector<uint8_t> &records);

// The per-partition part of a Produce v7 response that the tests check.
struct produce_partition_result {
    std::string topic;
    int32_t partition = -1;
    int16_t error_code = -1;
    int64_t base_offset = -1;
};

// Parses a Produce v5..v8 response (after the size prefix); false when malformed.
bool parse_produce_v7_response(const std::vector<uint8_t> &payload, int32_t *correlation_id,
                               std::vector<produce_partition_result> *out);

} // namespace sl_test
