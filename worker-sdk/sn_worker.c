/* The worker: one websocket connection to the node's /w/ch on a libuv loop,
 * with hello/welcome, batched puts, heartbeats, pings, commands and jobs, and
 * reconnection with backoff. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "sn_wframe.h"
#include "sn_win.h"
#include "sn_wqueue.h"
#include "sn_wtls.h"
#include "supernode/worker.h"
#include <stddef.h>

#define SN_W_WQ_HIGH (4u << 20) /* stop batching into the socket above this much unsent */

enum sn_wstate { SN_W_IDLE, SN_W_RESOLVING, SN_W_CONNECTING, SN_W_HANDSHAKE, SN_W_HELLO, SN_W_OPEN,
                 SN_W_WAIT, SN_W_STOPPING, SN_W_CLOSED };

typedef struct sn_wwrite {
  uv_write_t req;
  size_t len;
  unsigned char data[];
} sn_wwrite;

struct sn_worker {
  char *host, *port, *path, *task_id, *token, *kind, *start_params;
  int use_tls;        /* wss:// */
  char *ca_file;      /* trust anchors for wss://, NULL = the system's */
  sn_wtls *tls;       /* this connection's TLS session, NULL before it / for ws:// */
  int tls_ready;      /* handshake done: the upgrade request went out */
  unsigned char *crx; /* ciphertext read buffer (wss://) */
  int accept_tasks;
  unsigned max_jobs;  /* told in hello: jobs the node may send at once */
  size_t batch_items, batch_bytes;
  unsigned flush_ms, reconnect_max_ms;
  uv_loop_t *loop;
  uv_loop_t own_loop;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai;
  uv_timer_t retry_timer, flush_timer, hb_timer;
  int state;
  int tcp_open, gai_active, timers_open, stopping;
  unsigned backoff_ms;
  uint64_t hb_interval_ms, last_tx_ms;
  unsigned char *rx;
  size_t rx_len, rx_cap;
  sn_wasm msg;        /* a fragmented message being assembled */
  int corked;         /* inside a read: frames wait in cork, one write at the end */
  sn_wwrite *cork;    /* those frames, owned; NULL when none */
  size_t cork_cap;
  unsigned char mask_pool[256]; /* random bytes for frame masks, taken 4 at a time */
  size_t mask_used;
  sn_wqueue q;
  uint64_t sent, reconnects, connects;
  char last_error[256];
  int probe;        /* health-check mode: hello asks for a probe answer */
  int finishing;    /* stop once the buffer has been sent */
  int probe_ok;
  sn_worker_cmd_cb on_cmd;
  sn_worker_job_cb on_job;
  sn_worker_event_cb on_stop, on_connect, on_closed;
  sn_worker_cancel_cb on_cancel;
  void *cmd_ud, *job_ud, *stop_ud, *connect_ud, *closed_ud, *cancel_ud;
};

static const char *const sn__errtext[] = {
#define XX(name, code, text) text,
    SN_WORKER_ERRNO_MAP(XX)
#undef XX
};

const char *sn_worker_strerror(int err) {
  if (err == 0)
    return "ok";
  if (err < 0 && -err <= (int)(sizeof(sn__errtext) / sizeof(sn__errtext[0])))
    return sn__errtext[-err - 1];
  return "unknown error";
}

static char *sn__dup(const char *s) {
  return s ? strdup(s) : NULL;
}

/* Splits ws://HOST:PORT/PATH or wss://HOST:PORT/PATH. */
static int sn__parse_url(sn_worker *w, const char *url) {
  const char *h, *colon, *slash;
  if (strncmp(url, "ws://", 5) == 0)
    h = url + 5;
  else if (strncmp(url, "wss://", 6) == 0)
    h = url + 6, w->use_tls = 1;
  else
    return SN_WORKER_EURL;
  slash = strchr(h, '/');
  if (slash == NULL)
    slash = h + strlen(h);
  colon = memchr(h, ':', (size_t)(slash - h));
  if (h[0] == '[') { /* [v6]:port */
    const char *rb = memchr(h, ']', (size_t)(slash - h));
    if (rb == NULL || rb[1] != ':')
      return SN_WORKER_EURL;
    w->host = strndup(h + 1, (size_t)(rb - h - 1));
    colon = rb + 1;
  } else {
    if (colon == NULL)
      return SN_WORKER_EURL;
    w->host = strndup(h, (size_t)(colon - h));
  }
  w->port = strndup(colon + 1, (size_t)(slash - colon - 1));
  w->path = strdup(*slash ? slash : "/w/ch");
  return w->host && w->port && w->path && w->port[0] ? 0 : SN_WORKER_EURL;
}

