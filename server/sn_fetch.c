/* /m/fetch: data streams to readers. Each connection has a cursor into the
 * task's queue and the node writes when the socket is writable, building the
 * frames of one write straight from the items' stored bytes into one buffer
 * (the node's, shared by all connections): no per-reader copy of the queue
 * and never more than one write buffered per reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_url.h"
#include "sn_util.h"
#include "sn_wsout.h"

#define SN_FETCH_FRAME_MIN (64 * 1024)
#define SN_FETCH_HTTP_MIN (1024 * 1024)

/* ---- frame building ---- */

/* Frames are appended to b: into a reader's own buffer, or straight into the
 * node's coalesced write (sn__write_plain). */
static void sn__head(sn_buf *b, const char *type, const char *task_id) {
  sn_buf_puts(b, "{\"type\":\"");
  sn_buf_puts(b, type);
  sn_buf_puts(b, "\",\"task_id\":\"");
  sn_buf_puts(b, task_id); /* task ids need no escaping: [A-Za-z0-9_:-] */
  sn_buf_puts(b, "\"");
}

static void sn__seq_ts(sn_buf *b, const sn_item *it) {
  sn_buf_puts(b, "\"seq\":");
  sn_buf_u64(b, sn_item_seq(it));
  sn_buf_puts(b, ",\"ts_ms\":");
  sn_buf_u64(b, sn_item_ts(it));
}

static void sn__gap_frame(sn_buf *b, const char *task_id, const sn_gap *g) {
  sn__head(b, "gap", task_id);
  sn_buf_puts(b, ",\"from\":");
  sn_buf_u64(b, g->from);
  sn_buf_puts(b, ",\"to\":");
  sn_buf_u64(b, g->to);
  sn_buf_puts(b, "}");
}

static void sn__data_frame(sn_buf *b, const char *task_id, const sn_item *it) {
  sn__head(b, "data", task_id);
  sn_buf_puts(b, ",");
  sn__seq_ts(b, it);
  if (sn_item_bin(it)) {
    sn_buf_puts(b, ",\"bin\":true,\"size\":");
    sn_buf_u64(b, it->len);
    sn_buf_puts(b, "}");
    return;
  }
  sn_buf_puts(b, ",\"data\":");
  sn_buf_append(b, it->data, it->len);
  sn_buf_puts(b, "}");
}

/* ---- consumers: items leave the queue only once delivered ----
 *
 * An item sent to a consumer is leased, not taken: other consumers skip it,
 * and it goes back to them if this connection closes first. Without ?ack=1
 * the lease ends when the frame has been handed to the kernel in full (the
 * next WRITEABLE callback: lws calls it only once its own buffer is empty);
 * with ?ack=1 when the reader acknowledges the seq. */

static void sn__lease(sn_conn *c, sn_task *t, const sn_item *it) {
  if (c->nleases == c->leases_cap) {
    c->leases_cap = c->leases_cap ? c->leases_cap * 2 : 64;
    c->leases = sn_realloc(c->leases, c->leases_cap * sizeof(*c->leases));
  }
  c->leases[c->nleases++] = sn_item_seq(it);
  sn_queue_lease(&t->queue, sn_item_seq(it), 1);
}

/* Takes every leased item up to seq: the reader has it. */
static void sn__confirm(sn_conn *c, sn_task *t, uint64_t upto) {
  size_t i = 0, k;
  while (i < c->nleases && c->leases[i] <= upto) {
    sn_queue_take(&t->queue, c->leases[i]);
    sn_qlog_take(&t->qlog, c->leases[i++]);
  }
  for (k = 0; i < c->nleases; i++, k++)
    c->leases[k] = c->leases[i];
  c->nleases = k;
}

/* The connection ends with items it was sent but did not confirm: they go
 * back to the other consumers, who may have moved past them. */
static void sn__return_leases(sn_conn *c, sn_task *t) {
  uint64_t lowest = UINT64_MAX;
  size_t back = 0;
  sn_list *pos, *tmp;
  for (size_t i = 0; i < c->nleases; i++) {
    if (sn_queue_lease(&t->queue, c->leases[i], 0)) {
      back++;
      if (c->leases[i] < lowest)
        lowest = c->leases[i];
    }
  }
  c->nleases = 0;
  if (back == 0)
    return;
  sn_log(SN_LOG_INFO, t->conf.task_id, "consumer left with %zu unconfirmed items: they go to the next consumer", back);
  sn_list_foreach(pos, tmp, &t->fetchers) {
    sn_conn *o = sn_list_entry(pos, sn_conn, fetch_link);
    if (o != c && o->consume && o->cursor > lowest)
      o->cursor = lowest;
  }
  sn_task_wake_fetchers(t);
}

