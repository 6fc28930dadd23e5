// kcat (librdkafka 2.0.2) against a real broker process: metadata listing, 100k keyed
// messages with headers across partitions, consuming from the beginning, from an offset
// and from the end with exact content, and every compression codec.
#include <gtest/gtest.h>

#include <stdio.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/child_process.h"
#include "tests/support/compat_env.h"
#include "tests/support/segment_file.h"

namespace
{

using sl_test::broker_options;
using sl_test::broker_process;
using sl_test::command_result;
using sl_test::run_command;

constexpr int k_kcat_timeout_ms = 60000;
constexpr int k_keyed_partitions = 3;

std::string kcat()
{
    return sl_test::program_from_env("KCAT", "kcat");
}

// One line of `kcat -C -f '%k\t%s\t%h\t%p\t%o\n'`.
struct kcat_line {
    std::string key;
    std::string value;
    std::string headers;
    int partition = -1;
    long long offset = -1;
};

// Splits kcat's consumer output; returns false (and the bad line) on a malformed line.
bool parse_kcat_output(const std::string &text, std::vector<kcat_line> *out, std::string *bad)
{
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> fields;
        size_t start = 0;
        for (;;) {
            size_t tab = line.find('\t', start);
            fields.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
            if (tab == std::string::npos) {
                break;
            }
            start = tab + 1;
        }
        if (fields.size() != 5) {
            *bad = line;
            return false;
        }
        kcat_line parsed;
        parsed.key = fields[0];
        parsed.value = fields[1];
        parsed.headers = fields[2];
        parsed.partition = atoi(fields[3].c_str());
        parsed.offset = atoll(fields[4].c_str());
        out->push_back(parsed);
    }
    return true;
}

const char *k_consume_format = "%k\\t%s\\t%h\\t%p\\t%o\\n";

// Standard CRC-32 (zlib's), which librdkafka's default consistent_random partitioner
// applies to the key: partition = crc32(key) % partition_count.
uint32_t crc32_ieee(const std::string &data)
{
    uint32_t crc = 0xffffffffu;
    for (unsigned char c : data) {
        crc ^= c;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
        }
    }
    return crc ^ 0xffffffffu;
}

std::string key_of(int i)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "key-%06d", i);
    return buf;
}

// Values vary in length (and so in batch packing) but are derived from the index only.
std::string value_of(int i)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "value-%06d-", i);
    return std::string(buf) + std::string((size_t)(i % 97), (char)('a' + i % 26));
}

// Writes "key:value\n" lines for kcat -P -K: -l.
std::string write_keyed_input(const std::string &dir, int first, int count)
{
    std::string path = dir + "/input-" + std::to_string(first) + ".txt";
    std::string content;
    content.reserve((size_t)count * 120);
    for (int i = first; i < first + count; i++) {
        content += key_of(i) + ":" + value_of(i) + "\n";
    }
    EXPECT_TRUE(sl_test::write_file(path, content)) << path;
    return path;
}

command_result kcat_produce(const broker_process &broker, const std::string &topic,
                            const std::string &input_path,
                            const std::vector<std::string> &extra_args = {})
{
    std::vector<std::string> argv = {
        kcat(), "-b", broker.bootstrap(), "-P", "-t",          topic, "-K",
        ":",    "-H", "trace=abc",        "-H", "origin=kcat", "-l",  input_path};
    argv.insert(argv.end() - 2, extra_args.begin(), extra_args.end());
    return run_command(argv, k_kcat_timeout_ms);
}

command_result kcat_consume(const broker_process &broker, const std::string &topic,
                            const std::vector<std::string> &position_args)
{
    std::vector<std::string> argv = {kcat(), "-b", broker.bootstrap(), "-C", "-t", topic, "-e",
                                     "-q",   "-f", k_consume_format};
    argv.insert(argv.end(), position_args.begin(), position_args.end());
    return run_command(argv, k_kcat_timeout_ms);
}

class KcatTest : public ::testing::Test
{
  protected:
    void start_broker(const std::map<std::string, int> &topics)
    {
        broker_options options;
        options.topics = topics;
        broker_.reset(new broker_process(options));
        ASSERT_TRUE(broker_->Start());
        work_dir_ = broker_->dir();
    }

    std::unique_ptr<broker_process> broker_;
    std::string work_dir_;
};

TEST_F(KcatTest, MetadataListsBrokerAndTopicPartitions)
{
    ASSERT_NO_FATAL_FAILURE(start_broker({{"kcat-meta", 3}}));
    command_result r = run_command({kcat(), "-b", broker_->bootstrap(), "-L", "-t", "kcat-meta"},
                                   k_kcat_timeout_ms);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_NE(r.stdout_text.find(" 1 brokers:"), std::string::npos) << r.stdout_text;
    EXPECT_NE(r.stdout_text.find("broker 1 at " + broker_->bootstrap()), std::string::npos)
        << r.stdout_text;
    EXPECT_NE(r.stdout_text.find("topic \"kcat-meta\" with 3 partitions:"), std::string::npos)
        << r.stdout_text;
    for (int p = 0; p < 3; p++) {
        std::string row = "partition " + std::to_string(p) + ", leader 1, replicas: 1, isrs: 1";
        EXPECT_NE(r.stdout_text.find(row), std::string::npos) << "missing '" << row << "' in\n"
                                                              << r.stdout_text;
    }
}

