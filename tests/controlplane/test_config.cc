// Configuration: properties parsing, key table checks, overrides, cross-key validation.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" {
#include "controlplane/config.h"
#include "controlplane/properties.h"
}

namespace
{

int collect(const char *key, const char *value, unsigned line, void *arg)
{
    auto *out = static_cast<std::vector<std::tuple<std::string, std::string, unsigned>> *>(arg);
    out->emplace_back(key, value, line);
    return 0;
}

std::vector<std::tuple<std::string, std::string, unsigned>> parse(const std::string &text)
{
    std::vector<std::tuple<std::string, std::string, unsigned>> out;
    char err[256] = "";
    int rc = sl_properties_parse(text.data(), text.size(), collect, &out, err, sizeof(err));
    EXPECT_EQ(rc, 0) << err;
    return out;
}

struct Config {
    struct sl_config cfg;
    char err[512] = "";
    Config()
    {
        EXPECT_EQ(sl_config_init_defaults(&cfg), 0);
    }
    ~Config()
    {
        sl_config_free(&cfg);
    }
    int load(const std::string &text)
    {
        err[0] = '\0';
        return sl_config_load_text(&cfg, "server.properties", text.data(), text.size(), err,
                                   sizeof(err));
    }
    int validate()
    {
        err[0] = '\0';
        return sl_config_validate(&cfg, err, sizeof(err));
    }
};

bool contains(const char *haystack, const std::string &needle)
{
    return std::string(haystack).find(needle) != std::string::npos;
}

} // namespace

TEST(Properties, CommentsSeparatorsTrimmingAndContinuations)
{
    auto pairs = parse("# comment\n"
                       "! also a comment \\\n"
                       "a=1\n"
                       "  b : two words  \n"
                       "c three\n"
                       "d=x\\\n"
                       "    y\\\n"
                       "  z\n"
                       "\n"
                       "e=\\u0041\\t\\\\\n"
                       "f=\r\n"
                       "g\n");
    ASSERT_EQ(pairs.size(), 7u);
    EXPECT_EQ(std::get<0>(pairs[0]), "a");
    EXPECT_EQ(std::get<1>(pairs[0]), "1");
    EXPECT_EQ(std::get<2>(pairs[0]), 3u);
    EXPECT_EQ(std::get<0>(pairs[1]), "b");
    EXPECT_EQ(std::get<1>(pairs[1]), "two words  ");
    EXPECT_EQ(std::get<1>(pairs[2]), "three");
    EXPECT_EQ(std::get<0>(pairs[3]), "d");
    EXPECT_EQ(std::get<1>(pairs[3]), "xyz");
    EXPECT_EQ(std::get<2>(pairs[3]), 6u);
    EXPECT_EQ(std::get<1>(pairs[4]), "A\t\\");
    EXPECT_EQ(std::get<0>(pairs[5]), "f");
    EXPECT_EQ(std::get<1>(pairs[5]), "");
    EXPECT_EQ(std::get<0>(pairs[6]), "g");
    EXPECT_EQ(std::get<1>(pairs[6]), "");
}

TEST(Properties, EscapedSeparatorInKeyAndBadUnicode)
{
    auto pairs = parse("a\\=b=c\n");
    ASSERT_EQ(pairs.size(), 1u);
    EXPECT_EQ(std::get<0>(pairs[0]), "a=b");
    EXPECT_EQ(std::get<1>(pairs[0]), "c");

    std::vector<std::tuple<std::string, std::string, unsigned>> out;
    char err[256] = "";
    std::string bad = "x=1\ny=\\u00G1\n";
    EXPECT_EQ(sl_properties_parse(bad.data(), bad.size(), collect, &out, err, sizeof(err)),
              -EINVAL);
    EXPECT_TRUE(contains(err, "line 2")) << err;
    std::string empty_key = "=5\n";
    EXPECT_EQ(
        sl_properties_parse(empty_key.data(), empty_key.size(), collect, &out, err, sizeof(err)),
        -EINVAL);
    EXPECT_TRUE(contains(err, "empty key")) << err;
}

