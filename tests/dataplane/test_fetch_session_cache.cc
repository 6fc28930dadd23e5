// The per-shard fetch session cache (dataplane/fetch_sessions.h) as pure logic: ids that
// name their shard and slot, the slot bound, idle eviction, partition sets by name and by
// topic id, and the epoch sequence.
#include <gtest/gtest.h>
#include <string.h>

#include <set>
#include <string>

#include "dataplane/fetch_sessions.h"

namespace
{

// The key points at name, which must outlive it.
sl_dp_fetch_key by_name(const char *name, size_t len, int32_t partition)
{
    sl_dp_fetch_key k{};
    k.name = name;
    k.name_len = (uint32_t)len;
    k.partition = partition;
    return k;
}
sl_dp_fetch_key by_name(const char *literal, int32_t partition)
{
    return by_name(literal, strlen(literal), partition);
}

sl_dp_fetch_key by_id(uint8_t tag, int32_t partition)
{
    sl_dp_fetch_key k{};
    memset(k.topic_id.bytes, tag, sizeof(k.topic_id.bytes));
    k.partition = partition;
    return k;
}

struct cache {
    sl_dp_fetch_sessions c{};
    cache(uint32_t slots, uint32_t shard, uint32_t shards)
    {
        EXPECT_TRUE(sl_dp_fetch_sessions_init(&c, slots, shard, shards));
    }
    ~cache()
    {
        sl_dp_fetch_sessions_destroy(&c);
    }
};

TEST(FetchSessionCache, SlotsAreDividedAmongShards)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 3; i++)
        sum += sl_dp_fetch_sessions_shard_slots(1000, i, 3);
    EXPECT_EQ(sum, 1000u);
    EXPECT_EQ(sl_dp_fetch_sessions_shard_slots(1000, 0, 3), 334u);
    EXPECT_EQ(sl_dp_fetch_sessions_shard_slots(1000, 2, 3), 333u);
    EXPECT_EQ(sl_dp_fetch_sessions_shard_slots(1, 1, 2), 0u);
}

TEST(FetchSessionCache, AnIdIsKnownOnlyOnTheShardThatMadeIt)
{
    cache a(4, 0, 2), b(4, 1, 2);
    bool evicted = true;
    sl_dp_fetch_session *sa = sl_dp_fetch_session_open(&a.c, false, 0, &evicted);
    EXPECT_FALSE(evicted);
    sl_dp_fetch_session *sb = sl_dp_fetch_session_open(&b.c, false, 0, &evicted);
    ASSERT_NE(sa, nullptr);
    ASSERT_NE(sb, nullptr);
    EXPECT_GT(sa->id, 0);
    EXPECT_GT(sb->id, 0);
    EXPECT_NE(sa->id, sb->id);
    EXPECT_EQ(sl_dp_fetch_session_find(&a.c, sa->id), sa);
    EXPECT_EQ(sl_dp_fetch_session_find(&b.c, sb->id), sb);
    EXPECT_EQ(sl_dp_fetch_session_find(&b.c, sa->id), nullptr);
    EXPECT_EQ(sl_dp_fetch_session_find(&a.c, sb->id), nullptr);
    EXPECT_EQ(sl_dp_fetch_session_find(&a.c, 0), nullptr);
    EXPECT_EQ(sl_dp_fetch_session_find(&a.c, -5), nullptr);
}

TEST(FetchSessionCache, AFullCacheRefusesUntilTheOldestSessionHasBeenIdleLongEnough)
{
    cache k(2, 0, 1);
    bool evicted = false;
    sl_dp_fetch_session *s1 = sl_dp_fetch_session_open(&k.c, true, 1000, &evicted);
    sl_dp_fetch_session *s2 = sl_dp_fetch_session_open(&k.c, true, 2000, &evicted);
    ASSERT_NE(s1, nullptr);
    ASSERT_NE(s2, nullptr);
    int32_t id1 = s1->id;
    EXPECT_EQ(k.c.open_count, 2u);
    EXPECT_EQ(sl_dp_fetch_session_open(&k.c, true, 3000, &evicted), nullptr);
    EXPECT_EQ(sl_dp_fetch_session_open(&k.c, true, 1000 + SL_DP_FETCH_SESSION_EVICT_IDLE_MS - 1,
                                       &evicted),
              nullptr);
    sl_dp_fetch_session *s3 =
        sl_dp_fetch_session_open(&k.c, true, 1000 + SL_DP_FETCH_SESSION_EVICT_IDLE_MS, &evicted);
    ASSERT_EQ(s3, s1) << "the least recently used slot is taken";
    EXPECT_TRUE(evicted);
    EXPECT_NE(s3->id, id1) << "a reused slot gets a new id";
    EXPECT_EQ(sl_dp_fetch_session_find(&k.c, id1), nullptr);
    EXPECT_EQ(k.c.open_count, 2u);

    sl_dp_fetch_session_close(&k.c, s2);
    EXPECT_EQ(k.c.open_count, 1u);
    EXPECT_NE(sl_dp_fetch_session_open(&k.c, true, 3000, &evicted), nullptr);
    EXPECT_FALSE(evicted);
}

