#!/usr/bin/python3
"""kafka-python 2.0.2 scenarios against a running broker (run by tests/compat/test_kafka_python.cc).

usage: kafka_python_scenarios.py --bootstrap HOST:PORT --scenario NAME

Scenarios (topics other than the admin ones are created by the test harness first):
  admin             KafkaAdminClient create_topics / delete_topics, checked through metadata
  produce-acks      producers with acks=0, 1 and all; exact content read back
  consume           KafkaConsumer (no group) reads two partitions: order, keys, values, headers
  offsets-for-times KafkaConsumer.offsets_for_times on messages with known timestamps
  configs           KafkaAdminClient.alter_configs (AlterConfigs v1, replacing a topic's
                    override set) and describe_configs (v2, with config sources) on a topic
                    and on the broker; errors for a bad value, an unknown topic and a
                    broker key that cannot change at runtime
  log-append-time   a topic created with message.timestamp.type=LogAppendTime (CreateTopics
                    with configs): the send's metadata and the consumed records carry the
                    broker's append time, not the producer's timestamp, and
                    offsets_for_times finds records by it
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
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Int16, Int32, Int64, Schema, String

# Same names as tests/compat/test_kafka_python.cc creates.
TOPIC_ACKS = {"0": "kp-acks-0", "1": "kp-acks-1", "all": "kp-acks-all"}
TOPIC_CONSUME = "kp-consume"
TOPIC_TIMES = "kp-times"
TOPIC_DELETE = "kp-delete-records"
TOPIC_CONFIGS = "kp-configs"

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


def scenario_log_append_time(bootstrap):
    topic = "kp-log-append-time"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=CLIENT_TIMEOUT_MS)
    admin.create_topics([NewTopic(topic, 1, 1,
                                  topic_configs={"message.timestamp.type": "LogAppendTime"})],
                        timeout_ms=CLIENT_TIMEOUT_MS)
    wait_topics(admin, {topic}, set())
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1,
                             request_timeout_ms=CLIENT_TIMEOUT_MS)
    stamps = []
    for i in range(3):
        before_ms = int(time.time() * 1000)
        metadata = producer.send(topic, value=f"lat{i}".encode(), partition=0,
                                 timestamp_ms=1000 + i).get(timeout=30)
        after_ms = int(time.time() * 1000)
        check(before_ms - 1000 <= metadata.timestamp <= after_ms + 1000,
              f"send {i}: metadata timestamp {metadata.timestamp}, expected the append time "
              f"within [{before_ms}, {after_ms}] (producer's was {1000 + i})")
        stamps.append(metadata.timestamp)
        time.sleep(0.02)
    producer.close()
    records = read_all(bootstrap, topic, [0], 3)
    for i, r in enumerate(records):
        check(r.timestamp_type == 1 and r.timestamp == stamps[i],
              f"record {i}: timestamp {r.timestamp} type {r.timestamp_type}, expected "
              f"{stamps[i]} type 1 (LogAppendTime)")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             request_timeout_ms=CLIENT_TIMEOUT_MS + 5000)
    tp = TopicPartition(topic, 0)
    got = consumer.offsets_for_times({tp: stamps[2]})[tp]
    check(got is not None and got.offset == 2 and got.timestamp == stamps[2],
          f"offsets_for_times(third append time) = {got}, expected offset 2")
    consumer.close()
    log("LogAppendTime topic: append times in send metadata, records and time lookups")


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


def describe_one(admin, resource_type, name, key):
    """(value, config_source, read_only) of one key via DescribeConfigs."""
    responses = admin.describe_configs([ConfigResource(resource_type, name, configs={key: None})])
    for response in responses:
        for error_code, error_message, _rtype, rname, entries in response.resources:
            check(error_code == 0, f"describe {rname}: error {error_code} {error_message}")
            for entry in entries:
                if entry[0] == key:
                    return entry[1], entry[3], entry[2]
    raise ScenarioFailure(f"describe {name}: no entry for {key}")


def alter_one(admin, resource_type, name, configs):
    """(error_code, error_message) of AlterConfigs on one resource."""
    response = admin.alter_configs([ConfigResource(resource_type, name, configs=configs)])
    check(len(response.resources) == 1, f"alter {name}: {response.resources}")
    error_code, error_message, _rtype, rname = response.resources[0]
    check(rname == name, f"alter {name}: answered for {rname}")
    return error_code, error_message or ""


def scenario_configs(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=CLIENT_TIMEOUT_MS)
    topic = ConfigResourceType.TOPIC
    broker = ConfigResourceType.BROKER
    code, msg = alter_one(admin, topic, TOPIC_CONFIGS,
                          {"retention.ms": "3600000", "cleanup.policy": "compact"})
    check(code == 0, f"alter {TOPIC_CONFIGS}: {code} {msg}")
    value, source, _ = describe_one(admin, topic, TOPIC_CONFIGS, "retention.ms")
    check((value, source) == ("3600000", 1), f"retention.ms: {value!r} source {source}")
    value, source, _ = describe_one(admin, topic, TOPIC_CONFIGS, "cleanup.policy")
    check((value, source) == ("compact", 1), f"cleanup.policy: {value!r} source {source}")
    log("AlterConfigs set retention.ms and cleanup.policy (DYNAMIC_TOPIC_CONFIG)")

    # AlterConfigs replaces the whole set: keys not named return to their defaults.
    code, msg = alter_one(admin, topic, TOPIC_CONFIGS, {"segment.ms": "600000"})
    check(code == 0, f"alter {TOPIC_CONFIGS}: {code} {msg}")
    value, source, _ = describe_one(admin, topic, TOPIC_CONFIGS, "retention.ms")
    check(source == 5, f"retention.ms after replace: {value!r} source {source}")
    value, source, _ = describe_one(admin, topic, TOPIC_CONFIGS, "segment.ms")
    check((value, source) == ("600000", 1), f"segment.ms: {value!r} source {source}")
    log("a second AlterConfigs replaced the override set")

    code, msg = alter_one(admin, topic, TOPIC_CONFIGS, {"retention.ms": "abc"})
    check(code == 40 and "retention.ms" in msg and "abc" in msg,
          f"bad value: error {code} {msg!r}, expected 40 INVALID_CONFIG naming key and value")
    code, msg = alter_one(admin, topic, TOPIC_CONFIGS, {"no.such.key": "1"})
    check(code == 40 and "no.such.key" in msg, f"unknown key: error {code} {msg!r}")
    code, msg = alter_one(admin, topic, "kp-no-such-topic", {"retention.ms": "1000"})
    check(code == 3, f"unknown topic: error {code} {msg!r}, expected 3")
    value, source, _ = describe_one(admin, topic, TOPIC_CONFIGS, "segment.ms")
    check(value == "600000", f"segment.ms changed by a failed alter: {value!r}")
    log("bad value, unknown key and unknown topic refused; nothing changed")

    # Broker: a dynamic key per broker id, inherited by the topic; a static key refused.
    code, msg = alter_one(admin, broker, "1", {"log.retention.bytes": "123456789"})
    check(code == 0, f"alter broker 1: {code} {msg}")
    value, source, read_only = describe_one(admin, broker, "1", "log.retention.bytes")
    check((value, source, read_only) == ("123456789", 2, False),
          f"broker log.retention.bytes: {value!r} source {source} read_only {read_only}")
    value, source, _ = describe_one(admin, topic, TOPIC_CONFIGS, "retention.bytes")
    check((value, source) == ("123456789", 2), f"inherited retention.bytes: {value!r} {source}")
    code, msg = alter_one(admin, broker, "1", {"num.partitions": "3"})
    check(code == 42 and "num.partitions" in msg and "cannot be updated dynamically" in msg,
          f"static broker key: error {code} {msg!r}, expected 42 INVALID_REQUEST")
    log("broker log.retention.bytes set dynamically and inherited; num.partitions refused")
    admin.close()


SCENARIOS = {
    "admin": scenario_admin,
    "produce-acks": scenario_produce_acks,
    "consume": scenario_consume,
    "offsets-for-times": scenario_offsets_for_times,
    "delete-records": scenario_delete_records,
    "log-append-time": scenario_log_append_time,
    "configs": scenario_configs,
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