TEST(Config, DefaultsAreTheSingleNodeQuorum)
{
    Config c;
    EXPECT_EQ(c.validate(), 0) << c.err;
    EXPECT_EQ(sl_config_int(&c.cfg, SL_CONFIG_NODE_ID), 1);
    EXPECT_TRUE(sl_config_has_role(&c.cfg, "broker"));
    EXPECT_TRUE(sl_config_has_role(&c.cfg, "controller"));
    EXPECT_STREQ(sl_config_string(&c.cfg, SL_CONFIG_LISTENERS),
                 "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093");
    EXPECT_STREQ(sl_config_string(&c.cfg, SL_CONFIG_CONTROLLER_QUORUM_VOTERS), "1@127.0.0.1:9093");
    EXPECT_STREQ(sl_config_string(&c.cfg, SL_CONFIG_LOG_DIRS), "./data");
    EXPECT_STREQ(sl_config_string(&c.cfg, SL_CONFIG_DATAPLANE_DRIVER), "uring");
    EXPECT_FALSE(sl_config_bool(&c.cfg, SL_CONFIG_UNCLEAN_LEADER_ELECTION_ENABLE));
    EXPECT_EQ(sl_config_log_retention_ms(&c.cfg), 168LL * 3600 * 1000);
    char dir[256];
    ASSERT_EQ(sl_config_metadata_log_dir(&c.cfg, dir, sizeof(dir)), 0);
    EXPECT_STREQ(dir, "./data/__cluster_metadata-0");
    EXPECT_FALSE(sl_config_is_set(&c.cfg, SL_CONFIG_BROKER_RACK));
}

TEST(Config, EveryTableRowIsSane)
{
    const struct sl_config_key_info *t = sl_config_key_table();
    for (int i = 0; i < SL_CONFIG_KEY_COUNT; i++) {
        EXPECT_EQ(sl_config_key_find(t[i].name), i) << "duplicate key " << t[i].name;
        EXPECT_GT(strlen(t[i].doc), 10u) << t[i].name;
        if (t[i].type == SL_CONFIG_INT) {
            EXPECT_LE(t[i].min, t[i].max) << t[i].name;
        }
        if (t[i].type == SL_CONFIG_ENUM) {
            EXPECT_NE(t[i].allowed[0], '\0') << t[i].name;
        }
    }
    const struct sl_config_key_info *tt = sl_topic_config_key_table();
    for (int i = 0; i < SL_TOPIC_CONFIG_KEY_COUNT; i++) {
        EXPECT_EQ(sl_topic_config_key_find(tt[i].name), i) << tt[i].name;
        char err[256];
        ASSERT_NE(tt[i].default_value, nullptr) << tt[i].name;
        EXPECT_EQ(sl_topic_config_validate(tt[i].name, tt[i].default_value, err, sizeof(err)), 0)
            << err;
        if (tt[i].broker_key[0] != '\0') {
            EXPECT_GE(sl_config_key_find(tt[i].broker_key), 0) << tt[i].broker_key;
        }
    }
}

TEST(Config, FileValuesAndTypes)
{
    Config c;
    ASSERT_EQ(c.load("num.partitions=12\n"
                     "auto.create.topics.enable = FALSE\n"
                     "broker.rack: rack-a\n"
                     "memory.hugepages=off\n"
                     "log.retention.minutes=5\n"
                     "process.roles=broker, controller\n"),
              0)
        << c.err;
    EXPECT_EQ(sl_config_int(&c.cfg, SL_CONFIG_NUM_PARTITIONS), 12);
    EXPECT_FALSE(sl_config_bool(&c.cfg, SL_CONFIG_AUTO_CREATE_TOPICS_ENABLE));
    EXPECT_STREQ(sl_config_string(&c.cfg, SL_CONFIG_BROKER_RACK), "rack-a");
    EXPECT_EQ(sl_config_log_retention_ms(&c.cfg), 5 * 60 * 1000);
    EXPECT_EQ(c.cfg.values[SL_CONFIG_NUM_PARTITIONS].source, SL_CONFIG_SOURCE_FILE);
    EXPECT_EQ(c.cfg.values[SL_CONFIG_NUM_PARTITIONS].line, 1u);
    EXPECT_EQ(c.validate(), 0) << c.err;
}