TEST(FetchSessionCache, ZeroSlotsRefuseEverySession)
{
    cache k(0, 0, 1);
    bool evicted = false;
    EXPECT_EQ(sl_dp_fetch_session_open(&k.c, true, 0, &evicted), nullptr);
    EXPECT_EQ(sl_dp_fetch_session_find(&k.c, 1), nullptr);
}

TEST(FetchSessionCache, IdsStayUniqueAndPositiveOverManyReopens)
{
    cache k(3, 2, 4);
    std::set<int32_t> seen;
    bool evicted = false;
    for (int i = 0; i < 3000; i++) {
        sl_dp_fetch_session *s = sl_dp_fetch_session_open(&k.c, false, 0, &evicted);
        ASSERT_NE(s, nullptr);
        ASSERT_GT(s->id, 0);
        EXPECT_EQ(((uint32_t)s->id - 1) % 4, 2u) << "the id names its shard";
        EXPECT_TRUE(seen.insert(s->id).second) << "id " << s->id << " handed out twice";
        sl_dp_fetch_session_close(&k.c, s);
    }
}

TEST(FetchSessionCache, PartitionsByNameAreAddedUpdatedAndRemovedInOrder)
{
    cache k(1, 0, 1);
    bool evicted = false;
    sl_dp_fetch_session *s = sl_dp_fetch_session_open(&k.c, false, 0, &evicted);
    ASSERT_NE(s, nullptr);
    auto a0 = by_name("alpha", 0), a1 = by_name("alpha", 1), b0 = by_name("beta", 0);
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &a0, 10, 100), 0);
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &b0, 20, 200), 1);
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &a1, 30, 300), 2);
    EXPECT_EQ(s->parts[0].high_watermark, -1) << "never answered yet";
    uint32_t names = s->names_used;
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &a0, 11, 101), 0) << "an update keeps its place";
    EXPECT_EQ(s->parts[0].fetch_offset, 11);
    EXPECT_EQ(s->parts[0].max_bytes, 101);
    EXPECT_EQ(s->names_used, names) << "a name is stored once";
    sl_dp_fetch_session_part_remove(s, &b0);
    ASSERT_EQ(s->part_count, 2u);
    sl_dp_fetch_key k1 = sl_dp_fetch_session_part_key(s, 1);
    EXPECT_TRUE(sl_dp_fetch_key_equal(&k1, &a1, false));
    EXPECT_EQ(sl_dp_fetch_session_part_find(s, &b0), -1);
    sl_dp_fetch_session_part_remove(s, &b0); // absent: nothing happens
    EXPECT_EQ(s->part_count, 2u);
}

TEST(FetchSessionCache, PartitionsByIdIgnoreNames)
{
    cache k(1, 0, 1);
    bool evicted = false;
    sl_dp_fetch_session *s = sl_dp_fetch_session_open(&k.c, true, 0, &evicted);
    auto x0 = by_id(1, 0), y0 = by_id(2, 0);
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &x0, 0, 1), 0);
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &y0, 0, 1), 1);
    EXPECT_EQ(s->names_used, 0u);
    EXPECT_EQ(sl_dp_fetch_session_part_find(s, &y0), 1);
}

TEST(FetchSessionCache, ASessionHasBoundedRoomForPartitionsAndNames)
{
    cache k(1, 0, 1);
    bool evicted = false;
    sl_dp_fetch_session *s = sl_dp_fetch_session_open(&k.c, true, 0, &evicted);
    for (uint32_t i = 0; i < SL_DP_FETCH_SESSION_PARTITIONS_MAX; i++) {
        auto key = by_id(7, (int32_t)i);
        ASSERT_EQ(sl_dp_fetch_session_part_set(s, &key, 0, 1), (int32_t)i);
    }
    auto extra = by_id(7, -1);
    EXPECT_EQ(sl_dp_fetch_session_part_set(s, &extra, 0, 1), -1);

    sl_dp_fetch_session *n = nullptr;
    sl_dp_fetch_session_close(&k.c, s);
    n = sl_dp_fetch_session_open(&k.c, false, 0, &evicted);
    ASSERT_NE(n, nullptr);
    int32_t added = 0;
    for (int i = 0; i < 1000; i++) {
        std::string name = std::string(200, 'n') + std::to_string(i);
        auto key = by_name(name.data(), name.size(), 0);
        if (sl_dp_fetch_session_part_set(n, &key, 0, 1) < 0)
            break;
        added++;
    }
    // Names 0..9 take 1 + 201 bytes each: 20 fit in 4096, the 21st does not.
    static_assert(SL_DP_FETCH_SESSION_NAME_BYTES == 4096, "update the count below");
    EXPECT_EQ(added, 20) << "names fill their area";
    const std::string long_name(300, 'x');
    auto too_long = by_name(long_name.data(), long_name.size(), 0);
    EXPECT_EQ(sl_dp_fetch_session_part_set(n, &too_long, 0, 1), -1);
}

TEST(FetchSessionCache, EpochsRunFromOneToInt32MaxAndWrapToOne)
{
    EXPECT_EQ(sl_dp_fetch_session_next_epoch(1), 2);
    EXPECT_EQ(sl_dp_fetch_session_next_epoch(41), 42);
    EXPECT_EQ(sl_dp_fetch_session_next_epoch(INT32_MAX - 1), INT32_MAX);
    EXPECT_EQ(sl_dp_fetch_session_next_epoch(INT32_MAX), 1);
}

} // namespace