// 100k keyed messages with two headers: every message comes back exactly once, in the
// partition librdkafka's partitioner chose for its key, with dense offsets from 0 and in
// produce order within each partition. Then a consume from an offset returns exactly the
// tail of that partition.
TEST_F(KcatTest, HundredThousandKeyedMessagesWithHeadersRoundTrip)
{
    constexpr int k_count = 100000;
    const std::string topic = "kcat-keyed";
    ASSERT_NO_FATAL_FAILURE(start_broker({{topic, k_keyed_partitions}}));
    std::string input = write_keyed_input(work_dir_, 0, k_count);
    command_result produced = kcat_produce(*broker_, topic, input);
    ASSERT_EQ(produced.exit_code, 0) << produced.describe();

    command_result consumed = kcat_consume(*broker_, topic, {"-o", "beginning"});
    ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
    std::vector<kcat_line> lines;
    std::string bad;
    ASSERT_TRUE(parse_kcat_output(consumed.stdout_text, &lines, &bad)) << "bad line: " << bad;
    ASSERT_EQ(lines.size(), (size_t)k_count);

    std::vector<int> seen(k_count, 0);
    std::vector<long long> next_offset(k_keyed_partitions, 0);
    std::vector<int> last_index(k_keyed_partitions, -1);
    std::map<int, std::vector<kcat_line>> by_partition;
    for (const kcat_line &l : lines) {
        ASSERT_EQ(l.key.compare(0, 4, "key-"), 0) << l.key;
        int i = atoi(l.key.c_str() + 4);
        ASSERT_GE(i, 0);
        ASSERT_LT(i, k_count);
        ASSERT_EQ(l.key, key_of(i));
        ASSERT_EQ(l.value, value_of(i)) << "key " << l.key;
        ASSERT_EQ(l.headers, "trace=abc,origin=kcat") << "key " << l.key;
        ASSERT_EQ(l.partition, (int)(crc32_ieee(l.key) % k_keyed_partitions)) << "key " << l.key;
        seen[(size_t)i]++;
        // kcat prints each partition's messages in offset order; offsets must be dense.
        ASSERT_EQ(l.offset, next_offset[(size_t)l.partition]) << "partition " << l.partition;
        next_offset[(size_t)l.partition]++;
        ASSERT_GT(i, last_index[(size_t)l.partition])
            << "produce order broken in partition " << l.partition;
        last_index[(size_t)l.partition] = i;
        by_partition[l.partition].push_back(l);
    }
    for (int i = 0; i < k_count; i++) {
        ASSERT_EQ(seen[(size_t)i], 1) << "message " << i;
    }
    for (int p = 0; p < k_keyed_partitions; p++) {
        EXPECT_GT(next_offset[(size_t)p], k_count / 10) << "partition " << p << " nearly empty";
    }

    // From an absolute offset in partition 1: exactly the tail of what was read above.
    const std::vector<kcat_line> &p1 = by_partition[1];
    ASSERT_GT(p1.size(), 1000u);
    long long from = (long long)p1.size() / 2 + 7;
    command_result tail = kcat_consume(*broker_, topic, {"-p", "1", "-o", std::to_string(from)});
    ASSERT_EQ(tail.exit_code, 0) << tail.describe();
    std::vector<kcat_line> tail_lines;
    ASSERT_TRUE(parse_kcat_output(tail.stdout_text, &tail_lines, &bad)) << "bad line: " << bad;
    ASSERT_EQ(tail_lines.size(), p1.size() - (size_t)from);
    for (size_t j = 0; j < tail_lines.size(); j++) {
        const kcat_line &want = p1[(size_t)from + j];
        ASSERT_EQ(tail_lines[j].offset, want.offset);
        ASSERT_EQ(tail_lines[j].key, want.key);
        ASSERT_EQ(tail_lines[j].value, want.value);
        ASSERT_EQ(tail_lines[j].partition, 1);
    }
}