sn_worker *sn_worker_new(const sn_worker_opts *o, int *err) {
  sn_worker *w;
  int rc;
  if (err)
    *err = 0;
  if (o == NULL || o->url == NULL || o->task_id == NULL || o->task_id[0] == '\0') {
    if (err)
      *err = SN_WORKER_EINVAL;
    return NULL;
  }
  if ((w = calloc(1, sizeof(*w))) == NULL) {
    if (err)
      *err = SN_WORKER_ENOMEM;
    return NULL;
  }
  sn_wasm_init(&w->msg);
  if ((rc = sn__parse_url(w, o->url)) != 0 ||
      sn_wqueue_init(&w->q, o->buffer_items ? o->buffer_items : 10000) != 0) {
    if (err)
      *err = rc ? rc : SN_WORKER_ENOMEM;
    free(w->host);
    free(w->port);
    free(w->path);
    free(w);
    return NULL;
  }
  w->task_id = sn__dup(o->task_id);
  w->ca_file = sn__dup(o->ca_file);
  w->token = sn__dup(o->token);
  w->kind = sn__dup(o->kind);
  w->start_params = strdup(o->start_params ? o->start_params : "");
  w->accept_tasks = o->accept_tasks;
  w->max_jobs = 1;
  w->mask_used = sizeof(w->mask_pool); /* empty: filled on first use */
  w->batch_items = o->batch_items ? o->batch_items : 1000;
  w->batch_bytes = o->batch_bytes ? o->batch_bytes : 256 * 1024;
  w->flush_ms = o->flush_ms ? o->flush_ms : 2;
  w->reconnect_max_ms = o->reconnect_max_ms ? o->reconnect_max_ms : 5000;
  w->backoff_ms = 100;
  return w;
}

sn_worker *sn_worker_from_env(int *err) {
  sn_worker_opts o;
  memset(&o, 0, sizeof(o));
  o.url = getenv("SUPERNODE_URL");
  o.task_id = getenv("SUPERNODE_TASK_ID");
  o.token = getenv("SUPERNODE_TOKEN");
  o.start_params = getenv("SUPERNODE_START_PARAMS");
  o.ca_file = getenv("SUPERNODE_CA_FILE");
  if (o.url == NULL || o.task_id == NULL) {
    if (err)
      *err = SN_WORKER_ENOENV;
    return NULL;
  }
  return sn_worker_new(&o, err);
}

int sn_worker_free(sn_worker *w) {
  if (w == NULL)
    return 0;
  if (w->loop && w->state != SN_W_CLOSED)
    return SN_WORKER_ESTATE;
  sn_wqueue_free(&w->q);
  free(w->host);
  free(w->port);
  free(w->path);
  free(w->task_id);
  free(w->token);
  free(w->kind);
  free(w->start_params);
  free(w->ca_file);
  free(w->rx);
  free(w->cork);
  free(w->crx);
  sn_wasm_free(&w->msg);
  free(w);
  return 0;
}

/* ---- writing ---- */

static uint64_t sn__now(sn_worker *w) { return uv_now(w->loop); }

static void sn__written(uv_write_t *req, int status) {
  (void)status; /* a failed write shows up as a read error, then a reconnect */
  free((sn_wwrite *)req); /* req is the first member */
}

/* Four random bytes for a frame's mask. They come from getrandom 256 at a
 * time: one system call per frame was a tenth of a small job's cost. */
static void sn__mask(sn_worker *w, unsigned char mask[4]) {
  if (w->mask_used + 4 > sizeof(w->mask_pool)) {
    if (getrandom(w->mask_pool, sizeof(w->mask_pool), 0) != (ssize_t)sizeof(w->mask_pool))
      memset(w->mask_pool, 0x5a, sizeof(w->mask_pool)); /* masks need not be secret from the node */
    w->mask_used = 0;
  }
  memcpy(mask, w->mask_pool + w->mask_used, 4);
  w->mask_used += 4;
}

/* Allocates a write of a masked frame with room for len payload bytes;
 * the caller fills sn__payload() and calls sn__send(). */
static sn_wwrite *sn__frame(sn_worker *w, int opcode, size_t len, size_t *hl) {
  unsigned char mask[4], hdr[SN_WFRAME_HDR_MAX];
  sn_wwrite *wr;
  sn__mask(w, mask);
  *hl = sn_wframe_header(hdr, opcode, len, mask);
  if ((wr = malloc(sizeof(*wr) + *hl + len)) == NULL)
    return NULL;
  memcpy(wr->data, hdr, *hl);
  wr->len = *hl + len;
  return wr;
}

/* Hands bytes to the socket; takes wr. */
static int sn__write_raw(sn_worker *w, sn_wwrite *wr) {
  uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)wr->len);
  if (uv_write(&wr->req, (uv_stream_t *)&w->tcp, &b, 1, sn__written) != 0) {
    free(wr);
    return SN_WORKER_EIO;
  }
  return 0;
}

/* Sends what TLS has ready for the wire (handshake records, ciphertext). */
static int sn__tls_flush(sn_worker *w) {
  size_t n;
  sn_wwrite *wr = (sn_wwrite *)sn_wtls_take(w->tls, &n, offsetof(sn_wwrite, data));
  if (wr == NULL)
    return 0;
  wr->len = n;
  return sn__write_raw(w, wr);
}