TEST(Config, ErrorsNameKeyValueAndAllowed)
{
    struct Case {
        const char *text;
        int rc;
        std::vector<std::string> words;
    } cases[] = {
        {"bogus.key=1\n", -ENOENT, {"unknown config key 'bogus.key'", "server.properties:1"}},
        {"retention.ms=5\n", -ENOENT, {"topic-level key", "log.retention.ms"}},
        {"num.partitions=abc\n", -EINVAL, {"'num.partitions'", "'abc'", "integer from 1 to"}},
        {"num.partitions=0\n", -EINVAL, {"'num.partitions'", "'0'"}},
        {"num.partitions=99999999999999999999\n", -EINVAL, {"'num.partitions'"}},
        {"num.partitions=\n", -EINVAL, {"'num.partitions'", "''"}},
        {"auto.create.topics.enable=yes\n", -EINVAL, {"'yes'", "true or false"}},
        {"dataplane.driver=xdp\n", -EINVAL, {"'dataplane.driver'", "'xdp'", "uring, dpdk"}},
        {"memory.hugepages=maybe\n", -EINVAL, {"on, off, auto"}},
        {"process.roles=broker,admin\n", -EINVAL, {"'admin'", "broker, controller"}},
        {"process.roles=broker,,controller\n", -EINVAL, {"empty item"}},
        {"node.id=1\nnode.id=2\n", -EINVAL, {"'node.id' is set twice", "line 1", ":2"}},
    };
    for (const auto &tc : cases) {
        Config c;
        EXPECT_EQ(c.load(tc.text), tc.rc) << tc.text;
        for (const auto &w : tc.words) {
            EXPECT_TRUE(contains(c.err, w)) << "'" << c.err << "' lacks '" << w << "'";
        }
    }
}