void sn_fetch_receive(sn_conn *c, const char *msg, size_t len, int binary) {
  json_t *f, *seq;
  if (!c->ack || c->task == NULL || binary)
    return; /* fetch streams ignore what other clients send */
  f = json_loadb(msg, len, 0, NULL);
  seq = json_object_get(f, "seq");
  if (json_is_string(json_object_get(f, "type")) && strcmp(json_string_value(json_object_get(f, "type")), "ack") == 0 &&
      json_is_integer(seq) && json_integer_value(seq) > 0) {
    sn__confirm(c, c->task, (uint64_t)json_integer_value(seq));
    sn_conn_want_write(c); /* the window has room again */
  } else {
    sn_conn_send_error(c, SN_EBADREQ, "expected {\"type\":\"ack\",\"seq\":N}", 0);
  }
  json_decref(f);
}

/* The next item this connection may be sent: consumers skip leased ones. */
static sn_item *sn__next(sn_conn *c, sn_task *t, uint64_t *cursor, sn_gap *gap) {
  return c->consume ? sn_queue_peek_free(&t->queue, cursor, gap) : sn_queue_peek(&t->queue, cursor, gap);
}

/* ---- websocket streams ---- */

static uint64_t sn__start_cursor(const sn_task *t, uint64_t from) {
  if (from == 0)
    return t->queue.first_seq;
  if (from == UINT64_MAX)
    return t->queue.next_seq;
  return from;
}

int sn_fetch_ws_open(sn_conn *c, const char *task_id) {
  sn_node *n = c->node;
  char v[64];
  uint64_t from = 0;
  sn_task *t = NULL;
  sn_list *pos, *tmp;

  if (sn_http_query(c, "from", v, sizeof(v)) && sn_url_parse_from(v, task_id == NULL, &from)) {
    sn_conn_send_error(c, SN_EBADREQ,
                       task_id ? "query 'from' must be oldest, new or a seq >= 1" : "query 'from' must be oldest or new",
                       LWS_CLOSE_STATUS_POLICY_VIOLATION);
    return SN_EBADREQ;
  }
  if (sn_http_query(c, "batch", v, sizeof(v))) {
    uint64_t b;
    if (sn_url_parse_range(v, 1, 1000, &b) != 0) {
      sn_conn_send_error(c, SN_EBADREQ, "query 'batch' must be 1..1000", LWS_CLOSE_STATUS_POLICY_VIOLATION);
      return SN_EBADREQ;
    }
    c->batch = (int)b;
  }
  if (sn_http_query(c, "consume", v, sizeof(v)))
    c->consume = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
  if (sn_http_query(c, "ack", v, sizeof(v)))
    c->ack = c->consume && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
  c->window = 1000;
  if (sn_http_query(c, "window", v, sizeof(v))) {
    uint64_t w;
    if (sn_url_parse_range(v, 1, 100000, &w) != 0) {
      sn_conn_send_error(c, SN_EBADREQ, "query 'window' must be 1..100000", LWS_CLOSE_STATUS_POLICY_VIOLATION);
      return SN_EBADREQ;
    }
    c->window = (size_t)w;
  }
  if (task_id == NULL) {
    c->cursors = json_object();
    sn_list_foreach(pos, tmp, &n->tasks) {
      t = sn_list_entry(pos, sn_task, link);
      json_object_set_new(c->cursors, t->conf.task_id, json_integer((json_int_t)sn__start_cursor(t, from)));
    }
    sn_list_push(&n->all_fetchers, &c->fetch_link);
    sn_conn_want_write(c);
    return 0;
  }
  if ((t = sn_node_find(n, task_id)) == NULL || t->removing) {
    sn_conn_send_error(c, SN_ENOTFOUND, "no such task", LWS_CLOSE_STATUS_POLICY_VIOLATION);
    return SN_ENOTFOUND;
  }
  c->task = t;
  c->cursor = sn__start_cursor(t, from);
  sn_list_push(&t->fetchers, &c->fetch_link);
  sn_log(SN_LOG_DEBUG, t->conf.task_id, "fetcher connected at seq %llu%s", (unsigned long long)c->cursor,
         c->consume ? " (consume)" : "");
  sn_conn_want_write(c);
  return 0;
}

