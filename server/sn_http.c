/* The libwebsockets context on our libuv loop, and the routing of every
 * request and websocket to its part. All paths go through one protocol
 * callback: lws picks a ws protocol only from Sec-WebSocket-Protocol, so the
 * route is taken from the URI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_origin.h"
#include "sn_tls.h"
#include "sn_url.h"
#include "sn_utf8.h"
#include "sn_util.h"

/* Bounds of a stat stream's interval: faster would be a busy loop, slower
 * than an hour is a mistake, and ms * 1000 must fit lws's microseconds. */
#define SN_STAT_MIN_MS 100
#define SN_STAT_MAX_MS 3600000

extern const unsigned char sn_www_index[]; /* server/www/index.html, compiled in */
extern const size_t sn_www_index_len;

static sn_node *sn__node(struct lws *wsi) {
  return lws_context_user(lws_get_context(wsi));
}

int sn_http_query(sn_conn *c, const char *name, char *buf, size_t len) {
  return sn_http_query_wsi(c->wsi, name, buf, len);
}

int sn_http_query_wsi(struct lws *wsi, const char *name, char *buf, size_t len) {
  char frag[512];
  for (int i = 0;; i++) {
    int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0)
      return 0;
    if (sn_url_arg(frag, (size_t)n, name, buf, len))
      return 1;
  }
}

/* Builds status line, headers and body in one buffer. For HTTP/1 one write
 * carries it all (as lws_return_http_status does), with our JSON body. */
/* Lets the page that made a request it was admitted for read the reply: the
 * node's own page, an allowed origin, or a page that presented the token. */
static int sn__cors_headers(struct lws *wsi, unsigned char **p, unsigned char *end) {
  char origin[300];
  int n = lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
  if (n <= 0)
    return 0;
  return lws_add_http_header_by_name(wsi, (unsigned char *)"access-control-allow-origin:", (unsigned char *)origin, n,
                                     p, end) ||
         lws_add_http_header_by_name(wsi, (unsigned char *)"vary:", (unsigned char *)"Origin", 6, p, end);
}

/* The dashboard runs our own inline script and talks to this node only; no
 * other site may frame it (its buttons stop and remove tasks). */
static int sn__page_headers(struct lws *wsi, const char *ctype, unsigned char **p, unsigned char *end) {
  static const char csp[] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                            "connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
  if (strncmp(ctype, "text/html", 9) != 0)
    return 0;
  return lws_add_http_header_by_name(wsi, (unsigned char *)"content-security-policy:", (unsigned char *)csp,
                                     (int)strlen(csp), p, end) ||
         lws_add_http_header_by_name(wsi, (unsigned char *)"x-content-type-options:", (unsigned char *)"nosniff", 7, p,
                                     end) ||
         lws_add_http_header_by_name(wsi, (unsigned char *)"x-frame-options:", (unsigned char *)"DENY", 4, p, end);
}

static int sn__build_typed(struct lws *wsi, sn_buf *out, int status, const char *ctype, const char *body,
                           size_t len) {
  unsigned char hdr[1024], *p = hdr, *end = hdr + sizeof(hdr);
  char clen[24];
  int n = snprintf(clen, sizeof(clen), "%zu", len);

  if (lws_add_http_header_status(wsi, (unsigned int)status, &p, end) || sn__cors_headers(wsi, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (unsigned char *)ctype, (int)strlen(ctype), &p,
                                   end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (unsigned char *)clen, n, &p, end) ||
      lws_add_http_header_by_name(wsi, (unsigned char *)"cache-control:", (unsigned char *)"no-store", 8, &p, end) ||
      sn__page_headers(wsi, ctype, &p, end) ||
      lws_finalize_http_header(wsi, &p, end))
    return -1;
  sn_buf_reset(out);
  sn_buf_append(out, hdr, (size_t)(p - hdr));
  sn_buf_append(out, body, len);
  return 0;
}

static int sn__build_response(struct lws *wsi, sn_buf *out, int status, const char *body, size_t len) {
  return sn__build_typed(wsi, out, status, "application/json", body, len);
}

