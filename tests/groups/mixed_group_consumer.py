"""kafka-python consumer for tests/groups/test_broker_groups.cc: joins GROUP on TOPIC
(argv: bootstrap group topic want), prints each consumed value as "msg <value>", and once
its assignment has held WANT partitions for 4 s, prints "assigned <partitions>" and what
DescribeGroups reports ("members <n> <state>"), then leaves."""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer

bootstrap, group, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                         auto_offset_reset='earliest', session_timeout_ms=6000,
                         heartbeat_interval_ms=500)
stable_since = time.time()
last = None
deadline = time.time() + 60
while time.time() < deadline:
    for records in consumer.poll(timeout_ms=200).values():
        for r in records:
            print('msg', r.value.decode(), flush=True)
    now = sorted(tp.partition for tp in consumer.assignment())
    if now != last:
        last, stable_since = now, time.time()
    if len(now) == want and time.time() - stable_since > 4:
        break
print('assigned', ','.join(str(p) for p in last or []), flush=True)
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
info = admin.describe_consumer_groups([group])[0]
print('members', len(info.members), info.state, flush=True)
consumer.close()
admin.close()