/* While a read is being handled, frames go into one buffer and out in one
 * write when it is done (sn__uncork): the results of the several jobs one read
 * brings leave in one send, not one each. Past this much, out at once. */
#define SN_W_CORK_MAX (256u << 10)

static int sn__out(sn_worker *w, sn_wwrite *wr);

static int sn__uncork(sn_worker *w) {
  sn_wwrite *wr = w->cork;
  int corked = w->corked, rc;
  w->cork = NULL;
  w->cork_cap = 0;
  if (wr == NULL)
    return 0;
  if (!w->tcp_open || uv_is_closing((uv_handle_t *)&w->tcp)) {
    free(wr);
    return SN_WORKER_ESTATE;
  }
  w->corked = 0; /* this one goes out, even from inside a read */
  rc = sn__out(w, wr);
  w->corked = corked;
  return rc;
}

/* Appends wr's bytes to the cork; takes wr. */
static int sn__cork_add(sn_worker *w, sn_wwrite *wr) {
  size_t have = w->cork ? w->cork->len : 0;
  if (w->cork == NULL && wr->len >= SN_W_CORK_MAX / 4) {
    w->cork = wr; /* big: becomes the cork itself, no copy */
    w->cork_cap = wr->len;
    return 0;
  }
  if (have + wr->len > w->cork_cap) {
    size_t cap = w->cork_cap ? w->cork_cap : 4096;
    sn_wwrite *grown;
    while (cap < have + wr->len)
      cap *= 2;
    if ((grown = realloc(w->cork, sizeof(*grown) + cap)) == NULL) {
      free(wr);
      return SN_WORKER_ENOMEM;
    }
    if (w->cork == NULL)
      grown->len = 0;
    w->cork = grown;
    w->cork_cap = cap;
  }
  memcpy(w->cork->data + w->cork->len, wr->data, wr->len);
  w->cork->len += wr->len;
  free(wr);
  return 0;
}

/* Plaintext out: straight to the socket, or through TLS; takes wr. */
static int sn__out(sn_worker *w, sn_wwrite *wr) {
  int rc;
  if (w->corked) {
    if ((rc = sn__cork_add(w, wr)) != 0 || w->cork->len < SN_W_CORK_MAX)
      return rc;
    return sn__uncork(w);
  }
  if (w->tls == NULL)
    return sn__write_raw(w, wr);
  rc = sn_wtls_write(w->tls, wr->data, wr->len);
  free(wr);
  return rc != 0 ? SN_WORKER_EIO : sn__tls_flush(w);
}

static int sn__send(sn_worker *w, sn_wwrite *wr, size_t hl) {
  int rc;
  sn_wframe_mask(wr->data + hl, wr->len - hl, wr->data + hl - 4);
  if ((rc = sn__out(w, wr)) != 0)
    return rc;
  w->last_tx_ms = sn__now(w);
  return 0;
}

static int sn__send_bytes(sn_worker *w, int opcode, const void *p, size_t len) {
  size_t hl;
  sn_wwrite *wr;
  if (!w->tcp_open)
    return SN_WORKER_ESTATE;
  if ((wr = sn__frame(w, opcode, len, &hl)) == NULL)
    return SN_WORKER_ENOMEM;
  memcpy(wr->data + hl, p, len);
  return sn__send(w, wr, hl);
}

static int sn__send_json(sn_worker *w, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT);
  int rc;
  json_decref(o);
  if (s == NULL)
    return SN_WORKER_ENOMEM;
  rc = sn__send_bytes(w, SN_WS_TEXT, s, strlen(s));
  free(s);
  return rc;
}

/* One put frame from the oldest buffered items: a binary item alone, or up to
 * batch_items JSON items (batch_bytes) as {"type":"put","items":[...]}. */
static int sn__send_batch(sn_worker *w) {
  static const char one_pre[] = "{\"type\":\"put\",\"data\":", many_pre[] = "{\"type\":\"put\",\"items\":[";
  sn_witem *it = sn_wqueue_at(&w->q, 0);
  size_t k = 0, bytes = 0, hl, len, off;
  sn_wwrite *wr;
  if (it->bin) {
    if (sn__send_bytes(w, SN_WS_BINARY, it->data, it->len) != 0)
      return -1;
    sn_wqueue_pop(&w->q, 1);
    w->sent++;
    return 0;
  }
  while ((it = sn_wqueue_at(&w->q, k)) != NULL && !it->bin && k < w->batch_items &&
         (k == 0 || bytes + it->len <= w->batch_bytes)) {
    bytes += it->len;
    k++;
  }
  len = (k == 1 ? sizeof(one_pre) - 1 + 1 : sizeof(many_pre) - 1 + 2 + (k - 1)) + bytes;
  if ((wr = sn__frame(w, SN_WS_TEXT, len, &hl)) == NULL)
    return -1;
  off = hl;
  memcpy(wr->data + off, k == 1 ? one_pre : many_pre, k == 1 ? sizeof(one_pre) - 1 : sizeof(many_pre) - 1);
  off += k == 1 ? sizeof(one_pre) - 1 : sizeof(many_pre) - 1;
  for (size_t i = 0; i < k; i++) {
    it = sn_wqueue_at(&w->q, i);
    if (i)
      wr->data[off++] = ',';
    memcpy(wr->data + off, it->data, it->len);
    off += it->len;
  }
  if (k > 1)
    wr->data[off++] = ']';
  wr->data[off++] = '}';
  if (sn__send(w, wr, hl) != 0)
    return -1;
  sn_wqueue_pop(&w->q, k);
  w->sent += k;
  return 0;
}