void sn_http_respond(sn_conn *c, int status, const char *body, size_t len) {
  sn_http_respond_typed(c, status, "application/json", body, len);
}

void sn_http_respond_typed(sn_conn *c, int status, const char *ctype, const char *body, size_t len) {
  if (c->wsi == NULL || c->http_resp_ready)
    return;
  if (sn__build_typed(c->wsi, &c->http_resp, status, ctype, body, len) != 0)
    return;
  c->http_resp_ready = 1;
  c->http_waiting = 0;
  lws_callback_on_writable(c->wsi);
}

static char *sn__error_body(int code, const char *msg) {
  json_t *o = sn_err_json(code, msg, 0);
  char *s = sn_json_dumps_safe(o);
  json_decref(o);
  return s;
}

void sn_http_respond_error(sn_conn *c, int code, const char *msg) {
  char *s = sn__error_body(code, msg);
  sn_http_respond(c, sn_err_http(code), s, strlen(s));
  free(s);
}

/* Answers right away, inside the current callback: used to refuse an upgrade
 * (lws then completes the transaction itself) and for HTTP status codes that
 * are not protocol errors (405, 411). */
static int sn__respond_now(struct lws *wsi, int status, int code, const char *msg) {
  sn_buf b;
  char *s = sn__error_body(code, msg);
  int rc = -1;
  sn_buf_init(&b, LWS_PRE);
  if (sn__build_response(wsi, &b, status, s, strlen(s)) == 0 &&
      lws_write(wsi, (unsigned char *)sn_buf_data(&b), b.len, LWS_WRITE_HTTP) == (int)b.len)
    rc = 0;
  sn_buf_free(&b);
  free(s);
  return rc;
}

static int sn__is_loopback(struct lws *wsi) {
  char peer[128];
  if (lws_get_peer_simple(wsi, peer, sizeof(peer)) == NULL)
    return 0;
  return strncmp(peer, "127.", 4) == 0 || strcmp(peer, "::1") == 0 ||
         strncmp(peer, "::ffff:127.", 11) == 0;
}

/* The operator token from "Authorization: Bearer X" or ?token=X. */
static int sn__token(struct lws *wsi, char *buf, size_t len) {
  char auth[600];
  if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
    if (strncasecmp(auth, "Bearer ", 7) == 0) {
      size_t n = strnlen(auth + 7, len - 1); /* a longer token cannot match anyway */
      memcpy(buf, auth + 7, n);
      buf[n] = '\0';
      return 1;
    }
  }
  return sn_http_query_wsi(wsi, "token", buf, len);
}

/* Copies header tok into buf; "" when absent, NULL-safe marker when too long. */
static const char *sn__header(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t len) {
  if (lws_hdr_total_length(wsi, tok) <= 0)
    return NULL;
  if (lws_hdr_copy(wsi, buf, (int)len, tok) < 0)
    snprintf(buf, len, "(header too long)"); /* matches no host or origin */
  return buf;
}

/* Checks exposure, origin, limits and auth common to every request. Returns
 * 0 to go on, or the HTTP status to refuse with (err filled). */
static int sn__admit(sn_node *n, struct lws *wsi, const char *path, int new_conn, sn_error *err) {
  char tok[512], host[300], origin[300];
  const sn_config *cfg = n->cfg;
  int token_ok = cfg->operator_token && sn__token(wsi, tok, sizeof(tok)) && sn_secret_eq(tok, cfg->operator_token);
  /* A CORS preflight never carries credentials: with a token configured it
   * is answered for any page, since the request that follows must bring it. */
  int preflight = lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0;

  if (!cfg->allow_remote && cfg->operator_token == NULL && !sn__is_loopback(wsi))
    return sn_seterr(err, SN_EUNAUTH, "remote peers are refused: set operator_token or allow_remote"), 401;
  if (sn_origin_check(cfg, sn__header(wsi, WSI_TOKEN_HOST, host, sizeof(host)),
                      sn__header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)),
                      token_ok || (preflight && cfg->operator_token), err))
    return 403;
  if (n->shutting_down)
    return sn_seterr(err, SN_EUNAVAIL, "the node is shutting down"), 503;
  if (new_conn && n->nconns >= cfg->max_connections)
    return sn_seterr(err, SN_EUNAVAIL, "max_connections (%llu) reached", (unsigned long long)cfg->max_connections),
           503;
  if ((strncmp(path, "/m/", 3) == 0 || strcmp(path, "/metrics") == 0) && cfg->operator_token && !token_ok && !preflight)
    return sn_seterr(err, SN_EUNAUTH, "missing or wrong operator token"), 401;
  return 0;
}

