#include "controlplane/controller_rpc_client.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "controlplane/controller_rpc_codec.h"

struct link;

struct peer {
    int32_t node_id;
    char address[SL_CONFIG_HOST_BYTES_MAX + 8];
    struct link *link; /* the open connection, or NULL */
};

/* One TCP connection to a peer; freed when its handle is closed. */
struct link {
    struct sl_ctrl_rpc_client *client;
    struct peer *peer; /* NULL once failed */
    uv_tcp_t tcp;
    uv_connect_t connect;
    bool connected;
    struct sl_md_request *sent_head, *sent_tail; /* waiting for an answer, in send order */
    uint8_t header[4];
    size_t header_read;
    uint8_t *frame;
    uint32_t body_bytes;
    uint32_t body_read;
};

struct frame_write {
    uv_write_t write;
    struct link *link;
    size_t len;
    uint8_t bytes[];
};

struct sl_ctrl_rpc_client {
    uv_loop_t *loop;
    sl_ctrl_rpc_client_done_fn done;
    void *done_arg;
    uint32_t next_correlation_id;
    bool closing;
    int peer_count;
    struct peer peers[SL_CONFIG_VOTERS_MAX];
    uint8_t scratch[SL_CTRL_RPC_FRAME_BYTES_MAX];
};

/* ---- failure ---- */

static void link_closed(uv_handle_t *handle)
{
    struct link *l = handle->data;
    free(l->frame);
    free(l);
}

/* Detaches the link from its peer, closes it and fails what was sent on it. */
static void fail_link(struct link *l, int status)
{
    if (l->peer == NULL) {
        return;
    }
    l->peer->link = NULL;
    l->peer = NULL;
    struct sl_md_request *req = l->sent_head;
    l->sent_head = l->sent_tail = NULL;
    uv_close((uv_handle_t *)&l->tcp, link_closed);
    while (req != NULL) {
        struct sl_md_request *next = req->next;
        req->next = NULL;
        l->client->done(l->client->done_arg, req, status);
        req = next;
    }
}

/* ---- writing ---- */

static void frame_written(uv_write_t *w, int status)
{
    struct frame_write *fw = (struct frame_write *)w;
    if (status != 0) {
        fail_link(fw->link, -ECONNRESET);
    }
    free(fw);
}

static int write_request(struct link *l, struct sl_md_request *req)
{
    struct sl_ctrl_rpc_client *c = l->client;
    size_t n = sl_ctrl_rpc_encode_request(req, req->correlation_id, c->scratch, sizeof(c->scratch));
    if (n == 0) {
        return -EINVAL;
    }
    struct frame_write *fw = malloc(sizeof(*fw) + n);
    if (fw == NULL) {
        return -ENOMEM;
    }
    memcpy(fw->bytes, c->scratch, n);
    fw->link = l;
    fw->len = n;
    uv_buf_t b = uv_buf_init((char *)fw->bytes, (unsigned)n);
    int rc = uv_write(&fw->write, (uv_stream_t *)&l->tcp, &b, 1, frame_written);
    if (rc != 0) {
        free(fw);
        return -ECONNRESET;
    }
    return 0;
}

/* ---- reading ---- */

static uv_buf_t next_buffer(struct link *l)
{
    if (l->header_read < sizeof(l->header)) {
        return uv_buf_init((char *)l->header + l->header_read,
                           (unsigned)(sizeof(l->header) - l->header_read));
    }
    return uv_buf_init((char *)l->frame + 4 + l->body_read, l->body_bytes - l->body_read);
}

static void alloc_read(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    *buf = next_buffer(handle->data);
}

static bool answer(struct link *l)
{
    size_t len = 4 + (size_t)l->body_bytes;
    enum sl_ctrl_rpc_kind kind;
    uint32_t correlation_id;
    if (sl_ctrl_rpc_decode_header(l->frame, len, &kind, &correlation_id) != 0 ||
        kind != SL_CTRL_RPC_RESPONSE) {
        return false;
    }
    struct sl_md_request *prev = NULL;
    struct sl_md_request *req = l->sent_head;
    while (req != NULL && req->correlation_id != correlation_id) {
        prev = req;
        req = req->next;
    }
    if (req == NULL || sl_ctrl_rpc_decode_response(l->frame, len, req) != 0) {
        return false;
    }
    if (prev != NULL) {
        prev->next = req->next;
    } else {
        l->sent_head = req->next;
    }
    if (l->sent_tail == req) {
        l->sent_tail = prev;
    }
    req->next = NULL;
    l->client->done(l->client->done_arg, req, 0);
    return true;
}

static void read_some(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct link *l = stream->data;
    (void)buf;
    if (nread == 0 || l->peer == NULL) {
        return;
    }
    if (nread < 0) {
        fail_link(l, -ECONNRESET);
        return;
    }
    if (l->header_read < sizeof(l->header)) {
        l->header_read += (size_t)nread;
        if (l->header_read < sizeof(l->header)) {
            return;
        }
        uint32_t size = sl_load_be32(l->header);
        if (size < SL_CTRL_RPC_HEADER_BYTES - 4 || size > SL_CTRL_RPC_FRAME_BYTES_MAX - 4) {
            fail_link(l, -EBADMSG);
            return;
        }
        l->frame = malloc(4 + (size_t)size);
        if (l->frame == NULL) {
            fail_link(l, -ENOMEM);
            return;
        }
        memcpy(l->frame, l->header, 4);
        l->body_bytes = size;
        l->body_read = 0;
        return;
    }
    l->body_read += (uint32_t)nread;
    if (l->body_read < l->body_bytes) {
        return;
    }
    bool ok = answer(l);
    free(l->frame);
    l->frame = NULL;
    l->header_read = 0;
    if (!ok) {
        fprintf(stderr, "sluiced: controller rpc: bad answer from node %d; reconnecting\n",
                l->peer != NULL ? l->peer->node_id : -1);
        fail_link(l, -EBADMSG);
    }
}

