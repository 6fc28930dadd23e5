#include "controlplane/controller_transport.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/sl_assert.h"
#include "controlplane/config.h"

/* libraft's handshake: protocol version, server id, address length (u64 each, LE). */
#define RAFT_HANDSHAKE_PREAMBLE_BYTES 24
#define RAFT_HANDSHAKE_PROTOCOL       1
/* An address longer than any sluice address (host + ":port", NUL, padding) is refused. */
#define RAFT_HANDSHAKE_ADDRESS_BYTES_MAX (SL_CONFIG_HOST_BYTES_MAX + 16)
#define LISTEN_BACKLOG                   128

struct handshake {
    struct transport *owner;
    uv_tcp_t *tcp; /* raft_malloc'd: libraft frees accepted streams with raft_free */
    uint8_t preamble[RAFT_HANDSHAKE_PREAMBLE_BYTES];
    size_t preamble_read;
    char *address; /* raft_malloc'd once the preamble is complete */
    size_t address_bytes;
    size_t address_read;
    struct handshake *prev, *next;
};

struct transport {
    struct raft_uv_transport *outer;
    struct raft_uv_transport inner; /* raft_uv_tcp: outbound connections */
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listening;
    char bind_address[SL_CONFIG_HOST_BYTES_MAX + 8];
    raft_id id;
    const char *address; /* owned by libraft, stable while raft lives */
    raft_uv_accept_cb accept_cb;
    sl_ctrl_transport_rpc_cb rpc_cb;
    void *rpc_arg;
    struct handshake *handshakes;
    uint32_t handshake_count;
    uint32_t handshakes_max;
    bool closing;
    bool close_fired;
    uint32_t closes_pending;
    raft_uv_transport_close_cb close_cb;
    struct sl_ctrl_transport_stats stats; /* updated with relaxed atomics */
};