static void sn__flush(sn_worker *w, int all);
static void sn__flush_cb(uv_timer_t *t) { sn__flush(t->data, 0); }

/* Sends buffered puts while connected and the socket keeps up (all = ignore
 * the high-water mark, when stopping). */
static void sn__flush(sn_worker *w, int all) {
  while (w->state == SN_W_OPEN && w->q.n > 0 &&
         (all || uv_stream_get_write_queue_size((uv_stream_t *)&w->tcp) < SN_W_WQ_HIGH))
    if (sn__send_batch(w) != 0)
      break;
  /* Still more than the socket takes: try again shortly. */
  if (w->state == SN_W_OPEN && w->q.n > 0 && !uv_is_active((uv_handle_t *)&w->flush_timer))
    uv_timer_start(&w->flush_timer, sn__flush_cb, 1, 0);
}

/* ---- connection lifecycle ---- */

static void sn__connect(sn_worker *w);
static void sn__maybe_closed(sn_worker *w);

static void sn__retry_cb(uv_timer_t *t) { sn__connect(t->data); }

static void sn__tcp_closed(uv_handle_t *h) {
  sn_worker *w = h->data;
  w->tcp_open = 0;
  w->rx_len = 0;
  sn_wtls_free(w->tls);
  w->tls = NULL;
  w->tls_ready = 0;
  sn_wasm_free(&w->msg);
  if (w->stopping) {
    sn__maybe_closed(w);
    return;
  }
  /* Reconnect with backoff: 100 ms doubling to reconnect_max_ms. */
  w->state = SN_W_WAIT;
  uv_timer_start(&w->retry_timer, sn__retry_cb, w->backoff_ms, 0);
  w->backoff_ms = w->backoff_ms * 2 > w->reconnect_max_ms ? w->reconnect_max_ms : w->backoff_ms * 2;
}

/* Drops the connection; buffered puts stay for the next one. */
static void sn__drop(sn_worker *w) {
  if (!w->stopping)
    w->state = SN_W_WAIT; /* puts from now on stay in the buffer */
  uv_timer_stop(&w->hb_timer);
  uv_timer_stop(&w->flush_timer);
  if (w->tcp_open && !uv_is_closing((uv_handle_t *)&w->tcp))
    uv_close((uv_handle_t *)&w->tcp, sn__tcp_closed);
}

static void sn__hb_cb(uv_timer_t *t) {
  sn_worker *w = t->data;
  if (w->state == SN_W_OPEN && sn__now(w) - w->last_tx_ms >= w->hb_interval_ms / 2)
    sn__send_bytes(w, SN_WS_TEXT, "{\"type\":\"hb\"}", 13);
}

static void sn__hello(sn_worker *w) {
  json_t *h = json_pack("{s:s, s:s, s:I, s:b}", "type", "hello", "task_id", w->task_id, "pid",
                        (json_int_t)getpid(), "accept_tasks", w->accept_tasks);
  if (w->token)
    json_object_set_new(h, "token", json_string(w->token));
  if (w->kind)
    json_object_set_new(h, "kind", json_string(w->kind));
  if (w->probe)
    json_object_set_new(h, "probe", json_true());
  if (w->max_jobs > 1)
    json_object_set_new(h, "max_jobs", json_integer((json_int_t)w->max_jobs));
  w->state = SN_W_HELLO;
  sn__send_json(w, h);
}

static void sn__welcome(sn_worker *w, const sn_win *m) {
  if (m->start_params) {
    free(w->start_params);
    w->start_params = strdup(m->start_params);
  }
  w->hb_interval_ms = m->hb_ms;
  w->state = SN_W_OPEN;
  w->backoff_ms = 100;
  w->last_error[0] = '\0';
  if (w->connects++ > 0)
    w->reconnects++;
  if (w->hb_interval_ms)
    uv_timer_start(&w->hb_timer, sn__hb_cb, w->hb_interval_ms / 2 ? w->hb_interval_ms / 2 : 1,
                   w->hb_interval_ms / 2 ? w->hb_interval_ms / 2 : 1);
  if (w->on_connect)
    w->on_connect(w, w->connect_ud);
  if (w->finishing)
    sn_worker_stop(w);
  else
    sn__flush(w, 0);
}