/* Appends the next frame's payload for task t at *cursor to b, of at most
 * room bytes unless its first item alone is more. Returns 1 when a frame was
 * built (c->bin_pending set when a binary frame must follow), 0 when nothing
 * is ready (b untouched). */
static int sn__build(sn_conn *c, sn_task *t, uint64_t *cursor, size_t room, sn_buf *b) {
  sn_gap gap;
  sn_item *it = sn__next(c, t, cursor, &gap);
  size_t cap = c->node->cfg->max_message_bytes, start = b->len;
  int count = 0, most = c->batch;

  if (c->ack) { /* at most `window` items out and unconfirmed */
    if (c->nleases >= c->window)
      return 0;
    if ((size_t)most > c->window - c->nleases)
      most = (int)(c->window - c->nleases);
  }
  if (cap < SN_FETCH_FRAME_MIN)
    cap = SN_FETCH_FRAME_MIN;
  if (cap > room)
    cap = room;
  if (gap.to > gap.from) {
    sn__gap_frame(b, t->conf.task_id, &gap);
    return 1;
  }
  if (it == NULL)
    return 0;
  if (sn_item_bin(it) || most == 1) {
    sn__data_frame(b, t->conf.task_id, it);
    *cursor = sn_item_seq(it) + 1;
    count = 1;
    if (sn_item_bin(it))
      c->bin_pending = 1; /* the bytes are copied after the header is written */
    if (c->consume)
      sn__lease(c, t, it);
  } else {
    sn_buf_num seq = {0}, ts = {0}; /* seqs count up; items of one put share a timestamp */
    sn__head(b, "items", t->conf.task_id);
    sn_buf_puts(b, ",\"items\":[");
    while (it && !sn_item_bin(it) && count < most && (count == 0 || b->len - start + it->len + 64 <= cap)) {
      sn_buf_puts(b, count++ ? ",{\"seq\":" : "{\"seq\":");
      sn_buf_u64_near(b, &seq, sn_item_seq(it));
      sn_buf_puts(b, ",\"ts_ms\":");
      sn_buf_u64_near(b, &ts, sn_item_ts(it));
      sn_buf_puts(b, ",\"data\":");
      sn_buf_append(b, it->data, it->len);
      sn_buf_puts(b, "}");
      *cursor = sn_item_seq(it) + 1;
      if (c->consume)
        sn__lease(c, t, it);
      it = sn__next(c, t, cursor, &gap);
      if (gap.to > gap.from)
        break; /* cannot happen within one callback; kept for safety */
    }
    sn_buf_puts(b, "]}");
  }
  t->msgs_out += (uint64_t)count;
  return 1;
}

/* All-tasks stream: the task whose next item arrived first. */
static sn_task *sn__pick(sn_conn *c, uint64_t *cursor) {
  sn_list *pos, *tmp;
  sn_task *best = NULL;
  uint64_t best_g = UINT64_MAX, best_cur = 0;
  sn_list_foreach(pos, tmp, &c->node->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    json_t *jc = json_object_get(c->cursors, t->conf.task_id);
    uint64_t cur = jc ? (uint64_t)json_integer_value(jc) : 1;
    sn_gap gap;
    sn_item *it = sn_queue_peek(&t->queue, &cur, &gap);
    if (gap.to > gap.from) {
      *cursor = gap.from; /* report this gap first */
      return t;
    }
    if (it && sn_item_gseq(it) < best_g) {
      best = t;
      best_g = sn_item_gseq(it);
      best_cur = cur;
    }
  }
  *cursor = best_cur;
  return best;
}

