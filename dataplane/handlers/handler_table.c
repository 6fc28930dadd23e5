/* The one table of APIs this broker answers, with the versions it advertises in
 * ApiVersions. Versions outside a row (or APIs without a row) close the connection,
 * except ApiVersions itself, which answers UNSUPPORTED_VERSION with a v0 body.
 *
 * Produce, Fetch and ListOffsets are advertised from v0 although sluice stores only
 * record batches v2: librdkafka derives its feature set from these ranges (for example
 * it compresses only when the broker lists Produce/Fetch v2, its "MsgVer1" feature), and
 * it uses the newest version anyway. A Produce v0-v2 carrying message format v0/v1 gets
 * UNSUPPORTED_FOR_MESSAGE_FORMAT per partition; Fetch v0-v3 returns the stored v2
 * batches, which only v2-aware clients read.
 */
#include "dataplane/handlers/handlers.h"

/* clang-format off */
const struct sl_dp_handler sl_dp_handlers[] = {
    {0,  0, 11, sl_dp_handle_produce,           sl_dp_resume_produce,      NULL},
    {1,  0, 17, sl_dp_handle_fetch,             sl_dp_resume_fetch,        sl_dp_release_fetch},
    {2,  0, 10, sl_dp_handle_list_offsets,      sl_dp_resume_list_offsets, NULL},
    {3,  0, 12, sl_dp_handle_metadata,          NULL,                      NULL},
    {8,  0, 9,  sl_dp_handle_offset_commit,     sl_dp_resume_groups,       NULL},
    {9,  0, 9,  sl_dp_handle_offset_fetch,      sl_dp_resume_groups,       NULL},
    {10, 0, 4,  sl_dp_handle_find_coordinator,  NULL,                      NULL},
    {11, 0, 9,  sl_dp_handle_join_group,        sl_dp_resume_groups,       NULL},
    {12, 0, 4,  sl_dp_handle_heartbeat,         sl_dp_resume_groups,       NULL},
    {13, 0, 5,  sl_dp_handle_leave_group,       sl_dp_resume_groups,       NULL},
    {14, 0, 5,  sl_dp_handle_sync_group,        sl_dp_resume_groups,       NULL},
    {15, 0, 5,  sl_dp_handle_describe_groups,   sl_dp_resume_groups,       NULL},
    {16, 0, 5,  sl_dp_handle_list_groups,       sl_dp_resume_groups,       NULL},
    {18, 0, 4,  sl_dp_handle_api_versions,      NULL,                      NULL},
    {19, 0, 7,  sl_dp_handle_create_topics,     sl_dp_resume_admin_topics, NULL},
    {20, 0, 6,  sl_dp_handle_delete_topics,     sl_dp_resume_admin_topics, NULL},
    {21, 0, 2,  sl_dp_handle_delete_records,    sl_dp_resume_delete_records, NULL},
    {22, 0, 4,  sl_dp_handle_init_producer_id,  NULL,                      NULL},
    {23, 0, 4,  sl_dp_handle_offset_for_leader_epoch, sl_dp_resume_offset_for_leader_epoch, NULL},
    {32, 0, 4,  sl_dp_handle_describe_configs,  NULL,                      NULL},
    {33, 0, 2,  sl_dp_handle_alter_configs,     sl_dp_resume_alter_configs, NULL},
    {37, 0, 3,  sl_dp_handle_create_partitions, sl_dp_resume_admin_topics, NULL},
    {42, 0, 2,  sl_dp_handle_delete_groups,     sl_dp_resume_groups,       NULL},
    {44, 0, 1,  sl_dp_handle_incremental_alter_configs, sl_dp_resume_alter_configs, NULL},
    {47, 0, 0,  sl_dp_handle_offset_delete,     sl_dp_resume_groups,       NULL},
    {60, 0, 1,  sl_dp_handle_describe_cluster,  NULL,                      NULL},
};
/* clang-format on */
const uint32_t sl_dp_handler_count = sizeof(sl_dp_handlers) / sizeof(sl_dp_handlers[0]);

const struct sl_dp_handler *sl_dp_handler_find(int16_t api_key)
{
    for (uint32_t i = 0; i < sl_dp_handler_count; i++) {
        if (sl_dp_handlers[i].api_key == api_key)
            return &sl_dp_handlers[i];
    }
    return NULL;
}