static void sn__act(sn_worker *w, const sn_win *m) {
  switch (m->type) {
  case SN_WIN_WELCOME:
    return sn__welcome(w, m);
  case SN_WIN_CMD:
    if (w->on_cmd)
      w->on_cmd(w, m->member, m->member_len, w->cmd_ud);
    return;
  case SN_WIN_JOB:
    if (w->on_job)
      w->on_job(w, m->job_id, m->member, m->member_len, w->job_ud);
    else
      sn_worker_job_done(w, m->job_id, 0, NULL, "this worker takes no jobs");
    return;
  case SN_WIN_CANCEL:
    if (m->job_id && w->on_cancel)
      w->on_cancel(w, m->job_id, w->cancel_ud);
    return;
  case SN_WIN_PING:
    sn__send_json(w, json_pack("{s:s, s:O}", "type", "pong", "job_id", m->ping_id ? m->ping_id : json_null()));
    return;
  case SN_WIN_STOP:
    if (w->on_stop)
      w->on_stop(w, w->stop_ud);
    else
      sn_worker_stop(w);
    return;
  case SN_WIN_PROBE:
    w->probe_ok = m->connected;
    sn_worker_stop(w);
    return;
  case SN_WIN_ERROR:
    snprintf(w->last_error, sizeof(w->last_error), "%s", m->error);
    return;
  default:
    return;
  }
}

static void sn__message(sn_worker *w, const char *p, size_t len) {
  sn_win m;
  if (sn_win_parse(p, len, &m) == 0)
    sn__act(w, &m);
  sn_win_free(&m);
}

/* Handles one frame; returns -1 when the connection must go. */
static int sn__frame_in(sn_worker *w, const sn_wframe *f, const unsigned char *p) {
  switch (f->opcode) {
  case SN_WS_PING:
    return sn__send_bytes(w, SN_WS_PONG, p, f->payload_len) ? -1 : 0;
  case SN_WS_PONG:
    return 0;
  case SN_WS_CLOSE:
    return -1;
  case SN_WS_TEXT:
  case SN_WS_BINARY:
  case SN_WS_CONT: {
    const unsigned char *m;
    size_t len;
    int op, rc = sn_wasm_feed(&w->msg, f, p, &m, &len, &op);
    if (rc == 1 && op == SN_WS_TEXT)
      sn__message(w, (const char *)m, len);
    return rc < 0 ? -1 : 0;
  }
  default:
    return -1;
  }
}

/* Consumes the HTTP response to the upgrade; 1 done, 0 need more, -1 refused. */
static int sn__handshake(sn_worker *w) {
  unsigned char *end = memmem(w->rx, w->rx_len, "\r\n\r\n", 4);
  size_t n;
  if (end == NULL)
    return w->rx_len > 16384 ? -1 : 0;
  if (w->rx_len < 12 || memcmp(w->rx + 9, "101", 3) != 0) {
    /* The status line only, so last_error is one line (the \r of the \r\n\r\n found above bounds the scan). */
    size_t line = strcspn((const char *)w->rx, "\r\n");
    snprintf(w->last_error, sizeof(w->last_error), "upgrade refused: %.*s", (int)(line < 60 ? line : 60),
             (const char *)w->rx);
    return -1;
  }
  n = (size_t)(end + 4 - w->rx);
  memmove(w->rx, w->rx + n, w->rx_len - n);
  w->rx_len -= n;
  sn__hello(w);
  return 1;
}

static void sn__parse_rx(sn_worker *w) {
  size_t off = 0;
  sn_wframe f;
  int rc;
  if (w->state == SN_W_HANDSHAKE && (rc = sn__handshake(w)) <= 0) {
    if (rc < 0)
      sn__drop(w);
    return;
  }
  while (w->tcp_open && !uv_is_closing((uv_handle_t *)&w->tcp) &&
         (rc = sn_wframe_parse(w->rx + off, w->rx_len - off, &f)) == 1) {
    if (sn__frame_in(w, &f, w->rx + off + f.header_len) != 0) {
      sn__drop(w);
      return;
    }
    off += f.header_len + f.payload_len;
  }
  if (rc < 0) {
    sn__drop(w);
    return;
  }
  memmove(w->rx, w->rx + off, w->rx_len - off);
  w->rx_len -= off;
}

/* Room for n more plaintext bytes in rx; 0 or -1. */
static int sn__rx_room(sn_worker *w, size_t n) {
  if (w->rx_cap - w->rx_len < n) {
    unsigned char *p = realloc(w->rx, w->rx_cap + n);
    if (p == NULL)
      return -1;
    w->rx = p;
    w->rx_cap += n;
  }
  return 0;
}

static void sn__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sn_worker *w = h->data;
  (void)suggested;
  if (w->use_tls) { /* ciphertext goes to its own buffer, plaintext to rx */
    if (w->crx == NULL)
      w->crx = malloc(65536);
    *buf = uv_buf_init((char *)w->crx, w->crx ? 65536 : 0);
    return;
  }
  if (w->rx_cap - w->rx_len < 65536) {
    unsigned char *p = realloc(w->rx, w->rx_cap + 65536);
    if (p == NULL) {
      *buf = uv_buf_init(NULL, 0);
      return;
    }
    w->rx = p;
    w->rx_cap += 65536;
  }
  *buf = uv_buf_init((char *)w->rx + w->rx_len, (unsigned)(w->rx_cap - w->rx_len));
}

