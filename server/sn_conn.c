/* Connections: lifetime, the outbound frame queue, and pending replies. */
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"
#include "sn_wsout.h"

/* A client that sends commands and never reads replies is paused at this much
 * queued output, so the node never buffers without bound for one connection. */
#define SN_OUTQ_PAUSE_BYTES (4u << 20)

sn_conn *sn_conn_new(sn_node *n, struct lws *wsi, int role) {
  sn_conn *c = sn_calloc(1, sizeof(*c));
  c->node = n;
  c->wsi = wsi;
  c->refs = 1;
  c->role = role;
  sn_buf_init(&c->rx, 0);
  sn_buf_init(&c->http_resp, LWS_PRE);
  sn_buf_init(&c->frame, LWS_PRE);
  sn_list_init(&c->outq);
  sn_list_init(&c->fetch_link);
  sn_list_init(&c->flush_link);
  c->batch = 1;
  sn_list_push(&n->conns, &c->link);
  n->nconns++;
  return c;
}

void sn_conn_ref(sn_conn *c) { c->refs++; }

static void sn__conn_free(sn_conn *c) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &c->outq) {
    sn_list_remove(pos);
    free(sn_list_entry(pos, sn_frame, link));
  }
  sn_buf_free(&c->rx);
  sn_buf_free(&c->http_resp);
  sn_buf_free(&c->frame);
  json_decref(c->cursors);
  free(c->leases);
  free(c->upgrade_token);
  free(c);
}

void sn_conn_unref(sn_conn *c) {
  if (--c->refs == 0)
    sn__conn_free(c);
}

void sn_conn_detach(sn_conn *c) {
  if (c->wsi == NULL)
    return;
  if (c->role == SN_ROLE_WS_WCH)
    sn_wch_closed(c);
  sn_fetch_closed(c);
  sn_jobs_conn_closed(c);
  sn_pools_conn_closed(c);
  sn_list_remove(&c->flush_link);
  c->wsi = NULL;
  sn_list_remove(&c->link);
  c->node->nconns--;
  sn_node_poke(c->node); /* shutdown waits for connections to go */
  sn_conn_unref(c);
}

/* A connection asked to write is written at the end of the loop turn, once
 * its input is read (sn_conn_flush), when the socket is likely to take it;
 * only what the socket does not take waits for lws's writable callback. That
 * callback costs a poll round and four epoll_ctl through lws-uv (arming
 * POLLOUT and clearing it, each a uv_poll_start: DEL and ADD), per frame for
 * a reader of one item per frame, and a turn asks many times (a frame per job
 * dispatched to a worker, a wake per put for each fetcher). The mark clears
 * when the connection is written, so an ask after that counts again. */
void sn_conn_want_write(sn_conn *c) {
  sn_node *n = c->node;
  if (c->wake_turn == n->turn)
    return;
  c->wake_turn = n->turn;
  if (c->role == SN_ROLE_HTTP || !uv_is_active((const uv_handle_t *)&n->flush_check)) {
    lws_callback_on_writable(c->wsi); /* (the node is past its end: no flush comes) */
  } else if (c == n->flushing) {
    n->flush_more = 1;
  } else if (!sn_list_linked(&c->flush_link)) {
    sn_list_push(&n->flushq, &c->flush_link);
  }
}

int sn_conn_writeable(sn_conn *c) {
  c->wake_turn = 0; /* asked for and served: the next ask counts */
  if (c->role == SN_ROLE_WS_FETCH || c->role == SN_ROLE_WS_FETCH_ALL)
    return sn_fetch_writeable(c) < 0 ? -1 : 0;
  return sn_conn_write_queued(c) < 0 ? -1 : 0;
}

/* Writes c while it has more ready and the socket takes it all, up to
 * SN_FLUSH_WRITES writes (of up to SN_WSOUT_MAX each): then the loop reads
 * its sockets before the next, in c's writable callback. A connection that
 * is closing, or whose last write lws still holds in part, waits for the
 * callback as before: the close handshake and the rest of a partial write are
 * lws's to order. */