TEST(Config, CrossKeyValidationErrors)
{
    struct Case {
        const char *text;
        std::vector<std::string> words;
    } cases[] = {
        {"node.id=2\n", {"node.id 2", "not in controller.quorum.voters", "cannot form"}},
        {"controller.quorum.voters=1@127.0.0.1:9093,1@127.0.0.1:9094\n",
         {"voter id 1 is listed twice"}},
        {"controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9093\n",
         {"voters 1 and 2 both use 127.0.0.1:9093"}},
        {"controller.quorum.voters=1@127.0.0.1:9999\n", {"127.0.0.1:9999", "CONTROLLER listener"}},
        {"controller.quorum.voters=x@h:1\n", {"bad voter 'x@h:1'"}},
        {"controller.quorum.voters=1@h\n", {"bad voter '1@h'"}},
        {"controller.quorum.voters=\n", {"is empty", "at least one voter"}},
        {"process.roles=broker\n", {"node.id 1 is listed in controller.quorum.voters"}},
        {"process.roles=broker\ncontroller.quorum.voters=2@10.0.0.2:9093\n",
         {"'CONTROLLER' is a controller listener"}},
        {"process.roles=broker,broker\n", {"listed twice"}},
        {"listeners=PLAINTEXT://127.0.0.1:9092\n",
         {"controller.listener.names names 'CONTROLLER'"}},
        {"listeners=PLAINTEXT:/127.0.0.1:9092\n", {"bad listener", "NAME://host:port"}},
        {"listeners=plain://127.0.0.1:9092\n", {"bad listener name 'plain'"}},
        {"listeners=PLAINTEXT://127.0.0.1:70000,CONTROLLER://127.0.0.1:9093\n",
         {"bad listener 'PLAINTEXT://127.0.0.1:70000'"}},
        {"listeners=PLAINTEXT://h:1,PLAINTEXT://h:2\n",
         {"listener name 'PLAINTEXT' is used twice"}},
        {"listeners=PLAINTEXT://h:1,CONTROLLER://h:1\n", {"both use h:1"}},
        {"listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,EXTRA://h:5\n",
         {"'EXTRA' has no entry in listener.security.protocol.map"}},
        {"listener.security.protocol.map=PLAINTEXT:SSL,CONTROLLER:PLAINTEXT\n",
         {"only PLAINTEXT is supported"}},
        {"inter.broker.listener.name=NOPE\n", {"'inter.broker.listener.name' is 'NOPE'"}},
        {"inter.broker.listener.name=CONTROLLER\n", {"a controller listener"}},
        {"advertised.listeners=OTHER://h:1\n", {"'OTHER', which is not in listeners"}},
        {"advertised.listeners=CONTROLLER://h:1\n", {"must not contain the controller"}},
        {"advertised.listeners=PLAINTEXT://0.0.0.0:9092\n", {"wildcard host"}},
        {"dataplane.cores=3-1\n", {"'dataplane.cores'", "bad CPU list '3-1'"}},
        {"dataplane.cores=64\n", {"bad CPU list '64'"}},
        {"log.dirs=,\n", {"'log.dirs' is empty"}},
        {"group.min.session.timeout.ms=10\ngroup.max.session.timeout.ms=5\n",
         {"group.min.session.timeout.ms (10)"}},
        {"broker.heartbeat.interval.ms=9000\n", {"broker.heartbeat.interval.ms (9000)"}},
        {"controlplane.quorum.heartbeat.ms=600\n", {"at most half"}},
        {"metadata.standby.address=nohost\n", {"'metadata.standby.address'", "'nohost'"}},
    };
    for (const auto &tc : cases) {
        Config c;
        ASSERT_EQ(c.load(tc.text), 0) << tc.text << c.err;
        EXPECT_EQ(c.validate(), -EINVAL) << tc.text;
        for (const auto &w : tc.words) {
            EXPECT_TRUE(contains(c.err, w)) << "'" << c.err << "' lacks '" << w << "'";
        }
    }
}

TEST(Config, ThreeVoterClusterAndBrokerOnlyNodeValidate)
{
    Config voter;
    ASSERT_EQ(voter.load("node.id=2\n"
                         "listeners=PLAINTEXT://0.0.0.0:9192,CONTROLLER://0.0.0.0:9193\n"
                         "advertised.listeners=PLAINTEXT://10.0.0.2:9192\n"
                         "controller.quorum.voters=1@10.0.0.1:9193,2@10.0.0.2:9193,"
                         "3@10.0.0.3:9193\n"),
              0)
        << voter.err;
    EXPECT_EQ(voter.validate(), 0) << voter.err;

    Config broker;
    ASSERT_EQ(broker.load("node.id=4\nprocess.roles=broker\n"
                          "listeners=PLAINTEXT://127.0.0.1:9492\n"
                          "controller.quorum.voters=1@10.0.0.1:9193,2@10.0.0.2:9193\n"),
              0)
        << broker.err;
    EXPECT_EQ(broker.validate(), 0) << broker.err;
    EXPECT_FALSE(sl_config_has_role(&broker.cfg, "controller"));

    struct sl_config_voter voters[SL_CONFIG_VOTERS_MAX];
    char err[256];
    ASSERT_EQ(
        sl_config_parse_voters(" 1@a:1 , 7@b:2", voters, SL_CONFIG_VOTERS_MAX, err, sizeof(err)),
        2);
    EXPECT_EQ(voters[1].id, 7);
    EXPECT_STREQ(voters[1].host, "b");
    EXPECT_EQ(voters[1].port, 2);
    uint64_t mask = 0;
    ASSERT_EQ(sl_config_parse_cpu_list("1-3,5", &mask, err, sizeof(err)), 0);
    EXPECT_EQ(mask, 0x2eull);
}