/* ---- connecting ---- */

static void connected(uv_connect_t *connect, int status)
{
    struct link *l = connect->data;
    if (l->peer == NULL) {
        return; /* failed while connecting; the close callback frees it */
    }
    if (status != 0 || uv_read_start((uv_stream_t *)&l->tcp, alloc_read, read_some) != 0) {
        fail_link(l, -ECONNREFUSED);
        return;
    }
    l->connected = true;
    uv_tcp_nodelay(&l->tcp, 1);
    for (struct sl_md_request *req = l->sent_head; req != NULL; req = req->next) {
        if (write_request(l, req) != 0) {
            fail_link(l, -ECONNRESET);
            return;
        }
    }
}

static int resolve(const char *host_port, struct sockaddr_storage *out)
{
    char host[SL_CONFIG_HOST_BYTES_MAX + 8];
    snprintf(host, sizeof(host), "%s", host_port);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        return -EINVAL;
    }
    *colon = '\0';
    struct addrinfo hints = {
        .ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL) {
        return -EHOSTUNREACH;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int open_link(struct sl_ctrl_rpc_client *c, struct peer *p)
{
    struct sockaddr_storage addr;
    int rc = resolve(p->address, &addr);
    if (rc != 0) {
        return rc;
    }
    struct link *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return -ENOMEM;
    }
    l->client = c;
    l->peer = p;
    uv_tcp_init(c->loop, &l->tcp);
    l->tcp.data = l;
    l->connect.data = l;
    rc = uv_tcp_connect(&l->connect, &l->tcp, (const struct sockaddr *)&addr, connected);
    if (rc != 0) {
        uv_close((uv_handle_t *)&l->tcp, link_closed);
        return -ECONNREFUSED;
    }
    p->link = l;
    return 0;
}

/* ---- API ---- */

struct sl_ctrl_rpc_client *sl_ctrl_rpc_client_new(uv_loop_t *loop,
                                                  const struct sl_config_voter *voters,
                                                  int voter_count, sl_ctrl_rpc_client_done_fn done,
                                                  void *done_arg)
{
    SL_ASSERT(voter_count >= 0 && voter_count <= SL_CONFIG_VOTERS_MAX && done != NULL);
    struct sl_ctrl_rpc_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->loop = loop;
    c->done = done;
    c->done_arg = done_arg;
    c->next_correlation_id = 1;
    c->peer_count = voter_count;
    for (int i = 0; i < voter_count; i++) {
        c->peers[i].node_id = voters[i].id;
        snprintf(c->peers[i].address, sizeof(c->peers[i].address), "%s:%u", voters[i].host,
                 voters[i].port);
    }
    return c;
}

int sl_ctrl_rpc_client_send(struct sl_ctrl_rpc_client *c, int32_t node_id,
                            struct sl_md_request *req)
{
    if (c->closing) {
        return -ESHUTDOWN;
    }
    struct peer *p = NULL;
    for (int i = 0; i < c->peer_count; i++) {
        if (c->peers[i].node_id == node_id) {
            p = &c->peers[i];
        }
    }
    if (p == NULL) {
        return -ENOENT;
    }
    /* Checked here so a request that cannot be encoded never breaks a shared link. */
    if (sl_ctrl_rpc_encode_request(req, 0, c->scratch, sizeof(c->scratch)) == 0) {
        return -EINVAL;
    }
    if (p->link == NULL) {
        int rc = open_link(c, p);
        if (rc != 0) {
            return rc;
        }
    }
    struct link *l = p->link;
    req->correlation_id = c->next_correlation_id++;
    if (l->connected) {
        int rc = write_request(l, req);
        if (rc == -EINVAL || rc == -ENOMEM) {
            return rc;
        }
        if (rc != 0) {
            /* The stream is broken: fail what it holds later, from its callbacks. */
            return -ECONNRESET;
        }
    }
    req->next = NULL;
    if (l->sent_tail != NULL) {
        l->sent_tail->next = req;
    } else {
        l->sent_head = req;
    }
    l->sent_tail = req;
    return 0;
}

void sl_ctrl_rpc_client_expire(struct sl_ctrl_rpc_client *c, int64_t now_ms)
{
    for (int i = 0; i < c->peer_count; i++) {
        struct link *l = c->peers[i].link;
        if (l == NULL) {
            continue;
        }
        for (struct sl_md_request *req = l->sent_head; req != NULL; req = req->next) {
            if (req->deadline_ms <= now_ms) {
                fail_link(l, -ETIMEDOUT);
                break;
            }
        }
    }
}

void sl_ctrl_rpc_client_fail_others(struct sl_ctrl_rpc_client *c, int32_t keep_node_id)
{
    for (int i = 0; i < c->peer_count; i++) {
        struct link *l = c->peers[i].link;
        if (l != NULL && c->peers[i].node_id != keep_node_id && l->sent_head != NULL) {
            fail_link(l, -ECONNABORTED);
        }
    }
}

void sl_ctrl_rpc_client_close(struct sl_ctrl_rpc_client *c)
{
    if (c == NULL) {
        return;
    }
    c->closing = true;
    for (int i = 0; i < c->peer_count; i++) {
        if (c->peers[i].link != NULL) {
            fail_link(c->peers[i].link, -ECANCELED);
        }
    }
}

void sl_ctrl_rpc_client_free(struct sl_ctrl_rpc_client *c)
{
    if (c == NULL) {
        return;
    }
    SL_ASSERT(c->closing);
    free(c);
}
