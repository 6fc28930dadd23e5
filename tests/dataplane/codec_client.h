// A Kafka-wire client for tests that need exact request fields (any version, flexible or
// not): requests are encoded and responses decoded with the project's codec
// (dataplane/codec, itself tested against Kafka's encodings in the codec suite), over a
// raw loopback socket (tests/support). One connection, one thread.
#pragma once

#include <gtest/gtest.h>
#include <string.h>

#include <chrono>
#include <string>
#include <vector>

#include "dataplane/codec/codec.h"
#include "tests/support/raw_kafka_client.h"

namespace sl_test
{

inline sl_codec_slice slice_of(const std::string &s)
{
    return sl_codec_slice{reinterpret_cast<const uint8_t *>(s.data()), (int32_t)s.size()};
}

inline std::string string_of(sl_codec_slice s)
{
    return s.len <= 0 ? std::string() : std::string(reinterpret_cast<const char *>(s.ptr), s.len);
}

class codec_client
{
  public:
    ::testing::AssertionResult connect(const std::string &bootstrap)
    {
        std::string error;
        if (!conn_.connect_to(bootstrap, 5000, &error))
            return ::testing::AssertionFailure() << "connect " << bootstrap << ": " << error;
        return ::testing::AssertionSuccess();
    }

    // Sends body as (api_key, version) and decodes the answer into *response (valid until
    // the next call). *elapsed_ms: time from send to the whole answer.
    ::testing::AssertionResult call(int16_t api_key, int16_t version, const void *body,
                                    void **response, int64_t *elapsed_ms = nullptr,
                                    int timeout_ms = 10000)
    {
        std::vector<uint8_t> buf(1 << 20);
        sl_codec_encoder e;
        sl_codec_encoder_init(&e, buf.data(), buf.size(), nullptr, 0);
        static const char client_id[] = "codec-client";
        sl_codec_request_header h{};
        h.api_key = api_key;
        h.api_version = version;
        h.correlation_id = ++correlation_;
        h.client_id = sl_codec_slice{reinterpret_cast<const uint8_t *>(client_id),
                                     (int32_t)strlen(client_id)};
        int rc = sl_codec_encode_request(&e, &h, body);
        if (rc != SL_CODEC_OK)
            return ::testing::AssertionFailure() << "encode: " << sl_codec_strerror(rc);
        buf.resize(e.pos);
        auto start = std::chrono::steady_clock::now();
        if (!conn_.send_raw(buf))
            return ::testing::AssertionFailure() << "send failed";
        read_status st = conn_.read_frame(&frame_, timeout_ms);
        if (elapsed_ms != nullptr)
            *elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
        if (st != read_status::ok)
            return ::testing::AssertionFailure() << "read: " << read_status_name(st);
        arena_mem_.assign(4 << 20, 0);
        sl_codec_arena_init(&arena_, arena_mem_.data(), arena_mem_.size());
        sl_codec_limits limits{100000, (uint32_t)frame_.size()};
        sl_codec_response_header hdr{};
        size_t at = 0;
        rc = sl_codec_decode_response(frame_.data(), frame_.size(), api_key, version, &arena_,
                                      &limits, &hdr, response, &at);
        if (rc != SL_CODEC_OK)
            return ::testing::AssertionFailure()
                   << "decode: " << sl_codec_strerror(rc) << " at " << at;
        if (hdr.correlation_id != correlation_)
            return ::testing::AssertionFailure() << "correlation id " << hdr.correlation_id;
        return ::testing::AssertionSuccess();
    }

    // call() for tests that only need the typed answer: nullptr, and a test failure naming
    // the API and what went wrong, when there is none.
    template <typename Resp> Resp *call_or_fail(int16_t api_key, int16_t version, const void *body)
    {
        void *response = nullptr;
        ::testing::AssertionResult ok = call(api_key, version, body, &response);
        if (!ok) {
            ADD_FAILURE() << "api " << api_key << " v" << version << ": " << ok.message();
            return nullptr;
        }
        return static_cast<Resp *>(response);
    }

    raw_kafka_connection &connection()
    {
        return conn_;
    }

  private:
    raw_kafka_connection conn_;
    int32_t correlation_ = 0;
    std::vector<uint8_t> frame_;
    std::vector<uint8_t> arena_mem_;
    sl_codec_arena arena_{};
};

} // namespace sl_test
