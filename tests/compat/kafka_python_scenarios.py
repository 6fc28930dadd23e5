#!/usr/bin/python3
"""kafka-python 2.0.2 scenarios against a running broker (run by tests/compat/test_kafka_python.cc).

usage: kafka_python_scenarios.py --bootstrap HOST:PORT --scenario NAME

Scenarios (topics other than the admin ones are created by the test harness first):
  admin             KafkaAdminClient create_topics / delete_topics, checked through metadata
  produce-acks      producers with acks=0, 1 and all; exact content read back
  consume           KafkaConsumer (no group) reads two partitions: order, keys, values, headers
  offsets-for-times KafkaConsumer.offsets_for_times on messages with known timestamps
  delete-records    DeleteRecords v0 (kafka-python 2.0.2 has no delete_records and no
                    DeleteRecords class, so the request is declared here with the library's
                    own protocol building blocks and sent through KafkaAdminClient); the log
                    start offset moves and older records are gone

Exits 0 when every check holds; otherwise prints what differed and exits 1.
"""
import argparse
import sys
import time
import traceback

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Int16, Int32, Int64, Schema, String

# Same names as tests/compat/test_kafka_python.cc creates.
TOPIC_ACKS = {"0": "kp-acks-0", "1": "kp-acks-1", "all": "kp-acks-all"}
TOPIC_CONSUME = "kp-consume"
TOPIC_TIMES = "kp-times"
TOPIC_DELETE = "kp-delete-records"

CLIENT_TIMEOUT_MS = 15000


class ScenarioFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise ScenarioFailure(message)


def log(message):
    print(message, flush=True)


class DeleteRecordsResponse_v0(Response):
    API_KEY = 21
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(
            ("name", String("utf-8")),
            ("partitions", Array(
                ("partition_index", Int32),
                ("low_watermark", Int64),
                ("error_code", Int16))))))


class DeleteRecordsRequest_v0(Request):
    API_KEY = 21
    API_VERSION = 0
    RESPONSE_TYPE = DeleteRecordsResponse_v0
    SCHEMA = Schema(
        ("topics", Array(
            ("name", String("utf-8")),
            ("partitions", Array(
                ("partition_index", Int32),
                ("offset", Int64))))),
        ("timeout_ms", Int32))