static int sn__confirm_upgrade(sn_node *n, struct lws *wsi) {
  char path[256];
  sn_error err = {0};
  int role, status;
  if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
    return sn__respond_now(wsi, 404, SN_ENOTFOUND, "no such path") ? -1 : 1;
  role = sn_url_ws_route(path);
  if (role == SN_ROLE_NONE)
    return sn__respond_now(wsi, 404, SN_ENOTFOUND, "no such path") ? -1 : 1;
  if ((status = sn__admit(n, wsi, path, lws_get_opaque_user_data(wsi) == NULL, &err)) != 0)
    return sn__respond_now(wsi, status, err.code, err.msg) ? -1 : 1;
  if (role == SN_ROLE_WS_FETCH && sn_node_find(n, path + 9) == NULL)
    return sn__respond_now(wsi, 404, SN_ENOTFOUND, "no such task") ? -1 : 1;
  return 0;
}

static void sn__established(sn_node *n, struct lws *wsi) {
  char path[256] = "", tok[512];
  int role;
  sn_conn *c;
  lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
  role = sn_url_ws_route(path);
  if ((c = lws_get_opaque_user_data(wsi)) != NULL) {
    /* The socket served HTTP requests before this upgrade (keep-alive): its
     * HTTP record goes, so the slot is counted once. */
    lws_set_opaque_user_data(wsi, NULL);
    sn_conn_detach(c);
  }
  c = sn_conn_new(n, wsi, role);
  lws_set_opaque_user_data(wsi, c);
  switch (role) {
  case SN_ROLE_WS_FETCH:
    sn_fetch_ws_open(c, path + 9);
    break;
  case SN_ROLE_WS_FETCH_ALL:
    sn_fetch_ws_open(c, NULL);
    break;
  case SN_ROLE_WS_WCH:
    if (sn__token(wsi, tok, sizeof(tok)))
      c->upgrade_token = sn_strdup(tok);
    sn_wch_established(c);
    break;
  case SN_ROLE_WS_STAT: {
    char v[32];
    c->stat_interval_ms = 1000;
    if (sn_http_query(c, "interval_ms", v, sizeof(v))) {
      uint64_t ms;
      if (sn_url_parse_range(v, 0, UINT64_MAX, &ms) != 0) {
        sn_conn_send_error(c, SN_EBADREQ, "query 'interval_ms' must be a number of milliseconds",
                           LWS_CLOSE_STATUS_POLICY_VIOLATION);
        break;
      }
      c->stat_interval_ms = ms < SN_STAT_MIN_MS ? SN_STAT_MIN_MS : ms > SN_STAT_MAX_MS ? SN_STAT_MAX_MS : ms;
    }
    sn_stat_ws_tick(c);
    break;
  }
  default:
    break;
  }
}