// A consumer started at the end sees only messages produced after it reached the end.
TEST_F(KcatTest, ConsumeFromEndSeesOnlyNewMessages)
{
    const std::string topic = "kcat-end";
    ASSERT_NO_FATAL_FAILURE(start_broker({{topic, 1}}));
    ASSERT_EQ(kcat_produce(*broker_, topic, write_keyed_input(work_dir_, 0, 50)).exit_code, 0);

    sl_test::child_process consumer;
    sl_test::command_options opts;
    std::string error;
    ASSERT_TRUE(consumer.start({kcat(), "-b", broker_->bootstrap(), "-C", "-t", topic, "-p", "0",
                                "-o", "end", "-c", "3", "-f", k_consume_format},
                               opts, &error))
        << error;
    // kcat reports "Reached end of topic ... at offset 50" on stderr once it is positioned.
    long long deadline_ms = sl_test::monotonic_ms() + 30000;
    while (sl_test::read_file(consumer.stderr_path()).find("Reached end of topic") ==
               std::string::npos &&
           consumer.running() && sl_test::monotonic_ms() < deadline_ms) {
        usleep(20 * 1000);
    }
    ASSERT_NE(sl_test::read_file(consumer.stderr_path()).find("at offset 50"), std::string::npos)
        << sl_test::read_file(consumer.stderr_path());

    ASSERT_EQ(kcat_produce(*broker_, topic, write_keyed_input(work_dir_, 1000, 3)).exit_code, 0);
    command_result r = consumer.wait(30000);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    std::vector<kcat_line> lines;
    std::string bad;
    ASSERT_TRUE(parse_kcat_output(r.stdout_text, &lines, &bad)) << bad;
    ASSERT_EQ(lines.size(), 3u) << r.stdout_text;
    for (int j = 0; j < 3; j++) {
        EXPECT_EQ(lines[(size_t)j].key, key_of(1000 + j));
        EXPECT_EQ(lines[(size_t)j].value, value_of(1000 + j));
        EXPECT_EQ(lines[(size_t)j].offset, 50 + j);
    }
}

class KcatCompressionTest : public KcatTest, public ::testing::WithParamInterface<const char *>
{
};

// Each codec: 5000 messages in batches of up to 500 round-trip exactly.
TEST_P(KcatCompressionTest, CompressedMessagesRoundTrip)
{
    const std::string codec = GetParam();
    const std::string topic = "kcat-" + codec;
    constexpr int k_count = 5000;
    ASSERT_NO_FATAL_FAILURE(start_broker({{topic, 1}}));
    command_result produced = kcat_produce(
        *broker_, topic, write_keyed_input(work_dir_, 0, k_count),
        {"-X", "compression.codec=" + codec, "-X", "linger.ms=20", "-X", "batch.num.messages=500"});
    ASSERT_EQ(produced.exit_code, 0) << produced.describe();
    command_result consumed = kcat_consume(*broker_, topic, {"-o", "beginning"});
    ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
    std::vector<kcat_line> lines;
    std::string bad;
    ASSERT_TRUE(parse_kcat_output(consumed.stdout_text, &lines, &bad)) << bad;
    ASSERT_EQ(lines.size(), (size_t)k_count);
    for (int i = 0; i < k_count; i++) {
        ASSERT_EQ(lines[(size_t)i].key, key_of(i));
        ASSERT_EQ(lines[(size_t)i].value, value_of(i));
        ASSERT_EQ(lines[(size_t)i].headers, "trace=abc,origin=kcat");
        ASSERT_EQ(lines[(size_t)i].offset, i);
    }
}

// Compression attribute (bits 0-2 of a magic-v2 batch's attributes) per kcat codec name.
int codec_id(const std::string &codec)
{
    static const std::map<std::string, int> ids = {
        {"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}};
    auto it = ids.find(codec);
    return it == ids.end() ? -1 : it->second;
}

// Invariant 3: the broker stores batches exactly as produced, so on disk they carry the
// producer's codec. Needs the broker's data dir: not available in mock mode.
TEST_P(KcatCompressionTest, StoredBatchesKeepProducerCompression)
{
    if (sl_test::broker_is_mock()) {
        GTEST_SKIP() << "mock mode has no data dir to inspect";
    }
    const std::string codec = GetParam();
    const std::string topic = "kcat-disk-" + codec;
    constexpr int k_count = 2000;
    ASSERT_NO_FATAL_FAILURE(start_broker({{topic, 1}}));
    command_result produced = kcat_produce(
        *broker_, topic, write_keyed_input(work_dir_, 0, k_count),
        {"-X", "compression.codec=" + codec, "-X", "linger.ms=20", "-X", "batch.num.messages=500"});
    ASSERT_EQ(produced.exit_code, 0) << produced.describe();
    ASSERT_TRUE(broker_->Stop()); // everything on disk, nothing half-written

    std::vector<std::string> segments = sl_test::list_segment_files(broker_->data_dir(), topic, 0);
    ASSERT_FALSE(segments.empty())
        << "no <20-digit offset>.log segment for " << topic << "-0 in " << broker_->data_dir();
    std::vector<sl_test::stored_batch> batches;
    for (const auto &segment : segments) {
        std::string error;
        ASSERT_TRUE(sl_test::read_segment_batches(segment, &batches, &error)) << error;
    }
    ASSERT_GE(batches.size(), 4u) << "expected several batches of up to 500";
    int records = 0;
    for (const auto &b : batches) {
        EXPECT_EQ(b.compression, codec_id(codec)) << "batch at offset " << b.base_offset;
        EXPECT_TRUE(b.crc_ok) << "batch at offset " << b.base_offset;
        records += b.record_count;
    }
    EXPECT_EQ(records, k_count);
}

INSTANTIATE_TEST_SUITE_P(Codecs, KcatCompressionTest,
                         ::testing::Values("gzip", "snappy", "lz4", "zstd"));

} // namespace