def read_all(bootstrap, topic, partitions, expected, timeout_s=30):
    """Reads partitions from the beginning without a group until `expected` records."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=1000,
                             request_timeout_ms=CLIENT_TIMEOUT_MS + 5000)
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    records = []
    deadline = time.time() + timeout_s
    while len(records) < expected and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    # Anything beyond `expected` would be a duplicate or a stray: give it a moment to show.
    for batch in consumer.poll(timeout_ms=500).values():
        records.extend(batch)
    consumer.close()
    check(len(records) == expected,
          f"{topic}: read {len(records)} records, expected {expected}")
    return records


def wait_topics(admin, present, absent, timeout_s=15):
    deadline = time.time() + timeout_s
    while True:
        names = set(admin.list_topics())
        if present <= names and not (absent & names):
            return
        if time.time() > deadline:
            raise ScenarioFailure(f"topics listed {sorted(names)}; wanted {sorted(present)} "
                                  f"present and {sorted(absent)} absent")
        time.sleep(0.2)


def scenario_admin(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=CLIENT_TIMEOUT_MS)
    names = {"kp-admin-a": 3, "kp-admin-b": 1}
    admin.create_topics([NewTopic(n, p, 1) for n, p in names.items()],
                        timeout_ms=CLIENT_TIMEOUT_MS)
    wait_topics(admin, set(names), set())
    for topic in admin.describe_topics(list(names)):
        check(topic["error_code"] == 0, f"describe {topic['topic']}: error {topic['error_code']}")
        got = sorted(p["partition"] for p in topic["partitions"])
        check(got == list(range(names[topic["topic"]])),
              f"{topic['topic']}: partitions {got}, expected {names[topic['topic']]}")
    log("created kp-admin-a (3 partitions) and kp-admin-b (1 partition)")

    # A topic that exists cannot be created again.
    try:
        admin.create_topics([NewTopic("kp-admin-a", 3, 1)], timeout_ms=CLIENT_TIMEOUT_MS)
        raise ScenarioFailure("creating kp-admin-a twice succeeded")
    except ScenarioFailure:
        raise
    except Exception as err:  # kafka.errors.TopicAlreadyExistsError
        check("TopicAlreadyExists" in type(err).__name__,
              f"creating kp-admin-a twice: {type(err).__name__}: {err}")

    admin.delete_topics(list(names), timeout_ms=CLIENT_TIMEOUT_MS)
    wait_topics(admin, set(), set(names))
    log("deleted both topics")
    admin.close()


def scenario_produce_acks(bootstrap):
    count = 100
    for acks_name, topic in TOPIC_ACKS.items():
        acks = acks_name if acks_name == "all" else int(acks_name)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks=acks, linger_ms=5,
                                 request_timeout_ms=CLIENT_TIMEOUT_MS)
        futures = [producer.send(topic, key=f"k{i}".encode(), value=f"acks{acks_name}-{i}".encode(),
                                 headers=[("acks", acks_name.encode())], partition=0)
                   for i in range(count)]
        producer.flush(timeout=30)
        for i, future in enumerate(futures):
            metadata = future.get(timeout=30)
            if acks == 0:
                check(metadata.offset == -1, f"acks=0 message {i}: offset {metadata.offset}")
            else:
                check(metadata.offset == i,
                      f"acks={acks_name} message {i}: offset {metadata.offset}, expected {i}")
        producer.close()
        records = read_all(bootstrap, topic, [0], count)
        for i, r in enumerate(records):
            check(r.offset == i and r.key == f"k{i}".encode()
                  and r.value == f"acks{acks_name}-{i}".encode()
                  and list(r.headers) == [("acks", acks_name.encode())],
                  f"acks={acks_name}: record {i} is {r}")
        log(f"acks={acks_name}: {count} messages produced and read back exactly")


def scenario_consume(bootstrap):
    count = 500
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                             compression_type="gzip", request_timeout_ms=CLIENT_TIMEOUT_MS)
    for i in range(count):
        producer.send(TOPIC_CONSUME, key=f"key-{i}".encode(), value=(f"value-{i}-" + "x" * (i % 40)).encode(),
                      headers=[("i", str(i).encode()), ("empty", b"")], partition=i % 2)
    producer.flush(timeout=30)
    producer.close()
    records = read_all(bootstrap, TOPIC_CONSUME, [0, 1], count)
    by_partition = {0: [], 1: []}
    for r in records:
        by_partition[r.partition].append(r)
    for partition, rs in by_partition.items():
        check(len(rs) == count // 2, f"partition {partition}: {len(rs)} records")
        for j, r in enumerate(rs):
            i = 2 * j + partition
            check(r.offset == j, f"partition {partition}: offset {r.offset} at position {j}")
            check(r.key == f"key-{i}".encode(), f"partition {partition} offset {j}: key {r.key!r}")
            check(r.value == (f"value-{i}-" + "x" * (i % 40)).encode(),
                  f"partition {partition} offset {j}: value {r.value!r}")
            check(list(r.headers) == [("i", str(i).encode()), ("empty", b"")],
                  f"partition {partition} offset {j}: headers {r.headers!r}")
    log(f"consumed {count} gzip messages from 2 partitions with exact order and content")


def scenario_offsets_for_times(bootstrap):
    base_ms = (int(time.time()) - 3600) * 1000  # an hour ago, second-aligned
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                             request_timeout_ms=CLIENT_TIMEOUT_MS)
    for i in range(10):
        producer.send(TOPIC_TIMES, value=f"t{i}".encode(), partition=0,
                      timestamp_ms=base_ms + i * 1000).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             request_timeout_ms=CLIENT_TIMEOUT_MS + 5000)
    tp = TopicPartition(TOPIC_TIMES, 0)
    cases = [
        (base_ms - 5000, 0, base_ms),              # before everything: the first record
        (base_ms, 0, base_ms),                     # exact match
        (base_ms + 3500, 4, base_ms + 4000),       # between: the next record
        (base_ms + 9000, 9, base_ms + 9000),       # the last record
    ]
    for query, offset, timestamp in cases:
        got = consumer.offsets_for_times({tp: query})[tp]
        check(got is not None and got.offset == offset and got.timestamp == timestamp,
              f"offsets_for_times({query - base_ms:+d} ms) = {got}, expected offset {offset} "
              f"timestamp {timestamp - base_ms:+d} ms")
    got = consumer.offsets_for_times({tp: base_ms + 60000})[tp]
    check(got is None, f"offsets_for_times(after the last record) = {got}, expected None")
    check(consumer.beginning_offsets([tp])[tp] == 0, "beginning offset is not 0")
    check(consumer.end_offsets([tp])[tp] == 10, "end offset is not 10")
    consumer.close()
    log("offsets_for_times: before, exact, between, last and after all answered correctly")


def scenario_delete_records(bootstrap):
    count, cut = 100, 40
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                             request_timeout_ms=CLIENT_TIMEOUT_MS)
    for i in range(count):
        producer.send(TOPIC_DELETE, value=f"d{i}".encode(), partition=0)
    producer.flush(timeout=30)
    producer.close()

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=CLIENT_TIMEOUT_MS)
    [topic] = admin.describe_topics([TOPIC_DELETE])
    [partition] = [p for p in topic["partitions"] if p["partition"] == 0]
    request = DeleteRecordsRequest_v0(topics=[(TOPIC_DELETE, [(0, cut)])], timeout_ms=10000)
    future = admin._send_request_to_node(partition["leader"], request)
    admin._wait_for_futures([future])
    response = future.value
    check(isinstance(response, DeleteRecordsResponse_v0), f"unexpected response {response!r}")
    [(name, [(index, low_watermark, error_code)])] = response.topics
    check(name == TOPIC_DELETE and index == 0, f"DeleteRecords answered for {name}/{index}")
    check(error_code == 0, f"DeleteRecords error code {error_code}")
    check(low_watermark == cut, f"DeleteRecords low watermark {low_watermark}, expected {cut}")
    admin.close()

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             request_timeout_ms=CLIENT_TIMEOUT_MS + 5000)
    tp = TopicPartition(TOPIC_DELETE, 0)
    check(consumer.beginning_offsets([tp])[tp] == cut,
          f"log start offset {consumer.beginning_offsets([tp])[tp]}, expected {cut}")
    consumer.close()
    records = read_all(bootstrap, TOPIC_DELETE, [0], count - cut)
    for j, r in enumerate(records):
        check(r.offset == cut + j and r.value == f"d{cut + j}".encode(),
              f"after DeleteRecords: position {j} is offset {r.offset} value {r.value!r}")
    log(f"DeleteRecords v0 moved the log start to {cut}; offsets {cut}..{count - 1} remain")


SCENARIOS = {
    "admin": scenario_admin,
    "produce-acks": scenario_produce_acks,
    "consume": scenario_consume,
    "offsets-for-times": scenario_offsets_for_times,
    "delete-records": scenario_delete_records,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    args = parser.parse_args()
    try:
        SCENARIOS[args.scenario](args.bootstrap)
    except ScenarioFailure as failure:
        print(f"FAIL {args.scenario}: {failure}", file=sys.stderr, flush=True)
        return 1
    except Exception as err:  # a client exception is a failure of the scenario too
        traceback.print_exc()
        print(f"FAIL {args.scenario}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        return 1
    log(f"PASS {args.scenario}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
