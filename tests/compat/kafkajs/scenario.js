// kafkajs 2.2.4 produce + consume against a running broker, run by tests/compat/test_kafkajs.cc.
//
// usage: node scenario.js <bootstrap host:port> <topic with 2 partitions>
//
// Produces 300 keyed messages with headers (acks=all, explicit partitions, several
// batches) and 50 more gzip-compressed, then consumes the topic from the beginning with a
// consumer group and checks every message exactly: partition, offset, key, value, headers.
// Exits 0 and prints "PASS kafkajs" when all hold, otherwise prints what differed, exits 1.
'use strict';

const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const PLAIN_COUNT = 300;
const GZIP_COUNT = 50;
const TIMEOUT_MS = 60000;

function fail(message) {
    console.error(`FAIL kafkajs: ${message}`);
    process.exit(1);
}

function expected(i) {
    return {
        partition: i % 2,
        key: `key-${i}`,
        value: `value-${i}-` + 'j'.repeat(i % 33),
        headers: { seq: String(i), codec: i < PLAIN_COUNT ? 'none' : 'gzip' },
    };
}

function toMessage(i) {
    const e = expected(i);
    return { key: e.key, value: e.value, headers: e.headers, partition: e.partition };
}

async function produce(kafka, topic) {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let start = 0; start < PLAIN_COUNT; start += 100) {
        const messages = [];
        for (let i = start; i < start + 100; i++) messages.push(toMessage(i));
        await producer.send({ topic, acks: -1, messages });
    }
    const gzipped = [];
    for (let i = PLAIN_COUNT; i < PLAIN_COUNT + GZIP_COUNT; i++) gzipped.push(toMessage(i));
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: gzipped });
    await producer.disconnect();
}

async function consume(kafka, topic) {
    const total = PLAIN_COUNT + GZIP_COUNT;
    const consumer = kafka.consumer({ groupId: `sluice-compat-kafkajs-${process.pid}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen = { 0: [], 1: [] };
    let count = 0;
    let resolveDone;
    const done = new Promise((resolve) => { resolveDone = resolve; });
    await consumer.run({
        eachMessage: async ({ partition, message }) => {
            const headers = {};
            for (const [name, value] of Object.entries(message.headers || {})) {
                headers[name] = value.toString();
            }
            seen[partition].push({
                offset: Number(message.offset),
                key: message.key === null ? null : message.key.toString(),
                value: message.value === null ? null : message.value.toString(),
                headers,
            });
            count++;
            if (count >= total) resolveDone();
        },
    });
    const timer = setTimeout(() => fail(`consumed ${count} of ${total} messages in ${TIMEOUT_MS} ms`), TIMEOUT_MS);
    await done;
    // Give duplicates a moment to show up before judging.
    await new Promise((resolve) => setTimeout(resolve, 500));
    clearTimeout(timer);
    await consumer.disconnect();
    return seen;
}

function check(seen) {
    const want = { 0: [], 1: [] };
    for (let i = 0; i < PLAIN_COUNT + GZIP_COUNT; i++) want[expected(i).partition].push(i);
    for (const partition of [0, 1]) {
        const got = seen[partition];
        if (got.length !== want[partition].length) {
            fail(`partition ${partition}: ${got.length} messages, expected ${want[partition].length}`);
        }
        got.forEach((m, j) => {
            const e = expected(want[partition][j]);
            const where = `partition ${partition} position ${j}`;
            if (m.offset !== j) fail(`${where}: offset ${m.offset}`);
            if (m.key !== e.key) fail(`${where}: key ${m.key}, expected ${e.key}`);
            if (m.value !== e.value) fail(`${where}: value ${m.value}, expected ${e.value}`);
            if (JSON.stringify(m.headers) !== JSON.stringify(e.headers)) {
                fail(`${where}: headers ${JSON.stringify(m.headers)}, expected ${JSON.stringify(e.headers)}`);
            }
        });
    }
}

async function main() {
    const [bootstrap, topic] = process.argv.slice(2);
    if (!bootstrap || !topic) fail('usage: node scenario.js <bootstrap> <topic>');
    const kafka = new Kafka({
        clientId: 'sluice-compat-kafkajs',
        brokers: bootstrap.split(','),
        logLevel: logLevel.ERROR,
        retry: { retries: 3 },
    });
    await produce(kafka, topic);
    console.log(`produced ${PLAIN_COUNT} plain and ${GZIP_COUNT} gzip messages`);
    check(await consume(kafka, topic));
    console.log('PASS kafkajs');
    process.exit(0);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
