/* The one table of broker configuration keys (an X-macro list).
 *
 * X(id, name, type, default, min, max, allowed, doc)
 *   name    Kafka's KRaft key where the meaning matches; sluice-only keys are prefixed by
 *           the subsystem (dataplane., controlplane., memory., storage., stats.).
 *   type    INT (64-bit), BOOL, STRING, ENUM (one of `allowed`, '|'-separated) or LIST
 *           (comma-separated; items limited to `allowed` when it is not "").
 *   default NULL means "unset" (the key has no value unless given; see its doc).
 *   min/max bounds for INT keys (inclusive).
 * The defaults are the embedded single-node configuration: a broker started with no
 * file is node 1, broker and controller, a quorum of one on 127.0.0.1:9093.
 */
#ifndef SL_CONFIG_KEYS_H
#define SL_CONFIG_KEYS_H

#define SL_I64_MAX 9223372036854775807LL
#define SL_I32_MAX 2147483647LL

/* clang-format off */
#define SL_CONFIG_KEYS(X) \
    X(NODE_ID, "node.id", INT, "1", 0, SL_I32_MAX, "", \
      "Id of this broker and of its controller; unique in the cluster.") \
    X(PROCESS_ROLES, "process.roles", LIST, "broker,controller", 0, 0, "broker|controller", \
      "Roles of this process: broker, controller, or both. A controller is a voter of the metadata quorum.") \
    X(LISTENERS, "listeners", STRING, "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093", 0, 0, "", \
      "Comma-separated NAME://host:port listeners this broker binds. A controller needs the listener named in controller.listener.names.") \
    X(ADVERTISED_LISTENERS, "advertised.listeners", STRING, NULL, 0, 0, "", \
      "Listeners published to clients in Metadata; unset means the broker listeners as bound.") \
    X(LISTENER_SECURITY_PROTOCOL_MAP, "listener.security.protocol.map", STRING, "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT", 0, 0, "", \
      "NAME:PROTOCOL pairs for every listener. Only PLAINTEXT is supported.") \
    X(INTER_BROKER_LISTENER_NAME, "inter.broker.listener.name", STRING, "PLAINTEXT", 0, 0, "", \
      "Listener that followers use to fetch from leaders.") \
    X(CONTROLLER_LISTENER_NAMES, "controller.listener.names", STRING, "CONTROLLER", 0, 0, "", \
      "Name of the listener the metadata quorum (raft) uses; the first one is bound by controllers.") \
    X(CONTROLLER_QUORUM_VOTERS, "controller.quorum.voters", STRING, "1@127.0.0.1:9093", 0, 0, "", \
      "The voters of the metadata quorum as id@host:port,...; identical on every broker of the cluster.") \
    X(CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS, "controller.quorum.election.timeout.ms", INT, "1000", 100, 600000, "", \
      "Raft election timeout of the metadata quorum (randomized between 1x and 2x).") \
    X(CONTROLPLANE_QUORUM_HEARTBEAT_MS, "controlplane.quorum.heartbeat.ms", INT, "100", 10, 60000, "", \
      "Interval of raft leader heartbeats; must be well below the election timeout.") \
    X(METADATA_STANDBY_ADDRESS, "metadata.standby.address", STRING, NULL, 0, 0, "", \
      "host:port a broker-only node listens on to receive the metadata log (raft pushes it); required without the controller role.") \
    X(METADATA_SNAPSHOT_INTERVAL_ENTRIES, "metadata.snapshot.interval.entries", INT, "1024", 2, SL_I32_MAX, "", \
      "Metadata log entries between two snapshots of the metadata image.") \
    X(METADATA_SNAPSHOT_TRAILING_ENTRIES, "metadata.snapshot.trailing.entries", INT, "128", 0, SL_I32_MAX, "", \
      "Metadata log entries kept after a snapshot, so slightly lagging standbys need no snapshot.") \
    X(CONTROLPLANE_SUBMIT_QUEUE_CAPACITY, "controlplane.submit.queue.capacity", INT, "1024", 2, 1048576, "", \
      "Bound of the queue of requests other threads submit to the controller thread (a power of two is used).") \
    X(CONTROLPLANE_BROKERS_MAX, "controlplane.brokers.max", INT, "1024", 1, 65536, "", \
      "Bound of the controller's table of broker sessions (registered brokers in the cluster).") \
    X(CONTROLPLANE_RPC_CONNECTIONS_MAX, "controlplane.rpc.connections.max", INT, "64", 1, 65536, "", \
      "Bound of inbound connections (raft handshakes and controller RPCs) on the CONTROLLER listener or metadata.standby.address.") \
    X(CONTROLPLANE_RPC_INFLIGHT_MAX, "controlplane.rpc.inflight.max", INT, "16", 1, 1024, "", \
      "Controller requests in flight per inbound RPC connection, and requests a node forwards to the active controller at once (about 75 KiB each at most).") \
    X(LOG_DIRS, "log.dirs", STRING, "./data", 0, 0, "", \
      "Comma-separated directories holding partition logs.") \
    X(METADATA_LOG_DIR, "metadata.log.dir", STRING, NULL, 0, 0, "", \
      "Directory of the metadata log and snapshots; unset means <first log.dirs entry>/__cluster_metadata-0.") \
    X(NUM_PARTITIONS, "num.partitions", INT, "1", 1, 1000000, "", \
      "Partitions of an auto-created topic or of CreateTopics with num_partitions=-1.") \
    X(DEFAULT_REPLICATION_FACTOR, "default.replication.factor", INT, "1", 1, 16, "", \
      "Replication factor of auto-created topics and of CreateTopics with replication_factor=-1.") \
    X(AUTO_CREATE_TOPICS_ENABLE, "auto.create.topics.enable", BOOL, "true", 0, 0, "", \
      "Create a topic when a client asks Metadata for an unknown one.") \
    X(DELETE_TOPIC_ENABLE, "delete.topic.enable", BOOL, "true", 0, 0, "", \
      "Allow DeleteTopics.") \
    X(LOG_SEGMENT_BYTES, "log.segment.bytes", INT, "1073741824", 4096, SL_I32_MAX, "", \
      "Segment file size before a new segment is rolled.") \
    X(LOG_ROLL_MS, "log.roll.ms", INT, "604800000", 1, SL_I64_MAX, "", \
      "Age of the active segment before a new segment is rolled.") \
    X(LOG_RETENTION_MS, "log.retention.ms", INT, NULL, -1, SL_I64_MAX, "", \
      "Time a segment is kept; -1 keeps forever. Unset means log.retention.minutes, then log.retention.hours.") \
    X(LOG_RETENTION_MINUTES, "log.retention.minutes", INT, NULL, -1, SL_I32_MAX, "", \
      "Retention in minutes, used when log.retention.ms is unset.") \
    X(LOG_RETENTION_HOURS, "log.retention.hours", INT, "168", -1, SL_I32_MAX, "", \
      "Retention in hours, used when log.retention.ms and log.retention.minutes are unset.") \
    X(LOG_RETENTION_BYTES, "log.retention.bytes", INT, "-1", -1, SL_I64_MAX, "", \
      "Maximum size of a partition before old segments are deleted; -1 means no limit.") \
    X(LOG_RETENTION_CHECK_INTERVAL_MS, "log.retention.check.interval.ms", INT, "300000", 1, SL_I64_MAX, "", \
      "How often retention is checked.") \
    X(LOG_INDEX_INTERVAL_BYTES, "log.index.interval.bytes", INT, "4096", 0, SL_I32_MAX, "", \
      "Bytes appended between two offset index entries.") \
    X(LOG_FLUSH_INTERVAL_MESSAGES, "log.flush.interval.messages", INT, "9223372036854775807", 1, SL_I64_MAX, "", \
      "Messages appended to a partition before an fdatasync.") \
    X(LOG_FLUSH_INTERVAL_MS, "log.flush.interval.ms", INT, NULL, 0, SL_I64_MAX, "", \
      "Maximum time data stays unsynced; unset means no time-based flush.") \
    X(MESSAGE_MAX_BYTES, "message.max.bytes", INT, "1048588", 0, SL_I32_MAX, "", \
      "Largest record batch the broker accepts.") \
    X(LOG_MESSAGE_TIMESTAMP_TYPE, "log.message.timestamp.type", ENUM, "CreateTime", 0, 0, "CreateTime|LogAppendTime", \
      "Timestamp stored with records of topics that do not set message.timestamp.type: the producer's (CreateTime) or the broker's append time (LogAppendTime).") \
    X(LOG_MESSAGE_TIMESTAMP_DIFFERENCE_MAX_MS, "log.message.timestamp.difference.max.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", \
      "Largest accepted difference between a CreateTime batch's timestamps and the broker clock, for topics that do not set message.timestamp.difference.max.ms.") \
    X(LOG_MESSAGE_TIMESTAMP_BEFORE_MAX_MS, "log.message.timestamp.before.max.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", \
      "How far a CreateTime batch's timestamps may lie behind the broker clock, for topics that do not set message.timestamp.before.max.ms (KIP-937); the default defers to the difference limit.") \
    X(LOG_MESSAGE_TIMESTAMP_AFTER_MAX_MS, "log.message.timestamp.after.max.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", \
      "How far a CreateTime batch's timestamps may lie ahead of the broker clock, for topics that do not set message.timestamp.after.max.ms (KIP-937); the default defers to the difference limit.") \
    X(SOCKET_REQUEST_MAX_BYTES, "socket.request.max.bytes", INT, "104857600", 1, SL_I32_MAX, "", \
      "Largest request frame the broker accepts.") \
    X(MIN_INSYNC_REPLICAS, "min.insync.replicas", INT, "1", 1, 16, "", \
      "In-sync replicas needed for an acks=all produce to succeed.") \
    X(UNCLEAN_LEADER_ELECTION_ENABLE, "unclean.leader.election.enable", BOOL, "false", 0, 0, "", \
      "Elect a leader outside the ISR when no ISR member is alive (may lose data).") \
    X(OFFSETS_TOPIC_NUM_PARTITIONS, "offsets.topic.num.partitions", INT, "50", 1, 100000, "", \
      "Partitions of the __consumer_offsets topic.") \
    X(OFFSETS_TOPIC_REPLICATION_FACTOR, "offsets.topic.replication.factor", INT, "1", 1, 16, "", \
      "Replication factor of __consumer_offsets (Kafka's default is 3). Accepted, but the topic is created with 1 while partition data is not replicated (docs/groups.md).") \
    X(OFFSETS_TOPIC_SEGMENT_BYTES, "offsets.topic.segment.bytes", INT, "104857600", 262144, SL_I32_MAX, "", \
      "Segment size of the __consumer_offsets logs; also the bytes appended after which a partition's state is rewritten as a snapshot and older segments deleted.") \
    X(OFFSETS_RETENTION_MINUTES, "offsets.retention.minutes", INT, "10080", 1, SL_I32_MAX, "", \
      "How long committed offsets of an empty group are kept.") \
    X(GROUP_MIN_SESSION_TIMEOUT_MS, "group.min.session.timeout.ms", INT, "6000", 0, SL_I32_MAX, "", \
      "Smallest session timeout a consumer may ask for.") \
    X(GROUP_MAX_SESSION_TIMEOUT_MS, "group.max.session.timeout.ms", INT, "1800000", 0, SL_I32_MAX, "", \
      "Largest session timeout a consumer may ask for.") \
    X(GROUP_INITIAL_REBALANCE_DELAY_MS, "group.initial.rebalance.delay.ms", INT, "3000", 0, SL_I32_MAX, "", \
      "Delay of the first rebalance of a new group, to let more members join.") \
    X(GROUP_MAX_SIZE, "group.max.size", INT, "2147483647", 1, SL_I32_MAX, "", \
      "Largest number of members in a consumer group.") \
    X(MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS, "max.incremental.fetch.session.cache.slots", INT, "1000", 0, 100000, "", \
      "Fetch sessions (KIP-227) the broker keeps, divided among the dataplane shards; 0 answers every fetch sessionless.") \
    X(BROKER_SESSION_TIMEOUT_MS, "broker.session.timeout.ms", INT, "9000", 100, SL_I32_MAX, "", \
      "A broker without a heartbeat for this long is fenced and loses its leaderships.") \
    X(BROKER_HEARTBEAT_INTERVAL_MS, "broker.heartbeat.interval.ms", INT, "2000", 10, SL_I32_MAX, "", \
      "Interval of broker heartbeats to the active controller.") \
    X(REPLICA_LAG_TIME_MAX_MS, "replica.lag.time.max.ms", INT, "30000", 1, SL_I64_MAX, "", \
      "A follower not caught up for this long is removed from the ISR. Accepted, no effect yet: partition data is not replicated, so there are no followers to track (docs/operations.md).") \
    X(BROKER_RACK, "broker.rack", STRING, NULL, 0, 0, "", \
      "Rack of this broker; replica placement spreads replicas over racks when all brokers set one.") \
    X(DATAPLANE_DRIVER, "dataplane.driver", ENUM, "uring", 0, 0, "uring|dpdk", \
      "Network driver of the dataplane: kernel TCP through io_uring (uring). dpdk names the DPDK poll-mode driver, which is not built yet: choosing it stops the start.") \
    X(DATAPLANE_CORES, "dataplane.cores", STRING, "1", 0, 0, "", \
      "CPU list of the dataplane shards, one pinned thread per CPU (e.g. 1-3 or 1,3,5).") \
    X(DATAPLANE_NICE, "dataplane.nice", INT, "0", -20, 19, "", \
      "Nice value of the dataplane shard threads; below 0 (needs CAP_SYS_NICE) they preempt other processes on their cores, which shortens the produce latency tail when clients share the broker's cores.") \
    X(DATAPLANE_CONNECTION_INFLIGHT_MAX, "dataplane.connection.inflight.max", INT, "64", 1, 256, "", \
      "Requests a shard works on at once per client connection (answered in order); at the bound it stops reading the connection. An acks=1 produce is in flight until its O_DIRECT write completes, so a producer pipelining 1 MiB requests needs a few dozen.") \
    X(DATAPLANE_URING_QUEUE_DEPTH, "dataplane.uring.queue.depth", INT, "256", 8, 32768, "", \
      "Submission queue entries of each shard's io_uring instance.") \
    X(CONTROLPLANE_CORE, "controlplane.core", INT, "0", -1, 4095, "", \
      "CPU of the control-plane threads (metadata log, broker lifecycle) and of the main thread (stats socket); -1 leaves them unpinned. A CPU the process may not run on stops the start.") \
    X(MEMORY_POOL_BYTES, "memory.pool.bytes", INT, "268435456", 1048576, SL_I64_MAX, "", \
      "Accepted, no effect yet (meant for the DPDK driver's shared buffer pool): buffer memory is bounded by storage.cache.bytes and the per-shard bounds of docs/operations.md.") \
    X(MEMORY_HUGEPAGES, "memory.hugepages", ENUM, "auto", 0, 0, "on|off|auto", \
      "Back the storage engines' chunk pools (batch cache and tail buffers) with hugepages: on (fail without them), off, or auto (fall back to 4 KiB pages).") \
    X(STORAGE_CACHE_BYTES, "storage.cache.bytes", INT, "134217728", 0, SL_I64_MAX, "", \
      "Bytes of the batch cache that serves fetches from memory.") \
    X(STORAGE_TAIL_SHARED_MEMORY, "storage.tail.shared.memory", BOOL, "false", 0, 0, "", \
      "Keep each shard's batch cache and tail buffers in a file under storage.tail.dir that outlives the process, and count a batch as safe (acknowledged, visible to consumers) once it is copied there instead of once its O_DIRECT write completes. A kill -9 then loses nothing: the next start writes those bytes to the log before opening it. An OS crash or power loss loses what was not yet written, as it loses Kafka's page-cache acknowledgements. flush.messages=1 still waits for fdatasync.") \
    X(STORAGE_TAIL_DIR, "storage.tail.dir", STRING, "/dev/shm", 0, 0, "", \
      "Directory of the storage.tail.shared.memory files: a memory file system (tmpfs; hugetlbfs gives hugepages). One file per shard, sluice-tail-<device>-<inode of the data dir>-<shard>, as large as its share of storage.cache.bytes; removed at a clean stop, replayed and removed at the next start after a crash.") \
    X(STATS_SOCKET, "stats.socket", STRING, "./data/sluice-stats.sock", 0, 0, "", \
      "Path of the Unix stats socket (JSON requests and replies).")
