#!/usr/bin/python3
"""kafka-python 2.0.2 client scenario for golden-frame capture.

usage: scenario_kafka_python.py BOOTSTRAP

Producer with acks 0, 1 and all (plain and gzip), a group consumer, and admin
calls. The mock cluster rejects some admin APIs; the error responses are golden
frames too, so failures of those calls are reported and ignored.
"""

import logging
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

MESSAGES = 24
TIMEOUT_MS = 5000


def produce(bootstrap, topic, acks, compression):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=acks,
                             compression_type=compression, linger_ms=200,
                             client_id="golden-kafka-python", request_timeout_ms=TIMEOUT_MS)
    for i in range(MESSAGES):
        producer.send(topic, key=b"key-%02d" % i, value=b"kafka-python value %02d" % i,
                      headers=[("source", b"kafka-python")], partition=0)
    producer.flush(timeout=10)
    producer.close(timeout=10)


def consume(bootstrap, topics):
    consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id="golden-kp-group",
                             client_id="golden-kafka-python", auto_offset_reset="earliest",
                             enable_auto_commit=True, auto_commit_interval_ms=200,
                             consumer_timeout_ms=4000)
    count = sum(1 for _ in consumer)
    consumer.commit()
    consumer.close()
    return count


def try_admin(label, call):
    try:
        result = call()
        print("kafka-python admin %s: %r" % (label, result)[:200])
    except Exception as exc:  # the mock answers unsupported APIs with errors
        print("kafka-python admin %s failed (expected on the mock): %s" % (label, exc))


def admin(bootstrap):
    client = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="golden-kafka-python",
                              request_timeout_ms=TIMEOUT_MS)
    try_admin("create_topics", lambda: client.create_topics(
        [NewTopic("golden-created", num_partitions=2, replication_factor=1)],
        timeout_ms=TIMEOUT_MS))
    try_admin("describe_configs", lambda: client.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, "golden-none")]))
    try_admin("list_consumer_groups", client.list_consumer_groups)
    try_admin("describe_consumer_groups",
              lambda: client.describe_consumer_groups(["golden-kp-group"]))
    try_admin("list_consumer_group_offsets",
              lambda: client.list_consumer_group_offsets("golden-kp-group"))
    try_admin("delete_topics", lambda: client.delete_topics(["golden-created"],
                                                            timeout_ms=TIMEOUT_MS))
    client.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    bootstrap = sys.argv[1].split(",")
    produce(bootstrap, "golden-acks0", 0, None)
    produce(bootstrap, "golden-acks1", 1, None)
    produce(bootstrap, "golden-acksall", "all", None)
    produce(bootstrap, "golden-gzip", "all", "gzip")
    count = consume(bootstrap, ["golden-acks1", "golden-gzip"])
    print("kafka-python consumed %d messages" % count)
    admin(bootstrap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
