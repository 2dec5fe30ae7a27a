/* Blocking HTTP and websocket client for supernode-ctl (a command-line tool may block). */
#ifndef CTL_NET_H
#define CTL_NET_H

#include <stddef.h>

typedef struct ctl_url {
  char host[256];
  char port[16];
  char token[512];
} ctl_url;

/* Parses http://HOST:PORT (also ws://). 0 or -1. */
int ctl_url_parse(ctl_url *u, const char *url, const char *token);
/* One HTTP request; returns the status (or -1 when the node cannot be reached)
 * and a malloc'd NUL-terminated body in *body. */
int ctl_http(const ctl_url *u, const char *method, const char *path, const char *body, char **resp);

typedef struct ctl_ws {
  int fd;
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