static int sn__write_frame(sn_conn *c, int binary) {
  int n = lws_write(c->wsi, (unsigned char *)sn_buf_data(&c->frame), c->frame.len,
                    binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
  return n < 0 ? -1 : 0;
}

/* Most frames in one coalesced write. */
#define SN_FETCH_COALESCE_MAX 512
/* Room kept for a frame's header while its payload is built behind it: the
 * header of a payload of 126..65535 bytes, what an items frame mostly is. */
#define SN_FETCH_HDR_GUESS 4

/* Appends the next frame, header and payload, to b (the payload built in
 * place behind SN_FETCH_HDR_GUESS bytes, moved only when its header turns out
 * shorter or longer: a frame under 126 bytes, or over 64 KiB). */
static int sn__append_frame(sn_conn *c, sn_task *t, uint64_t *cursor, size_t room, sn_buf *b) {
  unsigned char hdr[SN_WSOUT_HDR_MAX];
  size_t at = b->len, plen, hl;
  sn_buf_reserve(b, SN_FETCH_HDR_GUESS);
  b->len += SN_FETCH_HDR_GUESS;
  if (!sn__build(c, t, cursor, room, b)) {
    b->len = at;
    return 0;
  }
  plen = b->len - at - SN_FETCH_HDR_GUESS;
  hl = sn_wsout_header(hdr, plen, 0);
  if (hl != SN_FETCH_HDR_GUESS) {
    char *p;
    sn_buf_reserve(b, SN_WSOUT_HDR_MAX);
    p = sn_buf_data(b) + at;
    memmove(p + hl, p + SN_FETCH_HDR_GUESS, plen);
    b->len = at + hl + plen;
  }
  memcpy(sn_buf_data(b) + at, hdr, hl);
  return 1;
}

/* A write per frame costs a send() and two epoll_ctl (lws arms POLLOUT for
 * the next WRITEABLE), per item for a reader of one item per frame, and per
 * batch for a batched one that keeps up: a worker's read brings several put
 * frames at once, but a WRITEABLE callback may write once. So a plain reader
 * (no consume, no ack) gets the frames of the items ready now in one raw
 * write (sn_wsout.h), each still a frame of its own: the reader sees no
 * difference. They are built straight into the node's write buffer, one copy
 * of each item's bytes. A binary item's frame follows its header frame at
 * once, unless it is the first and large: then the header goes alone and the
 * bytes in the next callback (c->bin_pending 2), as for other readers.
 * Returns 1 when it wrote, 0 when nothing was ready, -1 on error. */
static int sn__write_plain(sn_conn *c, sn_task *t, uint64_t *cursor) {
  sn_buf *b = &c->node->wout;
  int frames = 0, rc;
  sn_buf_reset(b);
  while (frames < SN_FETCH_COALESCE_MAX) {
    uint64_t peek = *cursor;
    sn_gap gap;
    sn_item *it = sn_queue_peek(&t->queue, &peek, &gap);
    if (it == NULL && gap.to <= gap.from)
      break; /* nothing more ready */
    if (frames && it && b->len + 2 * SN_WSOUT_HDR_MAX + 256 + 2 * (size_t)it->len > SN_WSOUT_MAX)
      break; /* the next one goes in the next write */
    /* the first frame is built whole; the others in the room left */
    if (!sn__append_frame(c, t, cursor, frames ? SN_WSOUT_MAX - b->len - 2 * SN_WSOUT_HDR_MAX : SIZE_MAX, b))
      break;
    frames++;
    if (c->bin_pending) {
      uint64_t seq = *cursor - 1;
      sn_item *bin = sn_queue_peek(&t->queue, &seq, &gap);
      if (frames == 1 && bin && bin->len > SN_WSOUT_MAX / 4)
        break; /* sn_fetch_writeable keeps its bytes for the next callback */
      sn_wsout_append(b, bin ? bin->data : "", bin ? bin->len : 0, 1);
      c->bin_pending = 0;
    }
    if (frames == 1 && b->len >= SN_WSOUT_MAX / 4)
      break; /* a large frame goes alone */
  }
  if (frames == 0)
    return 0;
  rc = lws_write(c->wsi, (unsigned char *)sn_buf_data(b), b->len, LWS_WRITE_RAW) < 0 ? -1 : 1;
  sn_buf_reset(b);
  sn_buf_shrink(b, 2 * SN_WSOUT_MAX); /* after one large first frame */
  return rc;
}

/* One frame built in c->frame and written by lws: for consumers, whose items
 * are leased frame by frame, and the all-tasks stream. Returns as
 * sn__write_plain. */
static int sn__write_built(sn_conn *c, sn_task *t, uint64_t *cursor) {
  sn_buf_reset(&c->frame);
  if (!sn__build(c, t, cursor, SIZE_MAX, &c->frame))
    return 0;
  return sn__write_frame(c, 0) ? -1 : 1;
}

/* True when the queue has an item or a gap for a reader at cursor. */
static int sn__more(sn_task *t, uint64_t cursor) {
  sn_gap gap;
  return sn_queue_peek(&t->queue, &cursor, &gap) != NULL || gap.to > gap.from;
}

int sn_fetch_writeable(sn_conn *c) {
  sn_task *t;
  uint64_t cursor;
  int built = 0;

  if (c->consume && !c->ack && c->nleases && c->bin_pending != 2 && c->task)
    sn__confirm(c, c->task, UINT64_MAX); /* the last frame is out in full */
  if (c->bin_pending == 2) {
    c->bin_pending = 0;
    if (sn__write_frame(c, 1))
      return -1;
    sn_conn_want_write(c);
    return 0;
  }
  if (!sn_list_empty(&c->outq) || c->close_code)
    return sn_conn_write_queued(c);
  if (c->role == SN_ROLE_WS_FETCH) {
    if ((t = c->task) == NULL)
      return 0;
    cursor = c->cursor;
    built = !c->consume && !c->ack ? sn__write_plain(c, t, &cursor) : sn__write_built(c, t, &cursor);
    c->cursor = cursor;
  } else {
    if ((t = sn__pick(c, &cursor)) == NULL)
      return 0;
    built = sn__write_built(c, t, &cursor);
    json_object_set_new(c->cursors, t->conf.task_id, json_integer((json_int_t)cursor));
  }
  if (built <= 0)
    return built;
  if (c->role == SN_ROLE_WS_FETCH)
    sn_fair_after_write(t, c);
  sn_buf_shrink(&c->frame, 4 * SN_FETCH_FRAME_MIN);
  if (c->bin_pending) {
    /* Copy the binary item now: it may be dropped before the next callback. */
    sn_gap gap;
    uint64_t seq = cursor - 1;
    sn_item *it = sn_queue_peek(&t->queue, &seq, &gap);
    sn_buf_reset(&c->frame);
    if (it)
      sn_buf_append(&c->frame, it->data, it->len);
    c->bin_pending = 2;
  }
  /* A plain reader is asked for the next callback only when more is ready
   * now; otherwise the next put asks (sn_task_wake_fetchers): an empty
   * callback costs two epoll_ctl pairs. The others always are: a consumer
   * confirms its leases in the next one, a binary item's bytes follow in it. */
  if (c->role != SN_ROLE_WS_FETCH || c->consume || c->ack || c->bin_pending || sn__more(t, cursor))
    sn_conn_want_write(c);
  return 0;
}

void sn_fetch_closed(sn_conn *c) {
  if (sn_list_linked(&c->fetch_link))
    sn_list_remove(&c->fetch_link);
  if (c->nleases && c->task && c->role == SN_ROLE_WS_FETCH)
    sn__return_leases(c, c->task);
  if (c->role != SN_ROLE_WS_WCH)
    c->task = NULL;
}

void sn_fetch_end_task(sn_task *t, const char *reason) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &t->fetchers) {
    sn_conn *c = sn_list_entry(pos, sn_conn, fetch_link);
    sn_list_remove(&c->fetch_link);
    c->task = NULL;
    c->nleases = 0; /* the queue goes with the task */
    if (c->role == SN_ROLE_HTTP) {
      sn_http_respond_error(c, SN_ENOTFOUND, "task removed");
      continue;
    }
    sn_conn_send_json(c, json_pack("{s:s, s:s, s:s}", "type", "end", "task_id", t->conf.task_id, "reason", reason));
    sn_conn_close(c, LWS_CLOSE_STATUS_NORMAL);
  }
  sn_list_foreach(pos, tmp, &t->node->all_fetchers) {
    json_object_del(sn_list_entry(pos, sn_conn, fetch_link)->cursors, t->conf.task_id);
  }
}