static void count(uint64_t *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void maybe_fire_close(struct transport *tr)
{
    if (tr->closing && tr->closes_pending == 0 && !tr->close_fired) {
        tr->close_fired = true;
        if (tr->close_cb != NULL) {
            tr->close_cb(tr->outer);
        }
    }
}

/* ---- handshakes ---- */

static void unlink_handshake(struct handshake *h)
{
    struct transport *tr = h->owner;
    if (h->prev != NULL) {
        h->prev->next = h->next;
    } else {
        tr->handshakes = h->next;
    }
    if (h->next != NULL) {
        h->next->prev = h->prev;
    }
    SL_ASSERT(tr->handshake_count > 0);
    tr->handshake_count--;
}

static void handshake_closed(uv_handle_t *handle)
{
    struct handshake *h = handle->data;
    struct transport *tr = h->owner;
    raft_free(h->address);
    raft_free(h->tcp);
    raft_free(h);
    SL_ASSERT(tr->closes_pending > 0);
    tr->closes_pending--;
    maybe_fire_close(tr);
}

static void abort_handshake(struct handshake *h)
{
    unlink_handshake(h);
    h->owner->closes_pending++;
    uv_close((uv_handle_t *)h->tcp, handshake_closed);
}

static void alloc_handshake(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct handshake *h = handle->data;
    (void)suggested;
    /* Never more than the handshake: the bytes after it belong to libraft's reader. */
    if (h->preamble_read < RAFT_HANDSHAKE_PREAMBLE_BYTES) {
        buf->base = (char *)h->preamble + h->preamble_read;
        buf->len = RAFT_HANDSHAKE_PREAMBLE_BYTES - h->preamble_read;
    } else {
        buf->base = h->address + h->address_read;
        buf->len = h->address_bytes - h->address_read;
    }
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void hand_to_rpc(struct handshake *h)
{
    struct transport *tr = h->owner;
    uv_read_stop((uv_stream_t *)h->tcp);
    unlink_handshake(h);
    count(&tr->stats.rpc_accepted);
    uv_tcp_t *tcp = h->tcp;
    tcp->data = NULL;
    uint8_t head[RAFT_HANDSHAKE_PREAMBLE_BYTES];
    size_t head_len = h->preamble_read;
    memcpy(head, h->preamble, head_len);
    raft_free(h);
    tr->rpc_cb(tr->rpc_arg, tcp, head, head_len);
}

static void hand_to_raft(struct handshake *h)
{
    struct transport *tr = h->owner;
    uv_read_stop((uv_stream_t *)h->tcp);
    unlink_handshake(h);
    count(&tr->stats.raft_accepted);
    h->address[h->address_bytes - 1] = '\0'; /* checked to hold a NUL; make it last */
    raft_id id = load_le64(h->preamble + 8);
    uv_tcp_t *tcp = h->tcp;
    tcp->data = NULL;
    tr->accept_cb(tr->outer, id, h->address, (uv_stream_t *)tcp);
    raft_free(h->address);
    raft_free(h);
}

/* The preamble is complete: check it and start reading the address. */
static bool preamble_ok(struct handshake *h)
{
    if (load_le64(h->preamble) != RAFT_HANDSHAKE_PROTOCOL) {
        return false;
    }
    uint64_t bytes = load_le64(h->preamble + 16);
    if (bytes == 0 || bytes > RAFT_HANDSHAKE_ADDRESS_BYTES_MAX) {
        return false;
    }
    h->address_bytes = (size_t)bytes;
    h->address = raft_malloc(h->address_bytes);
    return h->address != NULL;
}

static void read_handshake(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct handshake *h = stream->data;
    (void)buf;
    if (nread == 0) {
        return;
    }
    if (nread < 0) {
        abort_handshake(h);
        return;
    }
    if (h->preamble_read < RAFT_HANDSHAKE_PREAMBLE_BYTES) {
        h->preamble_read += (size_t)nread;
        if (h->preamble[0] == 0) {
            hand_to_rpc(h);
            return;
        }
        if (h->preamble[0] != RAFT_HANDSHAKE_PROTOCOL) {
            count(&h->owner->stats.bad_handshakes);
            abort_handshake(h);
            return;
        }
        if (h->preamble_read == RAFT_HANDSHAKE_PREAMBLE_BYTES && !preamble_ok(h)) {
            count(&h->owner->stats.bad_handshakes);
            abort_handshake(h);
        }
        return;
    }
    h->address_read += (size_t)nread;
    if (h->address_read < h->address_bytes) {
        return;
    }
    if (memchr(h->address, 0, h->address_bytes) == NULL) {
        count(&h->owner->stats.bad_handshakes);
        abort_handshake(h);
        return;
    }
    hand_to_raft(h);
}

static void refused_closed(uv_handle_t *handle)
{
    struct transport *tr = handle->data;
    raft_free(handle);
    SL_ASSERT(tr->closes_pending > 0);
    tr->closes_pending--;
    maybe_fire_close(tr);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct transport *tr = server->data;
    if (status != 0 || tr->closing) {
        return;
    }
    uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
    if (tcp == NULL) {
        return; /* stays in the backlog; retried on the next connection */
    }
    uv_tcp_init(tr->loop, tcp);
    if (uv_accept(server, (uv_stream_t *)tcp) != 0 || tr->handshake_count >= tr->handshakes_max) {
        count(&tr->stats.refused_handshakes);
        tcp->data = tr;
        tr->closes_pending++;
        uv_close((uv_handle_t *)tcp, refused_closed);
        return;
    }
    struct handshake *h = raft_calloc(1, sizeof(*h));
    if (h == NULL) {
        tcp->data = tr;
        tr->closes_pending++;
        uv_close((uv_handle_t *)tcp, refused_closed);
        return;
    }
    h->owner = tr;
    h->tcp = tcp;
    tcp->data = h;
    h->next = tr->handshakes;
    if (h->next != NULL) {
        h->next->prev = h;
    }
    tr->handshakes = h;
    tr->handshake_count++;
    uv_tcp_nodelay(tcp, 1);
    if (uv_read_start((uv_stream_t *)tcp, alloc_handshake, read_handshake) != 0) {
        abort_handshake(h);
    }
}

/* ---- struct raft_uv_transport ---- */

static int transport_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct transport *tr = t->impl;
    tr->id = id;
    tr->address = address;
    return tr->inner.init(&tr->inner, id, address);
}

static int resolve_ipv4(const char *host_port, struct sockaddr_storage *out, char *err,
                        size_t err_size)
{
    char host[SL_CONFIG_HOST_BYTES_MAX + 8];
    snprintf(host, sizeof(host), "%s", host_port);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        snprintf(err, err_size, "address '%.200s' is not host:port", host_port);
        return RAFT_INVALID;
    }
    *colon = '\0';
    struct addrinfo hints = {
        .ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, err_size, "cannot resolve '%.200s': %s", host_port, gai_strerror(rc));
        return RAFT_INVALID;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int transport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct transport *tr = t->impl;
    tr->accept_cb = cb;
    const char *where = tr->bind_address[0] != '\0' ? tr->bind_address : tr->address;
    struct sockaddr_storage addr;
    int rc = resolve_ipv4(where, &addr, t->errmsg, sizeof(t->errmsg));
    if (rc != 0) {
        return rc;
    }
    uv_tcp_init(tr->loop, &tr->listener);
    tr->listener.data = tr;
    tr->listening = true;
    rc = uv_tcp_bind(&tr->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&tr->listener, LISTEN_BACKLOG, on_connection);
    }
    if (rc != 0) {
        snprintf(t->errmsg, sizeof(t->errmsg), "cannot listen on %.200s: %s", where,
                 uv_strerror(rc));
        return RAFT_IOERR;
    }
    return 0;
}

