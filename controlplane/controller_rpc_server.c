#include "controlplane/controller_rpc_server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sl_assert.h"
#include "common/sl_bytes.h"
#include "controlplane/controller_rpc_codec.h"

/* A response is a few hundred bytes (the error message is at most 255). */
#define RESPONSE_BYTES_MAX 512

struct connection {
    struct sl_ctrl_rpc_server *server;
    uv_tcp_t *tcp; /* raft_malloc'd by the transport */
    uint8_t header[4];
    size_t header_read;
    uint8_t *frame; /* size field + body of the frame being read */
    uint32_t body_bytes;
    uint32_t body_read;
    uint32_t inflight;
    bool reading;
    bool closing;
    bool handle_closed;
    struct connection *prev, *next;
};

struct call {
    struct sl_md_request req; /* first: on_done gets &req */
    struct connection *conn;
    uint32_t correlation_id;
};

struct response_write {
    uv_write_t write;
    struct connection *conn;
    uint8_t bytes[RESPONSE_BYTES_MAX];
};

struct sl_ctrl_rpc_server {
    uv_loop_t *loop;
    struct sl_ctrl_rpc_server_options options;
    struct connection *connections;
    uint32_t connection_count;
    bool closing;
    struct sl_ctrl_rpc_server_stats stats; /* relaxed atomics */
};