TEST(Config, CommandLineFileThenOverrides)
{
    char path[] = "/tmp/sl_config_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    std::string text = "num.partitions=3\nlog.dirs=/var/lib/sluice\n";
    ASSERT_EQ(write(fd, text.data(), text.size()), (ssize_t)text.size());
    close(fd);

    struct sl_config cfg;
    char err[512] = "";
    const char *argv[] = {"sluiced", "--override", "num.partitions=7", path};
    ASSERT_EQ(sl_config_load_args(&cfg, 4, argv, err, sizeof(err)), 0) << err;
    EXPECT_EQ(sl_config_int(&cfg, SL_CONFIG_NUM_PARTITIONS), 7);
    EXPECT_EQ(cfg.values[SL_CONFIG_NUM_PARTITIONS].source, SL_CONFIG_SOURCE_OVERRIDE);
    EXPECT_STREQ(sl_config_string(&cfg, SL_CONFIG_LOG_DIRS), "/var/lib/sluice");
    sl_config_free(&cfg);

    const char *bad_override[] = {"sluiced", "--override", "num.partitions=-3"};
    EXPECT_EQ(sl_config_load_args(&cfg, 3, bad_override, err, sizeof(err)), -EINVAL);
    EXPECT_TRUE(contains(err, "--override num.partitions=-3")) << err;
    const char *no_eq[] = {"sluiced", "--override", "num.partitions"};
    EXPECT_EQ(sl_config_load_args(&cfg, 3, no_eq, err, sizeof(err)), -EINVAL);
    EXPECT_TRUE(contains(err, "needs key=value")) << err;
    const char *dangling[] = {"sluiced", "--override"};
    EXPECT_EQ(sl_config_load_args(&cfg, 2, dangling, err, sizeof(err)), -EINVAL);
    const char *unknown_option[] = {"sluiced", "--verbose"};
    EXPECT_EQ(sl_config_load_args(&cfg, 2, unknown_option, err, sizeof(err)), -EINVAL);
    EXPECT_TRUE(contains(err, "unknown option '--verbose'")) << err;
    const char *two_files[] = {"sluiced", path, path};
    EXPECT_EQ(sl_config_load_args(&cfg, 3, two_files, err, sizeof(err)), -EINVAL);
    EXPECT_TRUE(contains(err, "more than one config file")) << err;
    const char *missing[] = {"sluiced", "/nonexistent/server.properties"};
    EXPECT_EQ(sl_config_load_args(&cfg, 2, missing, err, sizeof(err)), -ENOENT);
    EXPECT_TRUE(contains(err, "/nonexistent/server.properties")) << err;
    const char *invalid_cluster[] = {"sluiced", "--override", "node.id=5"};
    EXPECT_EQ(sl_config_load_args(&cfg, 3, invalid_cluster, err, sizeof(err)), -EINVAL);
    EXPECT_TRUE(contains(err, "node.id 5")) << err;
    const char *none[] = {"sluiced"};
    ASSERT_EQ(sl_config_load_args(&cfg, 1, none, err, sizeof(err)), 0) << err;
    sl_config_free(&cfg);
    unlink(path);
}

