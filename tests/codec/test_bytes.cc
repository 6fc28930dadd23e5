// Byte-order helpers shared by the codec and the record-batch validator.
#include <gtest/gtest.h>

extern "C" {
#include "common/sl_bytes.h"
}

TEST(Bytes, BigEndianRoundTripAtUnalignedAddresses)
{
    uint8_t buf[16] = {0};
    sl_store_be64(buf + 1, 0x0102030405060708ull);
    EXPECT_EQ(buf[1], 0x01);
    EXPECT_EQ(buf[8], 0x08);
    EXPECT_EQ(sl_load_be64(buf + 1), 0x0102030405060708ull);
    sl_store_be32(buf + 3, 0xdeadbeefu);
    EXPECT_EQ(buf[3], 0xde);
    EXPECT_EQ(sl_load_be32(buf + 3), 0xdeadbeefu);
    sl_store_be16(buf + 7, 0xcafe);
    EXPECT_EQ(buf[7], 0xca);
    EXPECT_EQ(sl_load_be16(buf + 7), 0xcafe);
}