static int sn__upgrade(sn_worker *w);

/* wss://: ciphertext in; the handshake, then plaintext into rx. 0, or -1 to drop. */
static int sn__tls_in(sn_worker *w, const void *p, size_t n) {
  long got;
  if (sn_wtls_feed(w->tls, p, n) != 0)
    return -1;
  if (!w->tls_ready) {
    int rc = sn_wtls_handshake(w->tls, w->last_error, sizeof(w->last_error));
    if (rc < 0 || sn__tls_flush(w) != 0)
      return -1;
    if (rc == 0)
      return 0;
    w->tls_ready = 1;
    if (sn__upgrade(w) != 0)
      return -1;
  }
  for (;;) {
    if (sn__rx_room(w, 16384) != 0)
      return -1;
    if ((got = sn_wtls_read(w->tls, w->rx + w->rx_len, w->rx_cap - w->rx_len)) <= 0)
      return got < 0 ? -1 : sn__tls_flush(w) == 0 ? 0 : -1;
    w->rx_len += (size_t)got;
  }
}

static void sn__read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  sn_worker *w = s->data;
  if (n < 0) {
    sn__drop(w);
    return;
  }
  if (w->tls) {
    if (sn__tls_in(w, buf->base, (size_t)n) != 0) {
      sn__drop(w);
      return;
    }
  } else {
    w->rx_len += (size_t)n;
  }
  w->corked = 1;
  sn__parse_rx(w);
  w->corked = 0;
  sn__uncork(w); /* a failed write shows up as a read error, then a reconnect */
}

/* The websocket upgrade request, once the connection (and TLS) is up. */
static int sn__upgrade(sn_worker *w) {
  char head[1024];
  int n = snprintf(head, sizeof(head),
                   "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: c3VwZXJub2RlLXdvcmtlcg==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   w->path, w->host, w->port);
  sn_wwrite *wr = malloc(sizeof(*wr) + (size_t)n);
  if (wr == NULL)
    return -1;
  memcpy(wr->data, head, (size_t)n);
  wr->len = (size_t)n;
  return sn__out(w, wr);
}

static void sn__connected(uv_connect_t *req, int status) {
  sn_worker *w = req->data;
  if (status != 0 || w->stopping) {
    snprintf(w->last_error, sizeof(w->last_error), "connect: %s", uv_strerror(status));
    sn__drop(w);
    return;
  }
  uv_tcp_nodelay(&w->tcp, 1);
  w->state = SN_W_HANDSHAKE;
  if (w->use_tls) { /* the ClientHello first; the upgrade once the handshake is done */
    w->last_error[0] = '\0';
    if ((w->tls = sn_wtls_new(w->host, w->ca_file, w->last_error, sizeof(w->last_error))) == NULL ||
        sn_wtls_handshake(w->tls, w->last_error, sizeof(w->last_error)) < 0 || sn__tls_flush(w) != 0) {
      sn__drop(w);
      return;
    }
  } else if (sn__upgrade(w) != 0) {
    sn__drop(w);
    return;
  }
  if (uv_read_start((uv_stream_t *)&w->tcp, sn__alloc, sn__read) != 0)
    sn__drop(w);
}

static void sn__resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  sn_worker *w = req->data;
  w->gai_active = 0;
  if (w->stopping) {
    uv_freeaddrinfo(res);
    sn__maybe_closed(w);
    return;
  }
  if (status != 0 || res == NULL) {
    snprintf(w->last_error, sizeof(w->last_error), "resolve %s: %s", w->host, uv_strerror(status));
    uv_freeaddrinfo(res);
    w->tcp_open = 1; /* so that the retry path runs through sn__tcp_closed */
    uv_tcp_init(w->loop, &w->tcp);
    w->tcp.data = w;
    sn__drop(w);
    return;
  }
  uv_tcp_init(w->loop, &w->tcp);
  w->tcp.data = w;
  w->tcp_open = 1;
  w->state = SN_W_CONNECTING;
  w->connect_req.data = w;
  if (uv_tcp_connect(&w->connect_req, &w->tcp, res->ai_addr, sn__connected) != 0)
    sn__drop(w);
  uv_freeaddrinfo(res);
}

static void sn__connect(sn_worker *w) {
  struct addrinfo hints;
  if (w->stopping)
    return;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  w->state = SN_W_RESOLVING;
  w->gai.data = w;
  if (uv_getaddrinfo(w->loop, &w->gai, sn__resolved, w->host, w->port, &hints) == 0)
    w->gai_active = 1;
  else
    uv_timer_start(&w->retry_timer, sn__retry_cb, w->backoff_ms, 0);
}

/* ---- attach, run, stop ---- */