#define SN_FLUSH_WRITES 4

static void sn__flush_one(sn_node *n, sn_conn *c) {
  for (int w = 0; c->wsi; w++) {
    int rc;
    if (c->close_code || lws_partial_buffered(c->wsi) || w == SN_FLUSH_WRITES) {
      c->wake_turn = n->turn;
      lws_callback_on_writable(c->wsi);
      return;
    }
    n->flushing = c;
    n->flush_more = 0;
    rc = sn_conn_writeable(c);
    n->flushing = NULL;
    if (rc < 0) { /* the callback's -1: lws hangs up, not here in its loop */
      lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
      return;
    }
    if (!n->flush_more)
      return;
  }
}

void sn_conn_flush(sn_node *n) {
  while (!sn_list_empty(&n->flushq)) {
    sn_conn *c = sn_list_entry(n->flushq.next, sn_conn, flush_link);
    sn_list_remove(&c->flush_link);
    sn__flush_one(n, c);
  }
}

void sn_conn_send(sn_conn *c, const void *data, size_t len, int binary) {
  sn_frame *f;
  if (c->wsi == NULL || c->close_code)
    return;
  f = sn_malloc(sizeof(*f) + LWS_PRE + len);
  f->len = len;
  f->binary = binary;
  memcpy(f->buf + LWS_PRE, data, len);
  sn_list_push(&c->outq, &f->link);
  c->outq_bytes += len;
  if (c->outq_bytes > SN_OUTQ_PAUSE_BYTES && !c->rx_paused) {
    c->rx_paused = 1;
    lws_rx_flow_control(c->wsi, 0);
  }
  sn_conn_want_write(c);
}

void sn_conn_send_json(sn_conn *c, json_t *obj) {
  char *s = sn_json_dumps_safe(obj);
  sn_conn_send(c, s, strlen(s), 0);
  free(s);
  json_decref(obj);
}

void sn_conn_send_error(sn_conn *c, int code, const char *msg, int close_code) {
  sn_conn_send_json(c, sn_err_json(code, msg, 1));
  if (close_code)
    sn_conn_close(c, close_code);
}

void sn_conn_close(sn_conn *c, int close_code) {
  if (c->wsi == NULL || c->close_code)
    return;
  c->close_code = close_code;
  sn_conn_want_write(c);
}

void sn_conn_close_not_utf8(sn_conn *c) {
  sn_log(SN_LOG_INFO, c->task ? c->task->conf.task_id : NULL, "text message is not UTF-8: closing with 1007");
  sn_conn_close(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD);
}

/* lws 4.1.6 hangs up without the close frame set by lws_close_reason, both
 * when a WRITEABLE callback returns -1 and on an async kill (measured with
 * strace). So the node writes the close frame itself, with the opcode lws
 * uses internally for it (LWS_WRITE_CLOSE, 4, private in 4.1), and hangs up
 * on the next callback. */
#define SN_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

