/* Blocking HTTP and websocket client for supernode-ctl (a command-line tool may block). */
#ifndef CTL_NET_H
#define CTL_NET_H

#include <stddef.h>

typedef struct ctl_url {
  char host[256];
  char port[16];
  char token[512];
  int tls;              /* https:// or wss:// */
  const char *cacert;   /* PEM trust anchors for TLS, NULL = the system's */
} ctl_url;

/* Parses http://HOST:PORT (also ws://, https://, wss://). 0 or -1. */
int ctl_url_parse(ctl_url *u, const char *url, const char *token);
/* Why the last connection failed ("" when it did not), for the error line. */
const char *ctl_net_error(void);
/* Prints "cannot reach the node at HOST:PORT" and why. */
void ctl_unreachable(const ctl_url *u);

/* One connection, plain or TLS. */
typedef struct ctl_conn {
  int fd;
  void *ssl, *ctx; /* SSL *, SSL_CTX * when TLS */
} ctl_conn;
/* One HTTP request; returns the status (or -1 when the node cannot be reached)
 * and a malloc'd NUL-terminated body in *body. */
int ctl_http(const ctl_url *u, const char *method, const char *path, const char *body, char **resp);

typedef struct ctl_ws {
  ctl_conn c;
  char *buf;
  size_t len, cap;
  size_t consumed; /* bytes of the message last returned */
  int status;   /* HTTP status of the upgrade */
  char *body;   /* body of a refused upgrade */
} ctl_ws;

int ctl_ws_open(ctl_ws *ws, const ctl_url *u, const char *path);
/* Next message: returns its opcode (1 text, 2 binary, 8 close) or -1; p and n
 * point into ws->buf until the next call. */
int ctl_ws_recv(ctl_ws *ws, char **p, size_t *n);
void ctl_ws_close(ctl_ws *ws);

#endif
