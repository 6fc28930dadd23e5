// Child process of the storage crash test: appends batches forever and prints
// "ACK <batch index>" when a broker would acknowledge it: mode "durable" uses
// flush.messages=1 and waits for the durable end (fdatasync); mode "written" uses the
// default flush policy and waits for the written end (O_DIRECT write completed); mode
// "memory" keeps the pool in the tail file named by the fourth argument and acknowledges at
// the safe end (at once). The parent SIGKILLs it at a random moment and checks the log.
//
// Batch i holds 4 records (so its base offset is 4 * i) with contents derived from
// (seed, i): the parent can rebuild every batch byte for byte.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <deque>
#include <string>

#include "tests/fault/crash_batches.h"

static bool emit_acks(sl_log *log, bool durable_mode,
                      std::deque<std::pair<int64_t, int64_t>> &outstanding)
{
    // The safe end is the written end unless the engine has a tail file.
    int64_t acked_end = durable_mode ? sl_log_durable_end_offset(log) : sl_log_safe_end_offset(log);
    std::string acks;
    while (!outstanding.empty() && outstanding.front().second <= acked_end) {
        acks += "ACK " + std::to_string(outstanding.front().first) + "\n";
        outstanding.pop_front();
    }
    size_t done = 0;
    while (done < acks.size()) {
        ssize_t n = write(1, acks.data() + done, acks.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

int main(int argc, char **argv)
{
    bool memory_mode = argc == 5 && strcmp(argv[3], "memory") == 0;
    if (!memory_mode &&
        (argc != 4 || (strcmp(argv[3], "durable") != 0 && strcmp(argv[3], "written") != 0))) {
        fprintf(stderr, "usage: %s <log dir> <seed> durable|written|memory [tail file]\n", argv[0]);
        return 64;
    }
    uint64_t seed = strtoull(argv[2], nullptr, 10);
    bool durable_mode = strcmp(argv[3], "durable") == 0;
    sl_storage_config ec = sl_crash::engine_config();
    if (memory_mode)
        snprintf(ec.tail_file, sizeof(ec.tail_file), "%s", argv[4]);
    sl_storage *st = nullptr;
    if (sl_storage_create(&ec, &st) != SL_STORAGE_OK)
        return 10;
    sl_log_config lc = sl_crash::log_config(durable_mode);
    sl_log *log = nullptr;
    sl_storage_err err =
        sl_log_open(st, argv[1], sl_crash::topic, 0, &lc, nullptr, 0, &log, nullptr);
    if (err != SL_STORAGE_OK) {
        fprintf(stderr, "child: open: %s\n", sl_storage_strerror(err));
        return 11;
    }
    int64_t leo = sl_log_end_offset(log);
    if (leo % sl_crash::records_per_batch != 0)
        return 12;
    int64_t next_index = leo / sl_crash::records_per_batch;
    std::deque<std::pair<int64_t, int64_t>> outstanding; // (index, log end after it)
    for (;;) {                                           // runs until SIGKILL
        while (outstanding.size() < 8) {
            std::vector<uint8_t> b = sl_crash::batch(seed, next_index);
            sl_log_append_result r;
            err = sl_log_append(log, b.data(), b.size(), nullptr, 0, sl_crash::leader_epoch, 0, &r);
            if (err == SL_STORAGE_ERR_NO_BUFFER || err == SL_STORAGE_ERR_BUSY)
                break;
            if (err != SL_STORAGE_OK) {
                fprintf(stderr, "child: append: %s\n", sl_storage_strerror(err));
                return 13;
            }
            if (r.wait_for_durable != durable_mode ||
                r.base_offset != next_index * sl_crash::records_per_batch)
                return 14;
            outstanding.emplace_back(next_index++, r.log_end_offset);
        }
        // Acknowledge what is due before waiting too: an acknowledgement that came too
        // early would then be followed by a kill before the write, and the parent sees it.
        if (!emit_acks(log, durable_mode, outstanding))
            return 15;
        sl_storage_wait(st, 0, 10);
        if (!emit_acks(log, durable_mode, outstanding))
            return 15;
    }
}