/* clang-format on */

/* Broker keys that AlterConfigs / IncrementalAlterConfigs may change on a running
 * cluster (stored as broker config records in the metadata log, per broker id or as the
 * cluster-wide default). Each is a default that topics inherit or a limit the dataplane
 * reads per request or per image change, so a change takes effect on live partitions
 * without a restart. Every other key is read once at start: changing it is
 * INVALID_REQUEST ("cannot be updated dynamically"), as Kafka answers.
 * X(id) with the id of the key in SL_CONFIG_KEYS. */
/* clang-format off */
#define SL_CONFIG_DYNAMIC_KEYS(X) \
    X(LOG_SEGMENT_BYTES) \
    X(LOG_ROLL_MS) \
    X(LOG_RETENTION_MS) \
    X(LOG_RETENTION_MINUTES) \
    X(LOG_RETENTION_HOURS) \
    X(LOG_RETENTION_BYTES) \
    X(LOG_INDEX_INTERVAL_BYTES) \
    X(LOG_FLUSH_INTERVAL_MESSAGES) \
    X(LOG_FLUSH_INTERVAL_MS) \
    X(MESSAGE_MAX_BYTES) \
    X(LOG_MESSAGE_TIMESTAMP_TYPE) \
    X(LOG_MESSAGE_TIMESTAMP_DIFFERENCE_MAX_MS) \
    X(LOG_MESSAGE_TIMESTAMP_BEFORE_MAX_MS) \
    X(LOG_MESSAGE_TIMESTAMP_AFTER_MAX_MS) \
    X(MIN_INSYNC_REPLICAS)
