// Raw Metadata v7 and CreateTopics v4 against one broker (see raw_admin_client.h).
#include "tests/support/raw_admin_client.h"

#include <algorithm>

#include "tests/support/raw_kafka_client.h"

namespace sl_test
{

namespace
{

constexpr int16_t k_api_metadata = 3;
constexpr int16_t k_api_find_coordinator = 10;
constexpr int16_t k_api_create_topics = 19;
constexpr int16_t k_api_delete_topics = 20;
// Larger than any sane array in a test cluster's answer: a corrupt count fails fast.
constexpr int32_t k_array_max = 100000;
// Extra wait for an answer beyond the request's own timeout.
constexpr int k_answer_margin_ms = 10000;

// Sends one request and reads its answer; checks the correlation id. "" on success.
std::string round_trip(const std::string &host_port, int16_t api_key, int16_t version,
                       const std::vector<uint8_t> &body, int timeout_ms,
                       std::vector<uint8_t> *payload)
{
    raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(host_port, timeout_ms, &error)) {
        return "connect " + host_port + ": " + error;
    }
    const int32_t correlation_id = 0x5c1u;
    if (!conn.send_frame(make_request_v1(api_key, version, correlation_id, body))) {
        return "send to " + host_port + " failed";
    }
    read_status st = conn.read_frame(payload, timeout_ms);
    if (st != read_status::ok) {
        return std::string("reading the answer of ") + host_port + ": " + read_status_name(st);
    }
    kafka_reader r(*payload);
    if (r.int32() != correlation_id) {
        return "answer from " + host_port + " has the wrong correlation id";
    }
    payload->erase(payload->begin(), payload->begin() + 4);
    return "";
}

bool read_int32_array(kafka_reader &r, std::vector<int32_t> *out)
{
    int32_t n = r.int32();
    if (r.failed() || n < -1 || n > k_array_max) {
        return false;
    }
    for (int32_t i = 0; i < n; i++) {
        out->push_back(r.int32());
    }
    return !r.failed();
}

// A nullable string: int16 length -1 is null ("").
std::string read_nullable(kafka_reader &r)
{
    return r.string();
}

bool parse_metadata_v7(const std::vector<uint8_t> &body, metadata_view *out)
{
    kafka_reader r(body);
    r.int32(); // throttle_time_ms
    int32_t nb = r.int32();
    if (r.failed() || nb < 0 || nb > k_array_max) {
        return false;
    }
    for (int32_t i = 0; i < nb; i++) {
        metadata_broker b;
        b.node_id = r.int32();
        b.host = r.string();
        b.port = r.int32();
        b.rack = read_nullable(r);
        out->brokers.push_back(b);
    }
    out->cluster_id = read_nullable(r);
    out->controller_id = r.int32();
    int32_t nt = r.int32();
    if (r.failed() || nt < 0 || nt > k_array_max) {
        return false;
    }
    for (int32_t i = 0; i < nt; i++) {
        metadata_topic t;
        t.error_code = r.int16();
        t.name = r.string();
        t.is_internal = r.int8() != 0;
        int32_t np = r.int32();
        if (r.failed() || np < 0 || np > k_array_max) {
            return false;
        }
        for (int32_t k = 0; k < np; k++) {
            metadata_partition p;
            p.error_code = r.int16();
            p.partition = r.int32();
            p.leader = r.int32();
            p.leader_epoch = r.int32();
            if (!read_int32_array(r, &p.replicas) || !read_int32_array(r, &p.isr) ||
                !read_int32_array(r, &p.offline)) {
                return false;
            }
            t.partitions.push_back(p);
        }
        std::string name = t.name;
        out->topics[name] = std::move(t);
    }
    return !r.failed() && r.remaining() == 0;
}

// Reader of the flexible (compact, tagged) encodings, bounds-checked like kafka_reader.
class flexible_reader
{
  public:
    explicit flexible_reader(const std::vector<uint8_t> &b) : bytes_(b)
    {
    }
    bool failed() const
    {
        return failed_;
    }
    size_t remaining() const
    {
        return failed_ ? 0 : bytes_.size() - pos_;
    }
    uint64_t fixed(size_t n)
    {
        if (failed_ || bytes_.size() - pos_ < n) {
            failed_ = true;
            return 0;
        }
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            v = (v << 8) | bytes_[pos_++];
        }
        return v;
    }
    uint32_t uvarint()
    {
        uint32_t v = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            uint8_t b = (uint8_t)fixed(1);
            if (failed_) {
                return 0;
            }
            v |= (uint32_t)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return v;
            }
        }
        failed_ = true;
        return 0;
    }
    // Compact (nullable) string: "" when null.
    std::string compact_string()
    {
        uint32_t n = uvarint();
        if (failed_ || n == 0) {
            return "";
        }
        n -= 1;
        if (bytes_.size() - pos_ < n) {
            failed_ = true;
            return "";
        }
        std::string out(bytes_.begin() + (long)pos_, bytes_.begin() + (long)(pos_ + n));
        pos_ += n;
        return out;
    }
    // Compact array count (-1 for null).
    int32_t compact_count()
    {
        uint32_t n = uvarint();
        if (failed_ || n > (uint32_t)k_array_max + 1) {
            failed_ = true;
            return 0;
        }
        return (int32_t)n - 1;
    }
    void skip(size_t n)
    {
        if (failed_ || bytes_.size() - pos_ < n) {
            failed_ = true;
            return;
        }
        pos_ += n;
    }
    size_t pos() const
    {
        return pos_;
    }
    // Skips a whole tagged-field section.
    void skip_tags()
    {
        uint32_t count = uvarint();
        for (uint32_t i = 0; i < count && !failed_; i++) {
            uvarint(); // tag
            skip(uvarint());
        }
    }

  private:
    const std::vector<uint8_t> &bytes_;
    size_t pos_ = 0;
    bool failed_ = false;
};

