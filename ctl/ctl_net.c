#include "ctl_net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char net_error[320];

const char *ctl_net_error(void) { return net_error; }

void ctl_unreachable(const ctl_url *u) {
  fprintf(stderr, "supernode-ctl: cannot reach the node at %s:%s%s%s\n", u->host, u->port, net_error[0] ? ": " : "",
          net_error);
}

int ctl_url_parse(ctl_url *u, const char *url, const char *token) {
  const char *h = strstr(url, "://"), *colon, *end;
  const char *cacert = u->cacert;
  memset(u, 0, sizeof(*u));
  u->cacert = cacert;
  if (h && (strncmp(url, "https://", 8) == 0 || strncmp(url, "wss://", 6) == 0))
    u->tls = 1;
  else if (h && strncmp(url, "http://", 7) != 0 && strncmp(url, "ws://", 5) != 0)
    return -1;
  h = h ? h + 3 : url;
  end = h + strcspn(h, "/?");
  colon = memrchr(h, ':', (size_t)(end - h));
  if (colon == NULL || (size_t)(colon - h) >= sizeof(u->host) || (size_t)(end - colon - 1) >= sizeof(u->port))
    return -1;
  memcpy(u->host, h[0] == '[' ? h + 1 : h, (size_t)(colon - h) - (h[0] == '[' ? 2 : 0));
  memcpy(u->port, colon + 1, (size_t)(end - colon - 1));
  if (token)
    snprintf(u->token, sizeof(u->token), "%s", token);
  return 0;
}

static int tcp_connect(const ctl_url *u) {
  struct addrinfo hints = {0}, *res, *ai;
  int fd = -1;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(u->host, u->port, &hints, &res) != 0) {
    snprintf(net_error, sizeof(net_error), "cannot resolve %s", u->host);
    return -1;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

static void tls_error(const char *what, SSL *ssl) {
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  unsigned long e = ERR_peek_last_error();
  if (v != X509_V_OK)
    snprintf(net_error, sizeof(net_error), "TLS %s: certificate: %s", what, X509_verify_cert_error_string(v));
  else
    snprintf(net_error, sizeof(net_error), "TLS %s: %s", what, e ? ERR_reason_error_string(e) : "failed");
}

/* The TLS client side on a connected socket: the certificate must chain to
 * cacert (or the system's CAs) and name the host we dialled. */
static int tls_start(ctl_conn *c, const ctl_url *u) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = NULL;
  unsigned char ip[16];
  c->ctx = ctx;
  if (ctx == NULL)
    return tls_error("setup", NULL), -1;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_PARTIAL_CHAIN); /* a self-signed node */
  if ((u->cacert ? SSL_CTX_load_verify_locations(ctx, u->cacert, NULL) : SSL_CTX_set_default_verify_paths(ctx)) != 1)
    return tls_error(u->cacert ? "cannot load --cacert" : "cannot load the system CAs", NULL), -1;
  if ((c->ssl = ssl = SSL_new(ctx)) == NULL)
    return tls_error("setup", NULL), -1;
  if (inet_pton(AF_INET, u->host, ip) == 1 || inet_pton(AF_INET6, u->host, ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host);
  } else {
    SSL_set_tlsext_host_name(ssl, u->host);
    SSL_set1_host(ssl, u->host);
  }
  SSL_set_fd(ssl, c->fd);
  if (SSL_connect(ssl) != 1)
    return tls_error("handshake", ssl), -1;
  return 0;
}

static void conn_close(ctl_conn *c) {
  if (c->ssl)
    SSL_free(c->ssl);
  if (c->ctx)
    SSL_CTX_free(c->ctx);
  if (c->fd >= 0)
    close(c->fd);
  c->ssl = c->ctx = NULL;
  c->fd = -1;
}

static int conn_open(ctl_conn *c, const ctl_url *u) {
  memset(c, 0, sizeof(*c));
  net_error[0] = '\0';
  if ((c->fd = tcp_connect(u)) < 0)
    return -1;
  if (u->tls && tls_start(c, u) != 0) {
    conn_close(c);
    return -1;
  }
  return 0;
}