static void sn__timer_closed(uv_handle_t *h) {
  sn_worker *w = h->data;
  w->timers_open--;
  sn__maybe_closed(w);
}

static void sn__maybe_closed(sn_worker *w) {
  if (w->state == SN_W_CLOSED || w->tcp_open || w->gai_active)
    return;
  if (w->timers_open == 3) {
    uv_close((uv_handle_t *)&w->retry_timer, sn__timer_closed);
    uv_close((uv_handle_t *)&w->flush_timer, sn__timer_closed);
    uv_close((uv_handle_t *)&w->hb_timer, sn__timer_closed);
    return;
  }
  if (w->timers_open > 0)
    return;
  w->state = SN_W_CLOSED;
  if (w->on_closed)
    w->on_closed(w, w->closed_ud);
}

int sn_worker_attach(sn_worker *w, uv_loop_t *loop) {
  if (w == NULL || loop == NULL)
    return SN_WORKER_EINVAL;
  if (w->loop)
    return SN_WORKER_ESTATE;
  w->loop = loop;
  uv_timer_init(loop, &w->retry_timer);
  uv_timer_init(loop, &w->flush_timer);
  uv_timer_init(loop, &w->hb_timer);
  w->retry_timer.data = w->flush_timer.data = w->hb_timer.data = w;
  w->timers_open = 3;
  sn__connect(w);
  return 0;
}

int sn_worker_run(sn_worker *w) {
  int rc;
  if (w == NULL)
    return SN_WORKER_EINVAL;
  if (w->loop)
    return SN_WORKER_ESTATE;
  /* A write to a connection the node closed must not kill a simple worker. */
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&w->own_loop) != 0)
    return SN_WORKER_ENOMEM;
  if ((rc = sn_worker_attach(w, &w->own_loop)) != 0)
    return rc;
  uv_run(&w->own_loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->own_loop);
  return 0;
}

static void sn__shut(uv_shutdown_t *req, int status) {
  sn_worker *w = req->data;
  (void)status;
  free(req);
  sn__drop(w);
}

int sn_worker_stop(sn_worker *w) {
  if (w == NULL || w->loop == NULL)
    return SN_WORKER_ESTATE;
  if (w->stopping)
    return 0;
  w->stopping = 1;
  uv_timer_stop(&w->retry_timer);
  if (w->gai_active)
    uv_cancel((uv_req_t *)&w->gai);
  if (w->state == SN_W_OPEN) {
    uv_shutdown_t *req = malloc(sizeof(*req));
    sn__flush(w, 1);
    sn__send_bytes(w, SN_WS_CLOSE, "\x03\xe8", 2);
    sn__uncork(w); /* stopping from inside a read: what it wrote goes before the shutdown */
    if (w->tls) {
      sn_wtls_shutdown(w->tls);
      sn__tls_flush(w);
    }
    w->state = SN_W_STOPPING;
    if (req && uv_shutdown(req, (uv_stream_t *)&w->tcp, sn__shut) == 0) {
      req->data = w;
      return 0;
    }
    free(req);
  }
  w->state = SN_W_STOPPING;
  sn__drop(w);
  sn__maybe_closed(w);
  return 0;
}

int sn_worker_finish(sn_worker *w) {
  if (w == NULL || w->loop == NULL)
    return SN_WORKER_ESTATE;
  if (w->state == SN_W_OPEN || w->q.n == 0)
    return sn_worker_stop(w);
  w->finishing = 1; /* stop right after the next welcome */
  return 0;
}

/* ---- puts and replies ---- */

static void sn__queued(sn_worker *w) {
  if (w->state != SN_W_OPEN)
    return;
  if (w->q.n >= w->batch_items || w->q.bytes >= w->batch_bytes)
    sn__flush(w, 0);
  else if (!uv_is_active((uv_handle_t *)&w->flush_timer))
    uv_timer_start(&w->flush_timer, sn__flush_cb, w->flush_ms, 0);
}

int sn_worker_put_json(sn_worker *w, const char *json, size_t len) {
  if (w == NULL || json == NULL || len == 0)
    return SN_WORKER_EINVAL;
  if (w->stopping)
    return SN_WORKER_ESTATE;
  if (sn_wqueue_push(&w->q, json, len, 0) != 0)
    return SN_WORKER_ENOMEM;
  sn__queued(w);
  return 0;
}

