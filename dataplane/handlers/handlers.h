/* Request handlers, one file per API family. Each takes a decoded request in its slot
 * and either answers at once (sl_dp_respond) or records what it waits for and answers
 * from its resume function. The table of served APIs and versions is handler_table.c.
 * Shard thread only.
 */
#ifndef SL_DP_HANDLERS_H
#define SL_DP_HANDLERS_H

#include "dataplane/shard_internal.h"

void sl_dp_handle_api_versions(struct sl_shard *s, struct sl_dp_request *r);
/* Answers an ApiVersions request of a version sluice lacks: v0 body, error 35. */
void sl_dp_api_versions_unsupported(struct sl_shard *s, struct sl_dp_request *r);

void sl_dp_handle_metadata(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_produce(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_produce(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_fetch(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_fetch(struct sl_shard *s, struct sl_dp_request *r);
bool sl_dp_release_fetch(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_list_offsets(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_list_offsets(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_create_topics(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_delete_topics(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_create_partitions(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_admin_topics(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_describe_cluster(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_describe_configs(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_offset_for_leader_epoch(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_offset_for_leader_epoch(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_alter_configs(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_incremental_alter_configs(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_alter_configs(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_init_producer_id(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_delete_records(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_delete_records(struct sl_shard *s, struct sl_dp_request *r);

/* Called from the loop after a log's written or durable end moved: answers the produces
 * (and replies to the other shards' produce ops) whose appends reached the end they wait
 * for. */
void sl_dp_produce_ack_check(struct sl_shard *s);

/* Consumer groups (groups.c): the coordinator's APIs, routed to the shard hosting the
 * group's offsets partition. */
void sl_dp_handle_find_coordinator(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_join_group(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_sync_group(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_heartbeat(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_leave_group(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_offset_commit(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_offset_fetch(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_offset_delete(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_describe_groups(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_list_groups(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_handle_delete_groups(struct sl_shard *s, struct sl_dp_request *r);
void sl_dp_resume_groups(struct sl_shard *s, struct sl_dp_request *r);
/* Called every loop pass after sl_storage_poll: retries appends that met storage
 * backpressure, in order. */
void sl_dp_produce_retry_poll(struct sl_shard *s);
/* Called every loop pass: re-runs parked fetches after appends or at their deadline. */
void sl_dp_fetch_poll_parked(struct sl_shard *s);

#endif