static int transport_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                             const char *address, raft_uv_connect_cb cb)
{
    struct transport *tr = t->impl;
    return tr->inner.connect(&tr->inner, req, id, address, cb);
}

static void listener_closed(uv_handle_t *handle)
{
    struct transport *tr = handle->data;
    SL_ASSERT(tr->closes_pending > 0);
    tr->closes_pending--;
    maybe_fire_close(tr);
}

static void inner_closed(struct raft_uv_transport *inner)
{
    struct transport *tr = inner->data;
    SL_ASSERT(tr->closes_pending > 0);
    tr->closes_pending--;
    maybe_fire_close(tr);
}

static void transport_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct transport *tr = t->impl;
    SL_ASSERT(!tr->closing);
    tr->closing = true;
    tr->close_cb = cb;
    while (tr->handshakes != NULL) {
        abort_handshake(tr->handshakes);
    }
    if (tr->listening) {
        tr->closes_pending++;
        uv_close((uv_handle_t *)&tr->listener, listener_closed);
    }
    /* The inner transport may call back before returning. */
    tr->closes_pending++;
    tr->inner.close(&tr->inner, inner_closed);
}

int sl_ctrl_transport_init(struct raft_uv_transport *t, uv_loop_t *loop, const char *bind_address,
                           uint32_t handshakes_max, sl_ctrl_transport_rpc_cb rpc_cb, void *rpc_arg)
{
    SL_ASSERT(rpc_cb != NULL && handshakes_max > 0);
    void *data = t->data;
    memset(t, 0, sizeof(*t));
    t->data = data;
    struct transport *tr = raft_calloc(1, sizeof(*tr));
    if (tr == NULL) {
        return RAFT_NOMEM;
    }
    int rc = raft_uv_tcp_init(&tr->inner, loop);
    if (rc != 0) {
        raft_free(tr);
        return rc;
    }
    tr->inner.data = tr;
    tr->outer = t;
    tr->loop = loop;
    tr->handshakes_max = handshakes_max;
    tr->rpc_cb = rpc_cb;
    tr->rpc_arg = rpc_arg;
    if (bind_address != NULL) {
        snprintf(tr->bind_address, sizeof(tr->bind_address), "%s", bind_address);
    }
    t->impl = tr;
    t->init = transport_init;
    t->listen = transport_listen;
    t->connect = transport_connect;
    t->close = transport_close;
    return 0;
}

void sl_ctrl_transport_free(struct raft_uv_transport *t)
{
    struct transport *tr = t->impl;
    if (tr == NULL) {
        return;
    }
    raft_uv_tcp_close(&tr->inner);
    raft_free(tr);
    t->impl = NULL;
}

void sl_ctrl_transport_get_stats(struct raft_uv_transport *t, struct sl_ctrl_transport_stats *out)
{
    struct transport *tr = t->impl;
    out->raft_accepted = __atomic_load_n(&tr->stats.raft_accepted, __ATOMIC_RELAXED);
    out->rpc_accepted = __atomic_load_n(&tr->stats.rpc_accepted, __ATOMIC_RELAXED);
    out->bad_handshakes = __atomic_load_n(&tr->stats.bad_handshakes, __ATOMIC_RELAXED);
    out->refused_handshakes = __atomic_load_n(&tr->stats.refused_handshakes, __ATOMIC_RELAXED);
}
