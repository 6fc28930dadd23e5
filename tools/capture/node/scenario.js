// kafkajs client scenario for golden-frame capture (tools/capture/capture-golden.sh).
// usage: node scenario.js BOOTSTRAP
// Producer (acks 1 and all, plain and gzip), a consumer group, and admin calls. The mock
// cluster rejects some admin APIs; their error responses are golden frames too, so those
// failures are reported and ignored.
'use strict';

const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const MESSAGES = 24;
const CONSUME_TIMEOUT_MS = 15000;

function messages(tag) {
    const out = [];
    for (let i = 0; i < MESSAGES; i++) {
        const n = String(i).padStart(2, '0');
        out.push({
            key: `key-${n}`,
            value: `kafkajs ${tag} value ${n}`,
            partition: 0,
            headers: { source: 'kafkajs' },
        });
    }
    return out;
}

async function produce(kafka) {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic: 'golden-acks1', acks: 1, messages: messages('acks1') });
    await producer.send({ topic: 'golden-acksall', acks: -1, messages: messages('acksall') });
    await producer.send({
        topic: 'golden-gzip',
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: messages('gzip'),
    });
    await producer.disconnect();
}

async function consume(kafka) {
    const consumer = kafka.consumer({ groupId: 'golden-js-group', heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topics: ['golden-acks1', 'golden-gzip'], fromBeginning: true });
    let count = 0;
    const target = 2 * MESSAGES;
    await new Promise((resolve) => {
        const timer = setTimeout(resolve, CONSUME_TIMEOUT_MS);
        consumer.run({
            autoCommitInterval: 200,
            eachMessage: async () => {
                count++;
                if (count === target) {
                    clearTimeout(timer);
                    // Let one heartbeat and the auto-commit go out before leaving.
                    setTimeout(resolve, 1500);
                }
            },
        });
    });
    await consumer.disconnect();
    console.log(`kafkajs consumed ${count} messages`);
}

async function tryAdmin(label, call) {
    try {
        const result = await call();
        console.log(`kafkajs admin ${label}: ${JSON.stringify(result).slice(0, 200)}`);
    } catch (err) {
        console.log(`kafkajs admin ${label} failed (expected on the mock): ${err.message}`);
    }
}

async function admin(kafka) {
    const client = kafka.admin();
    await client.connect();
    await tryAdmin('createTopics', () =>
        client.createTopics({ topics: [{ topic: 'golden-created', numPartitions: 2 }], timeout: 3000 }));
    await tryAdmin('fetchTopicMetadata', () =>
        client.fetchTopicMetadata({ topics: ['golden-acks1', 'golden-gzip'] }));
    await tryAdmin('fetchOffsets', () =>
        client.fetchOffsets({ groupId: 'golden-js-group', topics: ['golden-acks1', 'golden-gzip'] }));
    await tryAdmin('fetchTopicOffsets', () => client.fetchTopicOffsets('golden-acks1'));
    await tryAdmin('listGroups', () => client.listGroups());
    await tryAdmin('describeGroups', () => client.describeGroups(['golden-js-group']));
    await tryAdmin('deleteTopics', () => client.deleteTopics({ topics: ['golden-created'], timeout: 3000 }));
    await client.disconnect();
}

async function main() {
    if (process.argv.length !== 3) {
        console.error('usage: node scenario.js BOOTSTRAP');
        process.exit(2);
    }
    const kafka = new Kafka({
        clientId: 'golden-kafkajs',
        brokers: process.argv[2].split(','),
        logLevel: logLevel.ERROR,
        retry: { retries: 2 },
    });
    await produce(kafka);
    await consume(kafka);
    await admin(kafka);
}

main().catch((err) => {
    console.error(`kafkajs scenario failed: ${err.stack}`);
    process.exit(1);
});
