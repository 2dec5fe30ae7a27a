/* sn-floor: the stack's own floor for scripts/bench. A bare libwebsockets
 * server on a libuv loop, set up as the node sets up its own, that relays
 * every message a producer sends on /w/ch to the consumers on /m/fetch/...,
 * one frame per WRITEABLE, with no parsing, no queue logic and no copies
 * beyond the one lws needs. What sn-bench measures through it is what any
 * server on this stack can do; the node's one-item-per-frame row is compared
 * with it. It speaks just enough of our protocol for sn-bench: POST /m/cmd
 * gets {"ok":true}, a producer's first frame gets a welcome.
 *   sn-floor  (prints "listening on 127.0.0.1:PORT", runs until SIGTERM) */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Messages waiting for the consumers: a ring the producer is paused on when
 * full, so the floor never drops or grows without bound. */
#define FLOOR_RING 4096

typedef struct fl_msg {
  size_t len;
  unsigned char *buf; /* LWS_PRE headroom, then len bytes; owned */
} fl_msg;

typedef struct fl_state {
  fl_msg ring[FLOOR_RING];
  unsigned head, n;
  struct lws *producer, *consumer;
  int producer_paused;
  unsigned char *rx;  /* a fragmented message being assembled */
  size_t rx_len;
} fl_state;

static fl_state st;
static struct lws_context *ctx;

enum { FL_CMD = 1, FL_PRODUCER, FL_CONSUMER };

typedef struct fl_conn {
  int role;
  int welcomed;
  int answered;
} fl_conn;

static void fl_push(const unsigned char *p, size_t len) {
  fl_msg *m = &st.ring[(st.head + st.n) % FLOOR_RING];
  m->buf = malloc(LWS_PRE + len);
  memcpy(m->buf + LWS_PRE, p, len);
  m->len = len;
  st.n++;
  if (st.n == FLOOR_RING && st.producer && !st.producer_paused) {
    st.producer_paused = 1;
    lws_rx_flow_control(st.producer, 0);
  }
  if (st.consumer)
    lws_callback_on_writable(st.consumer);
}

static int fl_write_one(struct lws *wsi) {
  fl_msg *m;
  if (st.n == 0)
    return 0;
  m = &st.ring[st.head];
  if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < 0)
    return -1;
  free(m->buf);
  st.head = (st.head + 1) % FLOOR_RING;
  st.n--;
  if (st.producer_paused && st.n < FLOOR_RING / 2) {
    st.producer_paused = 0;
    lws_rx_flow_control(st.producer, 1);
  }
  if (st.n)
    lws_callback_on_writable(wsi);
  return 0;
}

/* POST /m/cmd: {"ok":true} once the body is in, written on WRITEABLE. */
static int fl_http(struct lws *wsi, fl_conn *c, enum lws_callback_reasons reason) {
  static const char body[] = "{\"ok\":true}";
  unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
  if (reason == LWS_CALLBACK_HTTP && lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
    return 0; /* a POST: answer once its body is in */
  if (reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY_COMPLETION) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  if (reason != LWS_CALLBACK_HTTP_WRITEABLE || c->answered++)
    return 0;
  if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json", sizeof(body) - 1, &p, end) ||
      lws_finalize_http_header(wsi, &p, end))
    return -1;
  memcpy(p, body, sizeof(body) - 1); /* headers and body in one write */
  p += sizeof(body) - 1;
  if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int fl_welcome(struct lws *wsi) {
  static const char welcome[] = "{\"type\":\"welcome\",\"task_id\":\"floor\",\"heartbeat_interval_ms\":0}";
  unsigned char w[LWS_PRE + sizeof(welcome)];
  memcpy(w + LWS_PRE, welcome, sizeof(welcome) - 1);
  return lws_write(wsi, w + LWS_PRE, sizeof(welcome) - 1, LWS_WRITE_TEXT) < 0 ? -1 : 0;
}

static void fl_receive(struct lws *wsi, fl_conn *c, const unsigned char *in, size_t len) {
  const unsigned char *msg = in;
  if (c->role != FL_PRODUCER)
    return;
  if (!lws_is_final_fragment(wsi) || st.rx_len) { /* reassemble */
    st.rx = realloc(st.rx, st.rx_len + len);
    memcpy(st.rx + st.rx_len, in, len);
    st.rx_len += len;
    if (!lws_is_final_fragment(wsi))
      return;
    msg = st.rx;
    len = st.rx_len;
  }
  if (!c->welcomed) { /* the hello: welcomed on the producer's next WRITEABLE */
    c->welcomed = 1;
    lws_callback_on_writable(wsi);
  } else {
    fl_push(msg, len);
  }
  st.rx_len = 0;
}

static int fl_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  fl_conn *c = user;
  char uri[128];
  switch (reason) {
  case LWS_CALLBACK_HTTP:
  case LWS_CALLBACK_HTTP_BODY:
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return fl_http(wsi, c, reason);
  case LWS_CALLBACK_ESTABLISHED:
    lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    c->role = strncmp(uri, "/w/ch", 5) == 0 ? FL_PRODUCER : FL_CONSUMER;
    if (c->role == FL_PRODUCER)
      st.producer = wsi;
    else
      st.consumer = wsi;
    return 0;
  case LWS_CALLBACK_RECEIVE:
    fl_receive(wsi, c, in, len);
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return c->role == FL_CONSUMER ? fl_write_one(wsi) : fl_welcome(wsi);
  case LWS_CALLBACK_CLOSED:
    if (wsi == st.producer)
      st.producer = NULL, st.producer_paused = 0;
    if (wsi == st.consumer) {
      st.consumer = NULL;
      while (st.n) { /* a run ended: what it did not read goes */
        free(st.ring[st.head].buf);
        st.head = (st.head + 1) % FLOOR_RING;
        st.n--;
      }
    }
    return 0;
  default:
    return 0;
  }
}

static const struct lws_protocols fl_protocols[] = {
    {"floor", fl_callback, sizeof(fl_conn), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static void fl_stop(uv_signal_t *s, int signum) {
  (void)signum;
  uv_signal_stop(s);
  uv_close((uv_handle_t *)s, NULL);
  lws_context_destroy(ctx); /* first of the two: starts the teardown */
}

int main(void) {
  struct lws_context_creation_info info;
  struct lws_vhost *vh;
  uv_loop_t loop;
  uv_signal_t sig;
  void *foreign[1] = {&loop};
  uv_loop_init(&loop);
  lws_set_log_level(LLL_ERR, NULL);
  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.foreign_loops = foreign;
  info.pt_serv_buf_size = 65536;
  if ((ctx = lws_create_context(&info)) == NULL)
    return 1;
  memset(&info, 0, sizeof(info));
  info.port = 0;
  info.iface = "127.0.0.1";
  info.protocols = fl_protocols;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
  if ((vh = lws_create_vhost(ctx, &info)) == NULL)
    return 1;
  printf("listening on 127.0.0.1:%d\n", lws_get_vhost_listen_port(vh));
  fflush(stdout);
  uv_signal_init(&loop, &sig);
  uv_signal_start(&sig, fl_stop, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  lws_context_destroy(ctx);
  uv_loop_close(&loop);
  free(st.rx);
  return 0;
}