static ssize_t conn_read(ctl_conn *c, void *p, size_t n) {
  if (c->ssl) {
    int r = SSL_read(c->ssl, p, n > 1u << 30 ? 1 << 30 : (int)n);
    return r > 0 ? r : SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  return read(c->fd, p, n);
}

static int ctl_write_all(ctl_conn *c, const char *p, size_t n) {
  while (n) {
    ssize_t w = c->ssl ? SSL_write(c->ssl, p, n > 1u << 30 ? 1 << 30 : (int)n) : write(c->fd, p, n);
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static char *ctl_auth(const ctl_url *u) {
  static char h[600];
  h[0] = '\0';
  if (u->token[0])
    snprintf(h, sizeof(h), "Authorization: Bearer %s\r\n", u->token);
  return h;
}

/* Reads a whole HTTP response (the request asked Connection: close). */
static int ctl_read_response(ctl_conn *c, char **body) {
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap), *sep;
  ssize_t r;
  int status;
  while ((r = conn_read(c, buf + len, cap - len - 1)) > 0) {
    len += (size_t)r;
    if (cap - len < 4096)
      buf = realloc(buf, cap *= 2);
  }
  buf[len] = '\0';
  if (len < 12 || (sep = strstr(buf, "\r\n\r\n")) == NULL) {
    free(buf);
    return -1;
  }
  status = atoi(buf + 9);
  *body = strdup(sep + 4);
  free(buf);
  return status;
}

int ctl_http(const ctl_url *u, const char *method, const char *path, const char *body, char **resp) {
  char head[2048];
  ctl_conn c;
  int n, status;
  *resp = NULL;
  if (conn_open(&c, u) != 0)
    return -1;
  n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n%sContent-Type: application/json\r\n"
               "Content-Length: %zu\r\n\r\n", method, path, u->host, u->port, ctl_auth(u), body ? strlen(body) : 0);
  if (ctl_write_all(&c, head, (size_t)n) || (body && ctl_write_all(&c, body, strlen(body)))) {
    conn_close(&c);
    return -1;
  }
  status = ctl_read_response(&c, resp);
  conn_close(&c);
  return status;
}

static int ctl_more(ctl_ws *ws) {
  ssize_t r;
  if (ws->cap - ws->len < 65536)
    ws->buf = realloc(ws->buf, ws->cap = ws->cap * 2 + 131072);
  r = conn_read(&ws->c, ws->buf + ws->len, ws->cap - ws->len);
  if (r <= 0)
    return -1;
  ws->len += (size_t)r;
  return 0;
}

int ctl_ws_open(ctl_ws *ws, const ctl_url *u, const char *path) {
  char head[2048], *end;
  int n;
  memset(ws, 0, sizeof(*ws));
  if (conn_open(&ws->c, u) != 0)
    return -1;
  n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s"
               "Sec-WebSocket-Key: c3VwZXJub2RlLWN0bA==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, u->host, u->port, ctl_auth(u));
  if (ctl_write_all(&ws->c, head, (size_t)n))
    return -1;
  while ((end = ws->buf ? memmem(ws->buf, ws->len, "\r\n\r\n", 4) : NULL) == NULL)
    if (ctl_more(ws))
      return -1;
  ws->status = atoi(ws->buf + 9);
  if (ws->status != 101) {
    /* A refusal carries a JSON body; read what has come. */
    while (ctl_more(ws) == 0)
      ;
    end = memmem(ws->buf, ws->len, "\r\n\r\n", 4);
    ws->body = strndup(end + 4, ws->len - (size_t)(end + 4 - ws->buf));
    return -1;
  }
  n = (int)(end + 4 - ws->buf);
  memmove(ws->buf, ws->buf + n, ws->len - (size_t)n);
  ws->len -= (size_t)n;
  return 0;
}

int ctl_ws_recv(ctl_ws *ws, char **p, size_t *n) {
  if (ws->consumed) {
    memmove(ws->buf, ws->buf + ws->consumed, ws->len - ws->consumed);
    ws->len -= ws->consumed;
    ws->consumed = 0;
  }
  for (;;) {
    unsigned char *b = (unsigned char *)ws->buf;
    size_t hl = 2, len;
    if (ws->len >= 2) {
      len = b[1] & 0x7f;
      if (len == 126 && ws->len >= 4) {
        len = ((size_t)b[2] << 8) | b[3];
        hl = 4;
      } else if (len == 127 && ws->len >= 10) {
        len = 0;
        for (int i = 0; i < 8; i++)
          len = (len << 8) | b[2 + i];
        hl = 10;
      }
      if (!((b[1] & 0x7f) >= 126 && hl == 2) && ws->len >= hl + len) {
        *p = ws->buf + hl;
        *n = len;
        ws->consumed = hl + len;
        return b[0] & 0x0f;
      }
    }
    if (ctl_more(ws))
      return -1;
  }
}

void ctl_ws_close(ctl_ws *ws) {
  conn_close(&ws->c);
  free(ws->buf);
  free(ws->body);
  ws->buf = ws->body = NULL;
}