/* ---- HTTP polling ---- */

static void sn__http_reply(sn_conn *c, sn_task *t) {
  sn_buf *b = &c->frame;
  uint64_t cursor = c->poll_from, n = 0;
  sn_gap gap, g2;
  sn_item *it = sn_queue_peek(&t->queue, &cursor, &gap);
  /* A reply holds at most this much (and always one item): next_seq says
   * where the next poll goes on. */
  size_t cap = c->node->cfg->max_message_bytes > SN_FETCH_HTTP_MIN ? c->node->cfg->max_message_bytes : SN_FETCH_HTTP_MIN;

  sn_buf_reset(b);
  sn_buf_puts(b, "{\"ok\":true,\"task_id\":\"");
  sn_buf_puts(b, t->conf.task_id);
  sn_buf_puts(b, "\",\"items\":[");
  while (it && n < c->poll_limit && (n == 0 || b->len + (sn_item_bin(it) ? it->len / 3 * 4 + 4 : it->len) + 64 <= cap)) {
    if (n++)
      sn_buf_puts(b, ",");
    sn_buf_puts(b, "{");
    sn__seq_ts(b, it);
    if (sn_item_bin(it)) {
      sn_buf_puts(b, ",\"bin\":true,\"size\":");
      sn_buf_u64(b, it->len);
      sn_buf_puts(b, ",\"data\":\"");
      sn_buf_base64(b, (const unsigned char *)it->data, it->len);
      sn_buf_puts(b, "\"}");
    } else {
      sn_buf_puts(b, ",\"data\":");
      sn_buf_append(b, it->data, it->len);
      sn_buf_puts(b, "}");
    }
    cursor = sn_item_seq(it) + 1;
    it = sn_queue_peek(&t->queue, &cursor, &g2);
  }
  t->msgs_out += n;
  sn_buf_puts(b, "],\"next_seq\":");
  sn_buf_u64(b, cursor);
  sn_buf_puts(b, ",\"gap\":");
  if (gap.to > gap.from)
    sn_buf_printf(b, "{\"from\":%llu,\"to\":%llu}", (unsigned long long)gap.from, (unsigned long long)gap.to);
  else
    sn_buf_puts(b, "null");
  sn_buf_puts(b, "}");
  sn_http_respond(c, 200, sn_buf_data(b), b->len);
  sn_buf_reset(b);
  sn_buf_shrink(b, 4 * SN_FETCH_FRAME_MIN);
}