static int sn__write_close(sn_conn *c) {
  unsigned char buf[LWS_PRE + 2];
  if (c->close_sent)
    return -1;
  c->close_sent = 1;
  buf[LWS_PRE] = (unsigned char)(c->close_code >> 8);
  buf[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
  if (lws_write(c->wsi, buf + LWS_PRE, 2, SN_LWS_WRITE_CLOSE) < 0)
    return -1;
  sn_conn_want_write(c);
  return 1;
}

/* Frames the queued messages that fit in SN_WSOUT_MAX into the node's scratch
 * buffer and writes them as one (sn_wsout.h). Returns how many it took: 0 when
 * the first one alone is too big, and then it goes through lws_write. */
static int sn__write_coalesced(sn_conn *c) {
  sn_buf *b = &c->node->wout;
  sn_list *pos, *tmp;
  int taken = 0;
  sn_buf_reset(b);
  sn_list_foreach(pos, tmp, &c->outq) {
    sn_frame *f = sn_list_entry(pos, sn_frame, link);
    if (b->len + SN_WSOUT_HDR_MAX + f->len > SN_WSOUT_MAX)
      break;
    sn_wsout_append(b, f->buf + LWS_PRE, f->len, f->binary);
    sn_list_remove(&f->link);
    c->outq_bytes -= f->len;
    free(f);
    taken++;
  }
  if (taken == 0)
    return 0;
  /* LWS_WRITE_RAW: lws sends the bytes as they are, keeping what the socket
   * did not take and sending it before anything else. */
  if (lws_write(c->wsi, (unsigned char *)sn_buf_data(b), b->len, LWS_WRITE_RAW) < 0)
    return -1;
  return taken; /* b stays allocated: it never grows past 2 * SN_WSOUT_MAX */
}

static int sn__write_one(sn_conn *c) {
  sn_frame *f = sn_list_entry(c->outq.next, sn_frame, link);
  int n;
  sn_list_remove(&f->link);
  c->outq_bytes -= f->len;
  n = lws_write(c->wsi, f->buf + LWS_PRE, f->len, f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
  free(f);
  return n < 0 ? -1 : 1;
}

int sn_conn_write_queued(sn_conn *c) {
  int n = 0;
  if (sn_list_empty(&c->outq)) {
    if (c->close_code)
      return sn__write_close(c);
    return 0;
  }
  if (c->outq.next->next != &c->outq) /* two or more waiting */
    n = sn__write_coalesced(c);
  if (n == 0)
    n = sn__write_one(c);
  if (n < 0)
    return -1;
  if (c->rx_paused && c->outq_bytes < SN_OUTQ_PAUSE_BYTES / 2) {
    c->rx_paused = 0;
    if (!c->fair_paused) /* its fetchers may still hold it (sn_fair.c) */
      lws_rx_flow_control(c->wsi, 1);
  }
  if (!sn_list_empty(&c->outq) || c->close_code)
    sn_conn_want_write(c);
  return 1;
}

/* ---- pending replies ---- */

sn_req *sn_req_new(sn_conn *conn, const json_t *id) {
  sn_req *r = sn_calloc(1, sizeof(*r));
  r->conn = conn;
  sn_conn_ref(conn);
  r->id = id ? json_deep_copy(id) : NULL;
  sn_list_init(&r->link);
  return r;
}

void sn_req_hold(sn_req *req) {
  if (req->conn->wsi && req->conn->role == SN_ROLE_HTTP)
    lws_set_timeout(req->conn->wsi, NO_PENDING_TIMEOUT, 0);
}

static void sn__req_send(sn_req *req, int status, json_t *reply) {
  sn_conn *c = req->conn;
  if (req->id && reply)
    json_object_set(reply, "id", req->id);
  if (c->wsi != NULL) {
    char *s = sn_json_dumps_safe(reply);
    if (reply == NULL)
      status = 500;
    if (c->role == SN_ROLE_HTTP)
      sn_http_respond(c, status, s, strlen(s));
    else
      sn_conn_send(c, s, strlen(s), 0);
    free(s);
  }
  json_decref(reply);
  sn_list_remove(&req->link);
  json_decref(req->id);
  sn_conn_unref(c);
  free(req);
}

void sn_req_ok(sn_req *req, json_t *members) {
  json_t *reply = json_object();
  json_object_set_new(reply, "ok", json_true());
  if (members) {
    json_object_update(reply, members);
    json_decref(members);
  }
  sn__req_send(req, 200, reply);
}

void sn_req_ok_with(sn_req *req, const char *key, json_t *value) {
  json_t *reply;
  if (value == NULL) /* a json_pack or to_json that failed: say so, never crash */
    return sn_req_fail(req, SN_EINTERNAL, "the reply could not be built");
  reply = json_object();
  json_object_set_new(reply, "ok", json_true());
  json_object_set_new(reply, key, value);
  sn__req_send(req, 200, reply);
}

void sn_req_fail(sn_req *req, int code, const char *msg) {
  sn__req_send(req, sn_err_http(code), sn_err_json(code, msg, 0));
}
