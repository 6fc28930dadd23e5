/* Kafka protocol error codes used by the control plane, as plain ints.
 * To be unified with the codec's shared error-name table later; the numbers are Kafka's.
 */
#ifndef SL_KAFKA_ERROR_CODES_H
#define SL_KAFKA_ERROR_CODES_H

#define SL_KAFKA_NONE                           0
#define SL_KAFKA_UNKNOWN_TOPIC_OR_PARTITION     3
#define SL_KAFKA_NOT_LEADER_OR_FOLLOWER         6
#define SL_KAFKA_REQUEST_TIMED_OUT              7
#define SL_KAFKA_INVALID_TOPIC_EXCEPTION        17
#define SL_KAFKA_TOPIC_ALREADY_EXISTS           36
#define SL_KAFKA_INVALID_PARTITIONS             37
#define SL_KAFKA_INVALID_REPLICATION_FACTOR     38
#define SL_KAFKA_INVALID_REPLICA_ASSIGNMENT     39
#define SL_KAFKA_INVALID_CONFIG                 40
#define SL_KAFKA_NOT_CONTROLLER                 41
#define SL_KAFKA_INVALID_REQUEST                42
#define SL_KAFKA_TOPIC_DELETION_DISABLED        73
#define SL_KAFKA_FENCED_LEADER_EPOCH            74
#define SL_KAFKA_STALE_BROKER_EPOCH             77
#define SL_KAFKA_PREFERRED_LEADER_NOT_AVAILABLE 80
#define SL_KAFKA_ELIGIBLE_LEADERS_NOT_AVAILABLE 83
#define SL_KAFKA_ELECTION_NOT_NEEDED            84
#define SL_KAFKA_INVALID_UPDATE_VERSION         95
#define SL_KAFKA_UNKNOWN_TOPIC_ID               100
#define SL_KAFKA_DUPLICATE_BROKER_REGISTRATION  101
#define SL_KAFKA_BROKER_ID_NOT_REGISTERED       102
#define SL_KAFKA_INELIGIBLE_REPLICA             107
/* Not a Kafka code: the request could not be turned into records (out of memory). */
#define SL_KAFKA_UNKNOWN_SERVER_ERROR (-1)

#endif