int sn_worker_put_value(sn_worker *w, const json_t *value) {
  char *s;
  int rc;
  if (w == NULL || value == NULL)
    return SN_WORKER_EINVAL;
  if ((s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
    return SN_WORKER_ENOMEM;
  rc = sn_worker_put_json(w, s, strlen(s));
  free(s);
  return rc;
}

int sn_worker_put_bytes(sn_worker *w, const void *buf, size_t len) {
  if (w == NULL || (buf == NULL && len > 0))
    return SN_WORKER_EINVAL;
  if (w->stopping)
    return SN_WORKER_ESTATE;
  if (sn_wqueue_push(&w->q, buf, len, 1) != 0)
    return SN_WORKER_ENOMEM;
  sn__queued(w);
  return 0;
}

int sn_worker_flush(sn_worker *w) {
  if (w == NULL)
    return SN_WORKER_EINVAL;
  sn__flush(w, 0);
  return 0;
}

static int sn__send_open(sn_worker *w, json_t *o) {
  if (w == NULL || w->state != SN_W_OPEN) {
    json_decref(o);
    return SN_WORKER_ESTATE;
  }
  return sn__send_json(w, o);
}

int sn_worker_job_done(sn_worker *w, const char *job_id, int ok, const char *output_json, const char *error) {
  json_t *o, *out = NULL;
  if (job_id == NULL)
    return SN_WORKER_EINVAL;
  if (ok && output_json && (out = json_loads(output_json, JSON_DECODE_ANY, NULL)) == NULL)
    return SN_WORKER_EINVAL;
  o = json_pack("{s:s, s:s, s:b}", "type", "result", "job_id", job_id, "ok", ok);
  if (ok)
    json_object_set_new(o, "output", out ? out : json_null());
  else
    json_object_set_new(o, "error", json_string(error ? error : "failed"));
  return sn__send_open(w, o);
}

int sn_worker_job_partial(sn_worker *w, const char *job_id, const char *data_json) {
  json_t *d;
  if (job_id == NULL || data_json == NULL || (d = json_loads(data_json, JSON_DECODE_ANY, NULL)) == NULL)
    return SN_WORKER_EINVAL;
  return sn__send_open(w, json_pack("{s:s, s:s, s:o}", "type", "partial", "job_id", job_id, "data", d));
}

int sn_worker_log(sn_worker *w, const char *level, const char *msg) {
  if (level == NULL || msg == NULL)
    return SN_WORKER_EINVAL;
  return sn__send_open(w, json_pack("{s:s, s:s, s:s}", "type", "log", "level", level, "msg", msg));
}

/* ---- accessors ---- */

void sn_worker_on_cmd(sn_worker *w, sn_worker_cmd_cb cb, void *ud) { w->on_cmd = cb, w->cmd_ud = ud; }
void sn_worker_on_job(sn_worker *w, sn_worker_job_cb cb, void *ud) { w->on_job = cb, w->job_ud = ud; }
void sn_worker_on_stop(sn_worker *w, sn_worker_event_cb cb, void *ud) { w->on_stop = cb, w->stop_ud = ud; }
void sn_worker_on_connect(sn_worker *w, sn_worker_event_cb cb, void *ud) { w->on_connect = cb, w->connect_ud = ud; }
void sn_worker_on_closed(sn_worker *w, sn_worker_event_cb cb, void *ud) { w->on_closed = cb, w->closed_ud = ud; }
void sn_worker_on_cancel(sn_worker *w, sn_worker_cancel_cb cb, void *ud) { w->on_cancel = cb, w->cancel_ud = ud; }

int sn_worker_set_max_jobs(sn_worker *w, unsigned n) {
  if (n < 1 || n > 1024) /* the node's bound for a hello's max_jobs */
    return SN_WORKER_EINVAL;
  w->max_jobs = n;
  return 0;
}

void sn_worker_stats_get(const sn_worker *w, sn_worker_stats *out) {
  memset(out, 0, sizeof(*out));
  out->sent = w->sent;
  out->buffered = w->q.n;
  out->dropped = w->q.dropped;
  out->reconnects = w->reconnects;
  out->connected = w->state == SN_W_OPEN;
  if (w->tcp_open)
    out->write_queue = uv_stream_get_write_queue_size((const uv_stream_t *)&w->tcp);
}

const char *sn_worker_start_params(const sn_worker *w) { return w->start_params; }
const char *sn_worker_task_id(const sn_worker *w) { return w->task_id; }
const char *sn_worker_last_error(const sn_worker *w) { return w->last_error[0] ? w->last_error : NULL; }

/* ---- health check helper ---- */

static void sn__hc_timeout(uv_timer_t *t) { sn_worker_stop(t->data); }

int sn_worker_health_check(unsigned timeout_ms) {
  uv_loop_t loop;
  uv_timer_t timer;
  int err = 0, ok;
  sn_worker *w = sn_worker_from_env(&err);
  if (w == NULL)
    return 1;
  w->probe = 1;
  w->reconnect_max_ms = 100;
  signal(SIGPIPE, SIG_IGN);
  if (uv_loop_init(&loop) != 0) {
    sn_worker_free(w);
    return 1;
  }
  uv_timer_init(&loop, &timer);
  timer.data = w;
  uv_timer_start(&timer, sn__hc_timeout, timeout_ms ? timeout_ms : 3000, 0);
  sn_worker_attach(w, &loop);
  /* Run until the worker closed, then close the timer too. */
  while (w->state != SN_W_CLOSED && uv_run(&loop, UV_RUN_ONCE))
    ;
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  ok = w->probe_ok;
  sn_worker_free(w);
  return ok ? 0 : 1;
}