/* clang-format on */

/* The table of topic-level keys (CreateTopics configs, AlterConfigs on a topic).
 * X(id, name, type, default, min, max, allowed, broker_key, doc)
 *   broker_key: the broker key whose value is the default when the topic does not set
 *   one ("" when there is none and `default` applies).
 */
/* clang-format off */
#define SL_TOPIC_CONFIG_KEYS(X) \
    X(CLEANUP_POLICY, "cleanup.policy", LIST, "delete", 0, 0, "delete|compact", "", \
      "delete: retention by time/size removes old segments. compact alone: retention removes nothing (Kafka then removes records only by compaction, which sluice does not do yet), so every record is kept. compact,delete: retention applies.") \
    X(RETENTION_MS, "retention.ms", INT, "604800000", -1, SL_I64_MAX, "", "log.retention.ms", \
      "Time a segment is kept; -1 keeps forever.") \
    X(RETENTION_BYTES, "retention.bytes", INT, "-1", -1, SL_I64_MAX, "", "log.retention.bytes", \
      "Maximum partition size before old segments are deleted; -1 means no limit.") \
    X(SEGMENT_BYTES, "segment.bytes", INT, "1073741824", 4096, SL_I32_MAX, "", "log.segment.bytes", \
      "Segment file size before a roll.") \
    X(SEGMENT_MS, "segment.ms", INT, "604800000", 1, SL_I64_MAX, "", "log.roll.ms", \
      "Age of the active segment before a roll.") \
    X(SEGMENT_INDEX_BYTES, "segment.index.bytes", INT, "10485760", 4096, SL_I32_MAX, "", "", \
      "Size of each segment's offset index file.") \
    X(INDEX_INTERVAL_BYTES, "index.interval.bytes", INT, "4096", 0, SL_I32_MAX, "", "log.index.interval.bytes", \
      "Bytes appended between two offset index entries.") \
    X(MAX_MESSAGE_BYTES, "max.message.bytes", INT, "1048588", 0, SL_I32_MAX, "", "message.max.bytes", \
      "Largest record batch accepted for this topic.") \
    X(MIN_INSYNC_REPLICAS, "min.insync.replicas", INT, "1", 1, 16, "", "min.insync.replicas", \
      "In-sync replicas needed for an acks=all produce.") \
    X(FLUSH_MESSAGES, "flush.messages", INT, "9223372036854775807", 1, SL_I64_MAX, "", "log.flush.interval.messages", \
      "Messages appended before an fdatasync.") \
    X(FLUSH_MS, "flush.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", "log.flush.interval.ms", \
      "Maximum time data stays unsynced.") \
    X(MESSAGE_TIMESTAMP_TYPE, "message.timestamp.type", ENUM, "CreateTime", 0, 0, "CreateTime|LogAppendTime", "log.message.timestamp.type", \
      "Timestamp stored with records: the producer's (CreateTime), or the broker's append time (LogAppendTime: written as each batch's maxTimestamp with the LogAppendTime attribute, CRC recomputed, records untouched; also returned in the Produce response).") \
    X(MESSAGE_TIMESTAMP_DIFFERENCE_MAX_MS, "message.timestamp.difference.max.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", "log.message.timestamp.difference.max.ms", \
      "Largest accepted difference between a CreateTime batch's first and largest timestamps and the broker clock (records are not decoded); a batch outside it is refused with INVALID_TIMESTAMP.") \
    X(MESSAGE_TIMESTAMP_BEFORE_MAX_MS, "message.timestamp.before.max.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", "log.message.timestamp.before.max.ms", \
      "KIP-937: how far a CreateTime batch's timestamps may lie behind the broker clock (INVALID_TIMESTAMP beyond); the default defers to message.timestamp.difference.max.ms.") \
    X(MESSAGE_TIMESTAMP_AFTER_MAX_MS, "message.timestamp.after.max.ms", INT, "9223372036854775807", 0, SL_I64_MAX, "", "log.message.timestamp.after.max.ms", \
      "KIP-937: how far a CreateTime batch's timestamps may lie ahead of the broker clock (INVALID_TIMESTAMP beyond); the default defers to message.timestamp.difference.max.ms.") \
    X(COMPRESSION_TYPE, "compression.type", ENUM, "producer", 0, 0, "producer|uncompressed|gzip|snappy|lz4|zstd", "", \
      "Only producer is honoured: batches are stored as sent, never re-encoded.") \
    X(UNCLEAN_LEADER_ELECTION_ENABLE, "unclean.leader.election.enable", BOOL, "false", 0, 0, "", "unclean.leader.election.enable", \
      "Elect a leader outside the ISR when no ISR member is alive.") \
    X(DELETE_RETENTION_MS, "delete.retention.ms", INT, "86400000", 0, SL_I64_MAX, "", "", \
      "Accepted and shown, no effect yet: how long tombstones are kept once compaction exists.") \
    X(FILE_DELETE_DELAY_MS, "file.delete.delay.ms", INT, "60000", 0, SL_I64_MAX, "", "", \
      "Accepted and shown, no effect: sluice removes a deleted segment's files at once.") \
    X(PREALLOCATE, "preallocate", BOOL, "false", 0, 0, "", "", \
      "Accepted and shown, no effect: segment files grow as O_DIRECT writes extend them (preallocating them stalled appends here; see docs/benchmarks.md).")
/* clang-format on */

#endif