void compact_string_out(kafka_writer &w, const std::string &s)
{
    w.unsigned_varint((uint32_t)s.size() + 1);
    w.raw(std::vector<uint8_t>(s.begin(), s.end()));
}

} // namespace

const metadata_broker *metadata_view::broker(int32_t node_id) const
{
    for (const auto &b : brokers) {
        if (b.node_id == node_id) {
            return &b;
        }
    }
    return nullptr;
}

const metadata_topic *metadata_view::topic(const std::string &name) const
{
    auto it = topics.find(name);
    return it == topics.end() ? nullptr : &it->second;
}

std::vector<int32_t> metadata_view::broker_ids() const
{
    std::vector<int32_t> ids;
    for (const auto &b : brokers) {
        ids.push_back(b.node_id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

std::string fetch_metadata(const std::string &host_port, const std::vector<std::string> &topics,
                           bool allow_auto_create, int timeout_ms, metadata_view *out)
{
    kafka_writer w;
    if (topics.empty()) {
        w.int32(-1); // null: every topic
    } else {
        w.int32((int32_t)topics.size());
        for (const auto &t : topics) {
            w.string(t);
        }
    }
    w.int8(allow_auto_create ? 1 : 0);
    std::vector<uint8_t> payload;
    std::string error = round_trip(host_port, k_api_metadata, 7, w.data(), timeout_ms, &payload);
    if (!error.empty()) {
        return error;
    }
    *out = metadata_view();
    if (!parse_metadata_v7(payload, out)) {
        return "malformed Metadata v7 answer from " + host_port;
    }
    return "";
}

std::string create_topic_raw(const std::string &host_port, const std::string &name,
                             int32_t partitions, int16_t replication_factor, int timeout_ms,
                             int16_t *error_code, std::string *error_message)
{
    kafka_writer w;
    w.int32(1); // topics
    w.string(name);
    w.int32(partitions);
    w.int16(replication_factor);
    w.int32(0); // assignments
    w.int32(0); // configs
    w.int32(timeout_ms);
    w.int8(0); // validate_only
    std::vector<uint8_t> payload;
    // The answer may wait for the controller: allow a little more than the request's own
    // timeout on the socket.
    std::string error = round_trip(host_port, k_api_create_topics, 4, w.data(),
                                   timeout_ms + k_answer_margin_ms, &payload);
    if (!error.empty()) {
        return error;
    }
    kafka_reader r(payload);
    r.int32(); // throttle_time_ms
    int32_t n = r.int32();
    if (r.failed() || n != 1) {
        return "malformed CreateTopics v4 answer from " + host_port;
    }
    std::string got = r.string();
    *error_code = r.int16();
    std::string message = read_nullable(r);
    if (r.failed() || got != name) {
        return "malformed CreateTopics v4 answer from " + host_port;
    }
    if (error_message != nullptr) {
        *error_message = message;
    }
    return "";
}

std::string delete_topic_raw(const std::string &host_port, const std::string &name, int timeout_ms,
                             int16_t *error_code)
{
    kafka_writer w;
    w.int32(1); // topic names
    w.string(name);
    w.int32(timeout_ms);
    std::vector<uint8_t> payload;
    std::string error = round_trip(host_port, k_api_delete_topics, 1, w.data(),
                                   timeout_ms + k_answer_margin_ms, &payload);
    if (!error.empty()) {
        return error;
    }
    kafka_reader r(payload);
    r.int32(); // throttle_time_ms
    int32_t n = r.int32();
    std::string got = r.string();
    *error_code = r.int16();
    if (r.failed() || n != 1 || got != name || r.remaining() != 0) {
        return "malformed DeleteTopics v1 answer from " + host_port;
    }
    return "";
}

std::string produce_v10_raw(const std::string &host_port, const std::string &topic,
                            int32_t partition, const std::vector<uint8_t> &records, int timeout_ms,
                            produce_v10_result *out)
{
    // Request header v2: the v1 fields, then an empty tagged-field section.
    kafka_writer w;
    w.int16(0); // Produce
    w.int16(10);
    const int32_t correlation_id = 0x5c10;
    w.int32(correlation_id);
    w.string("sluice-raw-test");
    w.unsigned_varint(0); // header tags
    w.unsigned_varint(0); // transactional_id: null
    w.int16(1);           // acks
    w.int32(timeout_ms);
    w.unsigned_varint(2); // one topic
    compact_string_out(w, topic);
    w.unsigned_varint(2); // one partition
    w.int32(partition);
    w.unsigned_varint((uint32_t)records.size() + 1);
    w.raw(records);
    w.unsigned_varint(0); // partition tags
    w.unsigned_varint(0); // topic tags
    w.unsigned_varint(0); // body tags
    raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(host_port, timeout_ms, &error)) {
        return "connect " + host_port + ": " + error;
    }
    if (!conn.send_frame(w.data())) {
        return "send to " + host_port + " failed";
    }
    std::vector<uint8_t> payload;
    // The broker answers within timeout_ms (or says REQUEST_TIMED_OUT then): wait longer
    // so a loaded machine's late answer is still read.
    read_status st = conn.read_frame(&payload, timeout_ms + k_answer_margin_ms);
    if (st != read_status::ok) {
        return std::string("reading the answer of ") + host_port + ": " + read_status_name(st);
    }
    flexible_reader r(payload);
    bool ok = (int32_t)r.fixed(4) == correlation_id;
    r.skip_tags(); // response header v1
    *out = produce_v10_result();
    ok = ok && r.compact_count() == 1 && r.compact_string() == topic && r.compact_count() == 1;
    ok = ok && (int32_t)r.fixed(4) == partition;
    out->error_code = (int16_t)r.fixed(2);
    out->base_offset = (int64_t)r.fixed(8);
    r.fixed(8); // log_append_time_ms
    r.fixed(8); // log_start_offset
    int32_t record_errors = r.compact_count();
    ok = ok && record_errors <= 0;
    r.compact_string(); // error_message
    for (uint32_t tags = r.uvarint(), i = 0; ok && !r.failed() && i < tags; i++) {
        uint32_t tag = r.uvarint();
        uint32_t size = r.uvarint();
        if (tag == 0) { // current_leader
            size_t start = r.pos();
            out->current_leader = (int32_t)r.fixed(4);
            out->current_leader_epoch = (int32_t)r.fixed(4);
            r.skip(size - (r.pos() - start)); // its own (empty) tag section
        } else {
            r.skip(size);
        }
    }
    r.skip_tags(); // topic tags
    r.fixed(4);    // throttle_time_ms
    for (uint32_t tags = r.uvarint(), i = 0; ok && !r.failed() && i < tags; i++) {
        uint32_t tag = r.uvarint();
        uint32_t size = r.uvarint();
        if (tag != 0) {
            r.skip(size);
            continue;
        }
        int32_t n = r.compact_count();
        for (int32_t k = 0; k < n && !r.failed(); k++) {
            metadata_broker b;
            b.node_id = (int32_t)r.fixed(4);
            b.host = r.compact_string();
            b.port = (int32_t)r.fixed(4);
            b.rack = r.compact_string();
            r.skip_tags();
            out->node_endpoints.push_back(b);
        }
    }
    if (!ok || r.failed() || r.remaining() != 0) {
        return "malformed Produce v10 answer from " + host_port;
    }
    return "";
}

std::string fetch_v12_raw(const std::string &host_port, const std::string &topic, int32_t partition,
                          int64_t fetch_offset, int timeout_ms, fetch_v12_result *out)
{
    kafka_writer w;
    w.int16(1); // Fetch
    w.int16(12);
    const int32_t correlation_id = 0x5c12;
    w.int32(correlation_id);
    w.string("sluice-raw-test");
    w.unsigned_varint(0); // header tags
    w.int32(-1);          // replica_id: a consumer
    w.int32(0);           // max_wait_ms
    w.int32(1);           // min_bytes
    w.int32(1 << 20);     // max_bytes
    w.int8(0);            // isolation_level
    w.int32(0);           // session_id
    w.int32(-1);          // session_epoch: full fetch, no session
    w.unsigned_varint(2); // one topic
    compact_string_out(w, topic);
    w.unsigned_varint(2); // one partition
    w.int32(partition);
    w.int32(-1); // current_leader_epoch
    w.int64(fetch_offset);
    w.int32(-1);               // last_fetched_epoch
    w.int64(-1);               // log_start_offset
    w.int32(1 << 20);          // partition_max_bytes
    w.unsigned_varint(0);      // partition tags
    w.unsigned_varint(0);      // topic tags
    w.unsigned_varint(1);      // forgotten_topics_data: empty
    compact_string_out(w, ""); // rack_id
    w.unsigned_varint(0);      // body tags
    raw_kafka_connection conn;
    std::string error;
    if (!conn.connect_to(host_port, timeout_ms, &error)) {
        return "connect " + host_port + ": " + error;
    }
    if (!conn.send_frame(w.data())) {
        return "send to " + host_port + " failed";
    }
    std::vector<uint8_t> payload;
    // The broker answers within timeout_ms (or says REQUEST_TIMED_OUT then): wait longer
    // so a loaded machine's late answer is still read.
    read_status st = conn.read_frame(&payload, timeout_ms + k_answer_margin_ms);
    if (st != read_status::ok) {
        return std::string("reading the answer of ") + host_port + ": " + read_status_name(st);
    }
    flexible_reader r(payload);
    bool ok = (int32_t)r.fixed(4) == correlation_id;
    r.skip_tags(); // response header v1
    *out = fetch_v12_result();
    r.fixed(4);                 // throttle_time_ms
    ok = ok && r.fixed(2) == 0; // top-level error_code
    r.fixed(4);                 // session_id
    ok = ok && r.compact_count() == 1 && r.compact_string() == topic && r.compact_count() == 1;
    ok = ok && (int32_t)r.fixed(4) == partition;
    out->error_code = (int16_t)r.fixed(2);
    out->high_watermark = (int64_t)r.fixed(8);
    r.fixed(8); // last_stable_offset
    r.fixed(8); // log_start_offset
    int32_t aborted = r.compact_count();
    r.skip(aborted > 0 ? (size_t)aborted * 16 : 0);
    r.fixed(4); // preferred_read_replica
    uint32_t records = r.uvarint();
    out->records_bytes = (int32_t)records - 1;
    r.skip(records > 0 ? records - 1 : 0);
    for (uint32_t tags = r.uvarint(), i = 0; ok && !r.failed() && i < tags; i++) {
        uint32_t tag = r.uvarint();
        uint32_t size = r.uvarint();
        if (tag == 1) { // current_leader
            size_t start = r.pos();
            out->current_leader = (int32_t)r.fixed(4);
            out->current_leader_epoch = (int32_t)r.fixed(4);
            r.skip(size - (r.pos() - start));
        } else {
            r.skip(size);
        }
    }
    r.skip_tags(); // topic tags
    r.skip_tags(); // body tags
    if (!ok || r.failed() || r.remaining() != 0) {
        return "malformed Fetch v12 answer from " + host_port;
    }
    return "";
}

std::string find_group_coordinator_raw(const std::string &host_port, const std::string &group,
                                       int timeout_ms, int16_t *error_code, int32_t *node_id)
{
    kafka_writer w;
    w.string(group);
    w.int8(0); // key type: group
    std::vector<uint8_t> payload;
    std::string error =
        round_trip(host_port, k_api_find_coordinator, 1, w.data(), timeout_ms, &payload);
    if (!error.empty()) {
        return error;
    }
    kafka_reader r(payload);
    r.int32(); // throttle_time_ms
    *error_code = r.int16();
    read_nullable(r); // error_message
    *node_id = r.int32();
    r.string(); // host
    r.int32();  // port
    if (r.failed() || r.remaining() != 0) {
        return "malformed FindCoordinator v1 answer from " + host_port;
    }
    return "";
}

} // namespace sl_test