TEST(TopicConfig, Validation)
{
    char err[256];
    EXPECT_EQ(sl_topic_config_validate("cleanup.policy", "compact,delete", err, sizeof(err)), 0);
    EXPECT_EQ(sl_topic_config_validate("cleanup.policy", "shred", err, sizeof(err)), -EINVAL);
    EXPECT_TRUE(contains(err, "topic config key 'cleanup.policy'")) << err;
    EXPECT_EQ(sl_topic_config_validate("retention.ms", "-1", err, sizeof(err)), 0);
    EXPECT_EQ(sl_topic_config_validate("retention.ms", "-2", err, sizeof(err)), -EINVAL);
    EXPECT_EQ(sl_topic_config_validate("segment.bytes", "100", err, sizeof(err)), -EINVAL);
    EXPECT_EQ(sl_topic_config_validate("message.timestamp.type", "LogAppendTime", err, sizeof(err)),
              0);
    EXPECT_EQ(sl_topic_config_validate("message.timestamp.type", "Now", err, sizeof(err)), -EINVAL);
    EXPECT_EQ(sl_topic_config_validate("min.insync.replicas", "0", err, sizeof(err)), -EINVAL);
    EXPECT_EQ(sl_topic_config_validate("no.such.key", "1", err, sizeof(err)), -ENOENT);
    EXPECT_TRUE(contains(err, "unknown topic config key 'no.such.key'")) << err;
    EXPECT_EQ(sl_topic_config_validate("flush.ms", nullptr, err, sizeof(err)), -EINVAL);
}

// docs/configuration.md must list every key of both tables with its default.
TEST(ConfigDocs, EveryKeyIsDocumented)
{
    const char *path = getenv("SL_CONFIG_DOC");
    ASSERT_NE(path, nullptr) << "SL_CONFIG_DOC must point to docs/configuration.md";
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    auto check = [&](const struct sl_config_key_info *t, int n) {
        for (int i = 0; i < n; i++) {
            std::string row = std::string("| `") + t[i].name + "` |";
            size_t pos = doc.find(row);
            ASSERT_NE(pos, std::string::npos) << t[i].name << " is missing from " << path;
            std::string line = doc.substr(pos, doc.find('\n', pos) - pos);
            if (t[i].default_value != nullptr) {
                EXPECT_NE(line.find(std::string("`") + t[i].default_value + "`"), std::string::npos)
                    << t[i].name << ": documented default differs from the table: " << line;
            }
        }
    };
    check(sl_config_key_table(), SL_CONFIG_KEY_COUNT);
    check(sl_topic_config_key_table(), SL_TOPIC_CONFIG_KEY_COUNT);
}

// The shipped example config/server.properties loads and validates, and says what the
// embedded default says (make run uses the embedded one).
TEST(Config, ShippedExampleLoadsAndMatchesTheEmbeddedDefault)
{
    const char *path = getenv("SL_CONFIG_EXAMPLE");
    ASSERT_NE(path, nullptr) << "SL_CONFIG_EXAMPLE must point to config/server.properties";
    char err[512] = "";
    sl_config from_file;
    ASSERT_EQ(sl_config_init_defaults(&from_file), 0);
    ASSERT_EQ(sl_config_load_file(&from_file, path, err, sizeof(err)), 0) << err;
    ASSERT_EQ(sl_config_validate(&from_file, err, sizeof(err)), 0) << err;
    sl_config embedded;
    ASSERT_EQ(sl_config_init_defaults(&embedded), 0);
    for (int k = 0; k < SL_CONFIG_KEY_COUNT; k++) {
        auto key = static_cast<sl_config_key>(k);
        const char *name = sl_config_key_table()[k].name;
        switch (sl_config_key_table()[k].type) {
        case SL_CONFIG_INT:
            EXPECT_EQ(sl_config_int(&from_file, key), sl_config_int(&embedded, key)) << name;
            break;
        case SL_CONFIG_BOOL:
            EXPECT_EQ(sl_config_bool(&from_file, key), sl_config_bool(&embedded, key)) << name;
            break;
        default:
            EXPECT_STREQ(sl_config_string(&from_file, key), sl_config_string(&embedded, key))
                << name;
        }
    }
    sl_config_free(&from_file);
    sl_config_free(&embedded);
}
