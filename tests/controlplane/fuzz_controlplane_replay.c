/* Without libFuzzer (gcc build): drives the fuzz target with valid seeds and a fixed,
 * seeded set of mutations of them, so the same code paths run in every build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/controller_rpc_codec.h"
#include "controlplane/metadata_image.h"
#include "controlplane/metadata_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t seed_batch(uint8_t *out, size_t cap)
{
    struct sl_md_record r[3];
    memset(r, 0, sizeof(r));
    r[0].type = SL_MD_RECORD_TOPIC;
    strcpy(r[0].topic.name, "t");
    r[0].topic.topic_id.bytes[0] = 1;
    r[1].type = SL_MD_RECORD_PARTITION;
    r[1].partition.topic_id.bytes[0] = 1;
    r[1].partition.replica_count = 2;
    r[1].partition.replicas[0] = 1;
    r[1].partition.replicas[1] = 2;
    r[1].partition.isr_count = 1;
    r[1].partition.isr[0] = 1;
    r[1].partition.leader = 1;
    r[2].type = SL_MD_RECORD_CONFIG;
    r[2].config.resource_type = SL_MD_RESOURCE_TOPIC;
    strcpy(r[2].config.resource_name, "t");
    strcpy(r[2].config.key, "retention.ms");
    r[2].config.has_value = true;
    strcpy(r[2].config.value, "1000");
    size_t n = sl_md_batch_size(r, 3);
    if (n + 1 > cap) {
        return 0;
    }
    return sl_md_batch_encode(r, 3, out + 1, cap - 1) + 1;
}

int main(void)
{
    static uint8_t seeds[6][4096];
    size_t lens[6];
    lens[0] = seed_batch(seeds[0], sizeof(seeds[0]));
    seeds[0][0] = 0;
    memcpy(seeds[3], seeds[0], lens[0]);
    seeds[3][0] = 3;
    lens[3] = lens[0];
    {
        struct sl_md_image *empty = sl_md_image_new();
        struct sl_md_image *image = NULL;
        char err[256];
        if (sl_md_image_apply_batch(empty, seeds[0] + 1, lens[0] - 1, &image, err, sizeof(err)) !=
            0) {
            fprintf(stderr, "seed batch does not apply: %s\n", err);
            return 1;
        }
        void *buf = NULL;
        size_t len = 0;
        if (sl_md_image_encode(image, malloc, &buf, &len) != 0 || len + 1 > sizeof(seeds[1])) {
            return 1;
        }
        seeds[1][0] = 1;
        memcpy(seeds[1] + 1, buf, len);
        lens[1] = len + 1;
        free(buf);
        sl_md_image_unref(image);
        sl_md_image_unref(empty);
    }
    const char *props = "\x02node.id=1\nlisteners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://"
                        "127.0.0.1:9093\ncontroller.quorum.voters=1@127.0.0.1:9093\n";
    lens[2] = strlen(props);
    memcpy(seeds[2], props, lens[2]);

    {
        /* Controller RPC frames: a broker-only node's registration and an answer. */
        static struct sl_md_request req;
        memset(&req, 0, sizeof(req));
        req.type = SL_MD_REQUEST_REGISTER_BROKER;
        req.register_broker.broker_id = 4;
        req.register_broker.listener_count = 1;
        strcpy(req.register_broker.listeners[0].name, "PLAINTEXT");
        strcpy(req.register_broker.listeners[0].host, "127.0.0.1");
        req.register_broker.listeners[0].port = 9092;
        strcpy(req.register_broker.rack, "r1");
        strcpy(req.register_standby_address, "127.0.0.1:9095");
        seeds[4][0] = 4;
        lens[4] = 1 + sl_ctrl_rpc_encode_request(&req, 3, seeds[4] + 1, sizeof(seeds[4]) - 1);
        req.error_code = 41;
        strcpy(req.error_message, "not the active controller");
        req.leader_id = 2;
        req.applied_index = 12;
        seeds[5][0] = 5;
        lens[5] = 1 + sl_ctrl_rpc_encode_response(&req, 3, seeds[5] + 1, sizeof(seeds[5]) - 1);
        if (lens[4] == 1 || lens[5] == 1) {
            fprintf(stderr, "cannot encode the RPC seeds\n");
            return 1;
        }
    }

    unsigned runs = 0;
    for (int s = 0; s < 6; s++) {
        LLVMFuzzerTestOneInput(seeds[s], lens[s]);
        runs++;
        for (int m = 0; m < 2500; m++) {
            uint8_t buf[4096];
            size_t len = lens[s];
            memcpy(buf, seeds[s], len);
            int flips = 1 + (int)(next_random() % 4);
            for (int f = 0; f < flips && len > 1; f++) {
                size_t at = 1 + next_random() % (len - 1);
                buf[at] = (uint8_t)next_random();
            }
            if (next_random() % 8 == 0) {
                len = 1 + next_random() % len;
            }
            LLVMFuzzerTestOneInput(buf, len);
            runs++;
        }
    }
    printf("replayed %u inputs\n", runs);
    return 0;
}
