#include "sn_zinit.h"

#include <stdlib.h>
#include <string.h>

#include "sn_buf.h"
#include "sn_list.h"
#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

#include "sn_zinit_text.h"
#include "sn_zparse.h"

#define SN_ZINIT_TICK_MS 100
#define SN_ZINIT_TIMEOUT_MS 5000
#define SN_ZINIT_BACKOFF_MAX 5000

typedef struct sn_zreq {
  sn_list link;
  json_int_t id;
  sn_zinit_cb cb;
  void *ud;
  uint64_t deadline_ms;
} sn_zreq;

struct sn_zinit {
  sn_node *n;
  int proto;            /* SN_ZPROTO_* (auto resolves at the first connection) */
  char config_dir[256]; /* text protocol: where service files go */
  sn_list text_pending; /* text protocol: one connection per request */
  char socket[256];
  uv_pipe_t pipe;
  uv_connect_t creq;
  uv_timer_t timer;
  int pipe_open, connected, closing, timer_open;
  unsigned backoff_ms;
  uint64_t retry_at_ms;
  sn_buf rx;
  json_int_t next_id;
  sn_list pending;
};

static void sn__up(sn_zinit *z);

static void sn__fail_all(sn_zinit *z, const char *why) {
  sn_list *pos, *tmp;
  json_t *err = json_pack("{s:i, s:s}", "code", -1, "message", why);
  sn_list_foreach(pos, tmp, &z->pending) {
    sn_zreq *r = sn_list_entry(pos, sn_zreq, link);
    sn_list_remove(&r->link);
    if (r->cb)
      r->cb(z, NULL, err, r->ud);
    free(r);
  }
  json_decref(err);
}

static void sn__pipe_closed(uv_handle_t *h) {
  sn_zinit *z = h->data;
  z->pipe_open = 0;
  sn_buf_reset(&z->rx);
  if (z->closing && !z->timer_open && sn_list_empty(&z->text_pending)) {
    sn_buf_free(&z->rx);
    free(z);
  }
}

static void sn__drop(sn_zinit *z, const char *why) {
  if (z->connected)
    sn_log(SN_LOG_WARN, NULL, "zinit %s: %s", z->socket, why);
  z->connected = 0;
  z->retry_at_ms = sn_now_ms() + z->backoff_ms;
  z->backoff_ms = sn_backoff_next(z->backoff_ms, SN_ZINIT_BACKOFF_MAX);
  if (z->pipe_open && !uv_is_closing((uv_handle_t *)&z->pipe))
    uv_close((uv_handle_t *)&z->pipe, sn__pipe_closed);
  sn__fail_all(z, why);
}

static void sn__reply(sn_zinit *z, const char *line, size_t len) {
  sn_zreply m;
  sn_list *pos, *tmp;
  if (sn_zreply_parse(line, len, &m) == 0 && z->proto == SN_ZPROTO_AUTO && m.jsonrpc) {
    z->proto = SN_ZPROTO_JSONRPC;
    sn_log(SN_LOG_INFO, NULL, "zinit %s speaks JSON-RPC", z->socket);
    sn_zreply_free(&m);
    sn__up(z);
    return;
  }
  sn_list_foreach(pos, tmp, &z->pending) {
    sn_zreq *r = sn_list_entry(pos, sn_zreq, link);
    if (m.has_id && m.id == r->id) {
      sn_list_remove(&r->link);
      if (r->cb)
        r->cb(z, m.result, m.error, r->ud);
      free(r);
      break;
    }
  }
  sn_zreply_free(&m);
}

static void sn__alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  sn_zinit *z = h->data;
  (void)n;
  sn_buf_reserve(&z->rx, 65536);
  *b = uv_buf_init(sn_buf_data(&z->rx) + z->rx.len, 65536);
}