static int sn__http_ready(sn_conn *c, sn_task *t) {
  uint64_t cursor = c->poll_from;
  sn_gap gap;
  return sn_queue_peek(&t->queue, &cursor, &gap) != NULL || gap.to > gap.from;
}

void sn_fetch_http(sn_conn *c, const char *task_id) {
  sn_task *t = sn_node_find(c->node, task_id);
  char v[64];
  uint64_t wait_ms = 0;

  if (t == NULL || t->removing)
    return sn_http_respond_error(c, SN_ENOTFOUND, "no such task");
  c->poll_from = t->queue.first_seq;
  c->poll_limit = 100;
  if (sn_http_query(c, "from", v, sizeof(v)) && strcmp(v, "oldest") != 0 &&
      sn_url_parse_range(v, 1, UINT64_MAX - 1, &c->poll_from) != 0)
    return sn_http_respond_error(c, SN_EBADREQ, "query 'from' must be oldest or a seq >= 1");
  if (sn_http_query(c, "limit", v, sizeof(v)) && sn_url_parse_range(v, 1, 10000, &c->poll_limit) != 0)
    return sn_http_respond_error(c, SN_EBADREQ, "query 'limit' must be 1..10000");
  if (sn_http_query(c, "wait_ms", v, sizeof(v)) && sn_url_parse_range(v, 0, 300000, &wait_ms) != 0)
    return sn_http_respond_error(c, SN_EBADREQ, "query 'wait_ms' must be 0..300000");
  if (wait_ms == 0 || sn__http_ready(c, t))
    return sn__http_reply(c, t);
  /* Hold the request until an item arrives or the time is up. */
  c->http_waiting = 1;
  c->task = t;
  sn_list_push(&t->fetchers, &c->fetch_link);
  lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
  lws_set_timer_usecs(c->wsi, (lws_usec_t)wait_ms * 1000);
}

static void sn__http_done(sn_conn *c) {
  sn_task *t = c->task;
  sn_list_remove(&c->fetch_link);
  c->task = NULL;
  c->http_waiting = 0;
  lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
  sn__http_reply(c, t);
}

void sn_fetch_http_wake(sn_conn *c) {
  if (c->http_waiting && c->task && c->wsi && sn__http_ready(c, c->task))
    sn__http_done(c);
}

void sn_fetch_http_timeout(sn_conn *c) {
  if (c->http_waiting && c->task && c->wsi)
    sn__http_done(c);
}