/* Answers an HTTP request at once and ends the transaction. */
static int sn__refuse(struct lws *wsi, int status, int code, const char *msg) {
  if (sn__respond_now(wsi, status, code, msg))
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A CORS preflight that passed admission (its origin may send the request):
 * say which methods and headers it may use. */
static int sn__preflight(struct lws *wsi) {
  unsigned char hdr[1024], *p = hdr + LWS_PRE, *end = hdr + sizeof(hdr);
  static const char methods[] = "GET, POST", headers[] = "Authorization, Content-Type";
  if (lws_add_http_header_status(wsi, 204, &p, end) || sn__cors_headers(wsi, &p, end) ||
      lws_add_http_header_by_name(wsi, (unsigned char *)"access-control-allow-methods:", (unsigned char *)methods,
                                  sizeof(methods) - 1, &p, end) ||
      lws_add_http_header_by_name(wsi, (unsigned char *)"access-control-allow-headers:", (unsigned char *)headers,
                                  sizeof(headers) - 1, &p, end) ||
      lws_add_http_header_by_name(wsi, (unsigned char *)"access-control-max-age:", (unsigned char *)"600", 3, &p,
                                  end) ||
      lws_add_http_header_content_length(wsi, 0, &p, end) || lws_finalize_http_header(wsi, &p, end))
    return -1;
  if (lws_write(wsi, hdr + LWS_PRE, (size_t)(p - (hdr + LWS_PRE)), LWS_WRITE_HTTP_HEADERS) < 0)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int sn__http_request(sn_node *n, struct lws *wsi, const char *path) {
  sn_conn *c = lws_get_opaque_user_data(wsi);
  sn_error err = {0};
  char clen[32];
  uint64_t body_len;
  int status;
  int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
  int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;

  if ((status = sn__admit(n, wsi, path, c == NULL, &err)) != 0)
    return sn__refuse(wsi, status, err.code, err.msg);
  if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
    return sn__preflight(wsi);
  if (c == NULL) {
    c = sn_conn_new(n, wsi, SN_ROLE_HTTP); /* reused for keep-alive requests */
    lws_set_opaque_user_data(wsi, c);
  }
  c->http_resp_ready = 0;
  c->http_waiting = 0;
  sn_buf_reset(&c->rx);
  snprintf(c->http_path, sizeof(c->http_path), "%s", path);
  if (strcmp(path, "/m/cmd") == 0) {
    if (!post)
      return sn__refuse(wsi, 405, SN_EBADREQ, "use POST for /m/cmd");
    if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
      return sn__refuse(wsi, 411, SN_EBADREQ, "Content-Length is required");
    if (sn_parse_u64(clen, &body_len) != 0)
      return sn__refuse(wsi, 400, SN_EBADREQ, "Content-Length must be a number");
    if (body_len > n->cfg->max_message_bytes)
      return sn__refuse(wsi, 413, SN_ETOOLARGE, "request body exceeds max_message_bytes");
    c->http_clen = (int64_t)body_len;
    if (c->http_clen == 0)
      sn_cmd_handle(c, "", 0);
    return 0; /* the body follows */
  }
  if (!get)
    return sn__refuse(wsi, 405, SN_EBADREQ, "method not allowed");
  if (strcmp(path, "/m/stat") == 0)
    sn_stat_http(c, NULL);
  else if (strncmp(path, "/m/stat/", 8) == 0)
    sn_stat_http(c, path + 8);
  else if (strncmp(path, "/m/fetch/", 9) == 0 && path[9])
    sn_fetch_http(c, path + 9);
  else if (strcmp(path, "/metrics") == 0)
    sn_metrics_http(c);
  else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
    sn_http_respond_typed(c, 200, "text/html; charset=utf-8", (const char *)sn_www_index, sn_www_index_len);
  else if (strcmp(path, "/w/ch") == 0 || strcmp(path, "/m/fetch") == 0)
    sn_http_respond_error(c, SN_EBADREQ, "this path is a websocket endpoint");
  else
    sn_http_respond_error(c, SN_ENOTFOUND, "no such path");
  return 0;
}

static int sn__http_writeable(sn_conn *c) {
  int n;
  if (!c->http_resp_ready)
    return 0;
  n = lws_write(c->wsi, (unsigned char *)sn_buf_data(&c->http_resp), c->http_resp.len, LWS_WRITE_HTTP);
  c->http_resp_ready = 0;
  sn_buf_reset(&c->http_resp);
  sn_buf_shrink(&c->http_resp, 65536);
  if (n < 0)
    return -1;
  return lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

/* A worker's frames after its hello are all scanned whole by sn_wmsg_parse,
 * which checks UTF-8 in strings as it goes (any other byte over 0x7f is not
 * JSON): a second pass over every put would be 3 % of the node on the batched
 * data path. A frame it refuses is checked then, so that bad UTF-8 still
 * closes with 1007 (sn_wch_receive). */
static int sn__utf8_checked_by_parser(const sn_conn *c) { return c->role == SN_ROLE_WS_WCH && c->hello_done; }

/* One whole message: checked for UTF-8 (text) and handed to its role. */
static void sn__message(sn_conn *c, const char *msg, size_t len, int binary) {
  if (!binary && !sn__utf8_checked_by_parser(c) && !sn_utf8_valid(msg, len)) {
    /* RFC 6455 8.1. Checked here, once per message and mostly eight bytes
     * at a time, rather than by lws byte by byte (a fifth of the node's time
     * on the batched data path). */
    c->rx_skip = 1;
    sn_conn_close_not_utf8(c);
    return;
  }
  switch (c->role) {
  case SN_ROLE_WS_CMD:
    if (binary)
      sn_req_fail(sn_req_new(c, NULL), SN_EBADJSON, "binary frames are not commands");
    else
      sn_cmd_handle(c, msg, len);
    break;
  case SN_ROLE_WS_WCH:
    sn_wch_receive(c, msg, len, binary);
    break;
  case SN_ROLE_WS_FETCH:
    sn_fetch_receive(c, msg, len, binary);
    break;
  default:
    break; /* fetch and stat streams ignore what clients send */
  }
}

/* Reassembles fragments of one websocket message, within max_message_bytes. */
static void sn__receive(sn_conn *c, const void *in, size_t len) {
  struct lws *wsi = c->wsi;
  int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
  if (first) {
    sn_buf_reset(&c->rx);
    c->rx_binary = lws_frame_is_binary(wsi);
  }
  if (c->rx_skip || c->close_code)
    return;
  if (c->rx.len + len > c->node->cfg->max_message_bytes) {
    c->rx_skip = 1;
    sn_buf_reset(&c->rx);
    sn_conn_send_error(c, SN_ETOOLARGE, "message exceeds max_message_bytes", LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
    return;
  }
  if (first && final && c->role == SN_ROLE_WS_WCH) {
    /* A worker's message in one piece (a put, mostly) is read where lws
     * holds it rather than copied: the worker channel's parsers take a
     * length and need no NUL (test/fuzz/fuzz_wch.c feeds them unterminated). */
    sn__message(c, len ? in : "", len, c->rx_binary); /* lws may pass NULL for an empty one */
    return;
  }
  sn_buf_append(&c->rx, in, len);
  if (!final)
    return;
  /* NUL-terminated, allocated even for an empty message */
  sn__message(c, sn_buf_cstr(&c->rx), c->rx.len, c->rx_binary);
  sn_buf_reset(&c->rx);
  sn_buf_shrink(&c->rx, 65536);
}

static int sn__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  /* The connection hangs off the wsi's opaque pointer rather than lws's
   * per-session data: lws frees that without telling us on some paths (a
   * refused chunked POST), while WSI_DESTROY is called for every wsi. */
  sn_conn *c = lws_get_opaque_user_data(wsi);
  (void)user;

  switch (reason) {
  case LWS_CALLBACK_HTTP:
    return sn__http_request(sn__node(wsi), wsi, (const char *)in);
  case LWS_CALLBACK_HTTP_BODY:
    if (c && !c->http_resp_ready) {
      if (c->rx.len + len > c->node->cfg->max_message_bytes)
        sn_http_respond_error(c, SN_ETOOLARGE, "request body exceeds max_message_bytes");
      else
        sn_buf_append(&c->rx, in, len);
    }
    return 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (c && !c->http_resp_ready)
      sn_cmd_handle(c, sn_buf_cstr(&c->rx), c->rx.len);
    return 0;
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return c ? sn__http_writeable(c) : 0;
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_WSI_DESTROY:
    if (c) {
      lws_set_opaque_user_data(wsi, NULL);
      sn_conn_detach(c);
    }
    return 0;
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    return sn__confirm_upgrade(sn__node(wsi), wsi);
  case LWS_CALLBACK_ESTABLISHED:
    sn__established(sn__node(wsi), wsi);
    return 0;
  case LWS_CALLBACK_RECEIVE:
    if (c) {
      c->last_rx_ms = sn_now_ms(); /* any frame counts as life */
      sn__receive(c, in, len);
    }
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (c == NULL)
      return 0;
    return sn_conn_writeable(c);
  case LWS_CALLBACK_TIMER:
    if (c == NULL)
      return 0;
    if (c->role == SN_ROLE_WS_WCH)
      sn_wch_hello_timeout(c);
    else if (c->role == SN_ROLE_WS_STAT)
      sn_stat_ws_tick(c);
    else if (c->role == SN_ROLE_HTTP)
      sn_fetch_http_timeout(c);
    return 0;
  default:
    return 0;
  }
}

static const struct lws_protocols sn__protocols[] = {
    {"supernode", sn__callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void sn__lws_log(int level, const char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  sn_log(level == LLL_ERR ? SN_LOG_ERROR : level == LLL_WARN ? SN_LOG_WARN : SN_LOG_DEBUG, "lws", "%.*s",
         (int)n, line);
}

int sn_http_start(sn_node *n, sn_error *err) {
  struct lws_context_creation_info info;
  void *foreign[1] = {n->loop};
  const char *iface = n->cfg->listen_host;

  lws_set_log_level(sn_log_enabled(SN_LOG_DEBUG) ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : (LLL_ERR | LLL_WARN),
                    sn__lws_log);
  const char *cert = n->cfg->tls_cert, *key = n->cfg->tls_key;
  if (cert && sn_tls_check_pair(cert, key, err) != 0)
    return -1;
  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (cert)
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = foreign;
  info.user = n;
  info.pt_serv_buf_size = 65536;
  n->lws = lws_create_context(&info);
  if (n->lws == NULL)
    return sn_seterr(err, SN_EINTERNAL, "cannot create the libwebsockets context (is libwebsockets-evlib-uv installed?)");

  memset(&info, 0, sizeof(info));
  info.port = n->cfg->listen_port;
  info.iface = (strcmp(iface, "0.0.0.0") == 0 || strcmp(iface, "::") == 0) ? NULL : iface;
  info.protocols = sn__protocols;
  info.vhost_name = "supernode";
  /* Text messages that are not UTF-8 close with 1007 (RFC 6455 8.1): checked
   * in sn__receive on the whole message, before any of our parsers sees it. */
  info.options = LWS_SERVER_OPTION_LIBUV;
  if (cert) { /* the one port then speaks https:// and wss:// only (lws reads the option per vhost) */
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
    /* HTTP/1.1 only: replies are written as whole HTTP/1 responses, and a
     * websocket upgrade is an HTTP/1 exchange. */
    info.alpn = "http/1.1";
  }
  info.keepalive_timeout = 60;
  info.timeout_secs = 60;
  n->vhost = lws_create_vhost(n->lws, &info);
  if (n->vhost == NULL)
    return sn_seterr(err, SN_EUNAVAIL, "cannot listen on %s:%d (address in use or not available)",
                     n->cfg->listen_host, n->cfg->listen_port);
  n->port = lws_get_vhost_listen_port(n->vhost);
  return 0;
}

int sn_http_reload_tls(sn_node *n, sn_error *err) {
  const char *cert = n->cfg->tls_cert, *key = n->cfg->tls_key;
  if (cert == NULL)
    return sn_seterr(err, SN_EBADREQ, "TLS is off: nothing to reload");
  /* lws loads the certificate before the key: a bad pair would leave the
   * port with a certificate its key cannot serve. Check the pair first. */
  if (sn_tls_check_pair(cert, key, err) != 0)
    return -1;
  lws_tls_cert_updated(n->lws, cert, key, NULL, 0, NULL, 0);
  return 0;
}