static void count(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* ---- connection lifetime ---- */

static void maybe_free_connection(struct connection *c)
{
    if (!c->handle_closed || c->inflight > 0) {
        return;
    }
    struct sl_ctrl_rpc_server *s = c->server;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->connections = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    SL_ASSERT(s->connection_count > 0);
    s->connection_count--;
    free(c->frame);
    free(c);
}

static void connection_handle_closed(uv_handle_t *handle)
{
    struct connection *c = handle->data;
    raft_free(c->tcp);
    c->tcp = NULL;
    c->handle_closed = true;
    maybe_free_connection(c);
}

static void close_connection(struct connection *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    uv_close((uv_handle_t *)c->tcp, connection_handle_closed);
}

static void bad_frame(struct connection *c, const char *why)
{
    count(&c->server->stats.bad_frames);
    fprintf(stderr, "sluiced: controller rpc: closing a connection: %s\n", why);
    close_connection(c);
}

/* ---- responses ---- */

static void response_written(uv_write_t *w, int status)
{
    struct response_write *rw = (struct response_write *)w;
    if (status != 0 && !rw->conn->closing) {
        close_connection(rw->conn);
    }
    free(rw);
}

static void read_some(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void alloc_read(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);

static void call_done(struct sl_md_request *req, void *arg)
{
    struct call *call = arg;
    struct connection *c = call->conn;
    SL_ASSERT(c->inflight > 0);
    if (!c->closing) {
        struct response_write *rw = malloc(sizeof(*rw));
        size_t n = rw != NULL ? sl_ctrl_rpc_encode_response(req, call->correlation_id, rw->bytes,
                                                            sizeof(rw->bytes))
                              : 0;
        SL_ASSERT(rw == NULL || n > 0); /* every result fits RESPONSE_BYTES_MAX */
        if (rw != NULL) {
            rw->conn = c;
            uv_buf_t b = uv_buf_init((char *)rw->bytes, (unsigned)n);
            if (uv_write(&rw->write, (uv_stream_t *)c->tcp, &b, 1, response_written) != 0) {
                free(rw);
                close_connection(c);
            } else {
                count(&c->server->stats.responses);
            }
        } else {
            close_connection(c); /* out of memory: the client retries elsewhere */
        }
    }
    c->inflight--;
    free(call);
    if (c->closing) {
        maybe_free_connection(c);
    } else if (!c->reading && c->inflight < c->server->options.inflight_max) {
        c->reading = uv_read_start((uv_stream_t *)c->tcp, alloc_read, read_some) == 0;
    }
}

/* ---- requests ---- */

static bool handle_frame(struct connection *c)
{
    size_t len = 4 + (size_t)c->body_bytes;
    struct call *call = malloc(sizeof(*call));
    if (call == NULL) {
        close_connection(c);
        return false;
    }
    enum sl_ctrl_rpc_kind kind;
    if (sl_ctrl_rpc_decode_header(c->frame, len, &kind, &call->correlation_id) != 0 ||
        sl_ctrl_rpc_decode_request(c->frame, len, &call->req) != 0) {
        free(call);
        bad_frame(c, "malformed request frame");
        return false;
    }
    call->conn = c;
    call->req.on_done = call_done;
    call->req.on_done_arg = call;
    c->inflight++;
    count(&c->server->stats.requests);
    if (c->inflight >= c->server->options.inflight_max && c->reading) {
        uv_read_stop((uv_stream_t *)c->tcp);
        c->reading = false;
    }
    c->server->options.execute(c->server->options.execute_arg, &call->req);
    return !c->closing;
}

/* Where the next bytes of the stream go: exactly the rest of the size field, then
 * exactly the rest of the frame, so a read never spans two frames. */
static uv_buf_t next_buffer(struct connection *c)
{
    if (c->header_read < sizeof(c->header)) {
        return uv_buf_init((char *)c->header + c->header_read,
                           (unsigned)(sizeof(c->header) - c->header_read));
    }
    return uv_buf_init((char *)c->frame + 4 + c->body_read, c->body_bytes - c->body_read);
}

/* Accounts for n bytes placed at next_buffer(); false when the connection is closing. */
static bool advance(struct connection *c, size_t n)
{
    if (c->header_read < sizeof(c->header)) {
        c->header_read += n;
        if (c->header_read < sizeof(c->header)) {
            return true;
        }
        uint32_t size = sl_load_be32(c->header);
        if (size < SL_CTRL_RPC_HEADER_BYTES - 4 || size > SL_CTRL_RPC_FRAME_BYTES_MAX - 4) {
            bad_frame(c, "frame size out of bounds");
            return false;
        }
        c->frame = malloc(4 + (size_t)size);
        if (c->frame == NULL) {
            close_connection(c);
            return false;
        }
        memcpy(c->frame, c->header, 4);
        c->body_bytes = size;
        c->body_read = 0;
        return true;
    }
    c->body_read += (uint32_t)n;
    if (c->body_read < c->body_bytes) {
        return true;
    }
    bool ok = handle_frame(c);
    free(c->frame);
    c->frame = NULL;
    c->header_read = 0;
    return ok;
}

static void alloc_read(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    *buf = next_buffer(handle->data);
}

static void read_some(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct connection *c = stream->data;
    (void)buf;
    if (nread == 0 || c->closing) {
        return;
    }
    if (nread < 0) {
        close_connection(c); /* EOF or reset: the peer is gone */
        return;
    }
    advance(c, (size_t)nread);
}

/* ---- server ---- */

struct sl_ctrl_rpc_server *sl_ctrl_rpc_server_new(uv_loop_t *loop,
                                                  const struct sl_ctrl_rpc_server_options *o)
{
    SL_ASSERT(o->connections_max > 0 && o->inflight_max > 0 && o->execute != NULL);
    struct sl_ctrl_rpc_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->loop = loop;
    s->options = *o;
    return s;
}

static void refused_closed(uv_handle_t *handle)
{
    raft_free(handle);
}

void sl_ctrl_rpc_server_adopt(struct sl_ctrl_rpc_server *s, uv_tcp_t *tcp, const uint8_t *head,
                              size_t head_len)
{
    struct connection *c = NULL;
    if (!s->closing && s->connection_count < s->options.connections_max) {
        c = calloc(1, sizeof(*c));
    }
    if (c == NULL) {
        count(&s->stats.connections_refused);
        uv_close((uv_handle_t *)tcp, refused_closed);
        return;
    }
    count(&s->stats.connections_accepted);
    c->server = s;
    c->tcp = tcp;
    tcp->data = c;
    c->next = s->connections;
    if (c->next != NULL) {
        c->next->prev = c;
    }
    s->connections = c;
    s->connection_count++;
    /* The transport read up to a raft preamble's worth: at most two small frames. */
    while (head_len > 0) {
        uv_buf_t b = next_buffer(c);
        size_t k = head_len < b.len ? head_len : b.len;
        memcpy(b.base, head, k);
        head += k;
        head_len -= k;
        if (!advance(c, k)) {
            return;
        }
    }
    /* A request answered at once may have started reading already (call_done). */
    if (!c->reading && c->inflight < s->options.inflight_max) {
        c->reading = uv_read_start((uv_stream_t *)tcp, alloc_read, read_some) == 0;
        if (!c->reading) {
            close_connection(c);
        }
    }
}

void sl_ctrl_rpc_server_close(struct sl_ctrl_rpc_server *s)
{
    if (s == NULL) {
        return;
    }
    s->closing = true;
    for (struct connection *c = s->connections; c != NULL; c = c->next) {
        close_connection(c);
    }
}

void sl_ctrl_rpc_server_free(struct sl_ctrl_rpc_server *s)
{
    if (s == NULL) {
        return;
    }
    SL_ASSERT(s->closing);
    /* The loop has finished, so every handle is closed; a connection can only remain when
     * a request it carried never completed (raft dropped it at close). */
    while (s->connections != NULL) {
        struct connection *c = s->connections;
        SL_ASSERT(c->handle_closed);
        s->connections = c->next;
        free(c->frame);
        free(c);
    }
    free(s);
}

void sl_ctrl_rpc_server_get_stats(const struct sl_ctrl_rpc_server *s,
                                  struct sl_ctrl_rpc_server_stats *out)
{
    out->connections_accepted = __atomic_load_n(&s->stats.connections_accepted, __ATOMIC_RELAXED);
    out->connections_refused = __atomic_load_n(&s->stats.connections_refused, __ATOMIC_RELAXED);
    out->bad_frames = __atomic_load_n(&s->stats.bad_frames, __ATOMIC_RELAXED);
    out->requests = __atomic_load_n(&s->stats.requests, __ATOMIC_RELAXED);
    out->responses = __atomic_load_n(&s->stats.responses, __ATOMIC_RELAXED);
}