static void sn__read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  sn_zinit *z = s->data;
  char *start, *nl;
  (void)b;
  if (n < 0 && z->proto == SN_ZPROTO_AUTO) {
    /* The one-line protocol answers our JSON-RPC probe with an error and
     * hangs up: this is zinit 0.2.14 or earlier. */
    sn_log(SN_LOG_INFO, NULL, "zinit %s speaks the text protocol", z->socket);
    z->proto = SN_ZPROTO_TEXT;
    z->connected = 0;
    sn__fail_all(z, "switching to the text protocol");
    if (!uv_is_closing((uv_handle_t *)&z->pipe))
      uv_close((uv_handle_t *)&z->pipe, sn__pipe_closed);
    return;
  }
  if (n < 0) {
    sn__drop(z, "connection closed");
    return;
  }
  z->rx.len += (size_t)n;
  start = sn_buf_data(&z->rx);
  /* Replies end with a newline; JSON text holds none of its own. */
  while ((nl = memchr(start, '\n', (size_t)(sn_buf_data(&z->rx) + z->rx.len - start))) != NULL) {
    sn__reply(z, start, (size_t)(nl - start));
    start = nl + 1;
    if (!z->pipe_open || !z->connected)
      return; /* a callback dropped the connection */
  }
  size_t rest = (size_t)(sn_buf_data(&z->rx) + z->rx.len - start);
  memmove(sn_buf_data(&z->rx), start, rest);
  z->rx.len = rest;
}

static void sn__written(uv_write_t *w, int status);

/* The connection works: tasks waiting for zinit may go on. */
static void sn__up(sn_zinit *z) {
  z->connected = 1;
  sn_log(SN_LOG_INFO, NULL, "zinit %s connected", z->socket);
  sn_zinit_reconnected(z->n);
}

static void sn__connected(uv_connect_t *req, int status) {
  sn_zinit *z = req->data;
  if (status != 0) {
    sn__drop(z, uv_strerror(status));
    return;
  }
  z->backoff_ms = 100;
  uv_read_start((uv_stream_t *)&z->pipe, sn__alloc, sn__read);
  if (z->proto == SN_ZPROTO_AUTO) {
    /* Ask which protocol: a JSON-RPC zinit answers, an older one hangs up. */
    const char probe[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"rpc.discover\",\"params\":[]}\n";
    uv_write_t *w = sn_malloc(sizeof(*w));
    char *copy = sn_strdup(probe);
    uv_buf_t b = uv_buf_init(copy, (unsigned)strlen(copy));
    w->data = copy;
    uv_write(w, (uv_stream_t *)&z->pipe, &b, 1, sn__written);
    return;
  }
  sn__up(z);
}

static void sn__connect(sn_zinit *z) {
  uv_pipe_init(z->n->loop, &z->pipe, 0);
  z->pipe.data = z;
  z->pipe_open = 1;
  z->creq.data = z;
  uv_pipe_connect(&z->creq, &z->pipe, z->socket, sn__connected);
}

static void sn__tick(uv_timer_t *t) {
  sn_zinit *z = t->data;
  uint64_t now = sn_now_ms();
  sn_list *pos, *tmp;
  if (z->proto == SN_ZPROTO_TEXT) {
    sn_ztext_tick(z, now);
    if (z->connected)
      sn_zinit_poll(z->n);
    return;
  }
  if (!z->connected && !z->pipe_open && now >= z->retry_at_ms)
    sn__connect(z);
  sn_list_foreach(pos, tmp, &z->pending) {
    sn_zreq *r = sn_list_entry(pos, sn_zreq, link);
    if (now >= r->deadline_ms) {
      sn__drop(z, "a request timed out");
      return;
    }
  }
  if (z->connected)
    sn_zinit_poll(z->n);
}

sn_zinit *sn_zinit_new(sn_node *n, const char *socket_path, int proto, const char *config_dir) {
  sn_zinit *z = sn_calloc(1, sizeof(*z));
  z->n = n;
  z->proto = proto;
  snprintf(z->socket, sizeof(z->socket), "%s", socket_path);
  snprintf(z->config_dir, sizeof(z->config_dir), "%s", config_dir ? config_dir : "/etc/zinit");
  sn_buf_init(&z->rx, 0);
  sn_list_init(&z->pending);
  sn_list_init(&z->text_pending);
  z->backoff_ms = 100;
  uv_timer_init(n->loop, &z->timer);
  z->timer.data = z;
  z->timer_open = 1;
  uv_timer_start(&z->timer, sn__tick, 0, SN_ZINIT_TICK_MS);
  return z;
}

static void sn__timer_closed(uv_handle_t *h) {
  sn_zinit *z = h->data;
  z->timer_open = 0;
  if (!z->pipe_open && sn_list_empty(&z->text_pending)) {
    sn_buf_free(&z->rx);
    free(z);
  }
}

void sn_zinit_close(sn_zinit *z) {
  if (z == NULL)
    return;
  z->closing = 1;
  sn__fail_all(z, "the node shuts down");
  sn_ztext_close_all(z);
  uv_close((uv_handle_t *)&z->timer, sn__timer_closed);
  if (z->pipe_open && !uv_is_closing((uv_handle_t *)&z->pipe))
    uv_close((uv_handle_t *)&z->pipe, sn__pipe_closed);
}

int sn_zinit_up(const sn_zinit *z) { return z && z->connected && !z->closing; }
const char *sn_zinit_socket(const sn_zinit *z) { return z->socket; }

static void sn__written(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

int sn_zinit_call(sn_zinit *z, const char *method, json_t *params, sn_zinit_cb cb, void *ud) {
  json_t *req;
  char *s;
  uv_write_t *w;
  sn_zreq *r;
  if (!sn_zinit_up(z)) {
    json_decref(params);
    return -1;
  }
  if (z->proto == SN_ZPROTO_TEXT)
    return sn_ztext_call(z, method, params, cb, ud);
  req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", ++z->next_id, "method", method, "params", params);
  s = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  r = sn_calloc(1, sizeof(*r));
  r->id = z->next_id;
  r->cb = cb;
  r->ud = ud;
  r->deadline_ms = sn_now_ms() + SN_ZINIT_TIMEOUT_MS;
  sn_list_push(&z->pending, &r->link);
  w = sn_malloc(sizeof(*w));
  w->data = s;
  uv_buf_t b = uv_buf_init(s, (unsigned)strlen(s));
  if (uv_write(w, (uv_stream_t *)&z->pipe, &b, 1, sn__written) != 0) {
    free(s);
    free(w);
    sn__drop(z, "write failed");
    return -1;
  }
  return 0;
}

void sn_zinit_forget(sn_zinit *z, void *ud) {
  sn_list *pos, *tmp;
  if (z == NULL)
    return;
  sn_ztext_forget(z, ud);
  sn_list_foreach(pos, tmp, &z->pending) {
    sn_zreq *r = sn_list_entry(pos, sn_zreq, link);
    if (r->ud == ud)
      r->cb = NULL;
  }
}

/* ---- for the text protocol (sn_zinit_text.c) ---- */
sn_node *sn_zinit_node(sn_zinit *z) { return z->n; }
sn_list *sn_zinit_text_list(sn_zinit *z) { return &z->text_pending; }
const char *sn_zinit_config_dir(const sn_zinit *z) { return z->config_dir; }
int sn_zinit_closing(const sn_zinit *z) { return z->closing; }

void sn_zinit_text_state(sn_zinit *z, int up) {
  if (up && !z->connected) {
    z->backoff_ms = 100;
    sn__up(z);
  } else if (!up && z->connected) {
    sn_log(SN_LOG_WARN, NULL, "zinit %s: not reachable", z->socket);
    z->connected = 0;
  }
  if (!up) {
    z->retry_at_ms = sn_now_ms() + z->backoff_ms;
    z->backoff_ms = sn_backoff_next(z->backoff_ms, SN_ZINIT_BACKOFF_MAX);
  }
}

uint64_t sn_zinit_retry_at(const sn_zinit *z) { return z->retry_at_ms; }

void sn_zinit_maybe_free(sn_zinit *z) {
  if (z->closing && !z->timer_open && !z->pipe_open && sn_list_empty(&z->text_pending)) {
    sn_buf_free(&z->rx);
    free(z);
  }
}
