#include "sn_zinit_text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sn_buf.h"
#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"
#include "sn_zparse.h"

#define SN_ZTEXT_TIMEOUT_MS 5000

typedef struct sn_ztreq {
  sn_list link;            /* the client's text_pending until freed */
  sn_zinit *z;
  uv_pipe_t pipe;
  uv_connect_t creq;
  uv_write_t wreq;
  uv_work_t work;          /* create/delete: file work on the threadpool */
  char *line;              /* the command, owned */
  sn_buf rx;
  sn_zinit_cb cb;
  void *ud;
  char method[40];
  char name[300];
  char *file_text;         /* create: the service file's content, owned */
  int file_rc, file_errno;
  uint64_t deadline_ms;
  int pipe_open, done, probe;
} sn_ztreq;

static void sn__free(sn_ztreq *r) {
  sn_zinit *z = r->z;
  sn_list_remove(&r->link);
  free(r->line);
  free(r->file_text);
  sn_buf_free(&r->rx);
  free(r);
  sn_zinit_maybe_free(z);
}

static void sn__closed(uv_handle_t *h) { sn__free(h->data); }

/* Answers the caller once, JSON-RPC style, then lets the request go. */
static void sn__answer(sn_ztreq *r, json_t *result, const char *error, int code) {
  json_t *err = error ? json_pack("{s:i, s:s}", "code", code, "message", error) : NULL;
  if (error && err == NULL) /* never a success for a failed answer */
    err = json_pack("{s:i, s:s}", "code", code, "message", "unreadable error from zinit");
  if (!r->done) {
    r->done = 1;
    if (r->cb)
      r->cb(r->z, result, err, r->ud);
  }
  json_decref(err);
  if (r->pipe_open) {
    if (!uv_is_closing((uv_handle_t *)&r->pipe))
      uv_close((uv_handle_t *)&r->pipe, sn__closed);
  } else if (r->line) {
    sn__free(r); /* a file request: nothing to close */
  }
}

static void sn__logs_result(sn_ztreq *r) {
  json_t *lines = sn_ztext_log_lines(r->name, sn_buf_data(&r->rx), r->rx.len);
  sn__answer(r, lines, NULL, 0);
  json_decref(lines);
}

static void sn__eof(sn_ztreq *r) {
  json_t *root, *result;
  const char *error;
  int code;
  if (strcmp(r->method, "stream_currentLogs") == 0)
    return sn__logs_result(r);
  sn_ztext_parse_reply(sn_buf_data(&r->rx), r->rx.len, &root, &result, &error, &code);
  sn__answer(r, result, error, code);
  json_decref(result);
  json_decref(root);
}

static void sn__alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  sn_ztreq *r = h->data;
  (void)s;
  sn_buf_reserve(&r->rx, 65536);
  *b = uv_buf_init(sn_buf_data(&r->rx) + r->rx.len, 65536);
}

static void sn__read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  sn_ztreq *r = s->data;
  (void)b;
  if (n >= 0) {
    r->rx.len += (size_t)n;
    return;
  }
  sn_zinit_text_state(r->z, 1);
  sn__eof(r);
}

static void sn__written(uv_write_t *w, int status) {
  sn_ztreq *r = w->data;
  if (status != 0)
    sn__answer(r, NULL, "write failed", -1);
}

static void sn__connected(uv_connect_t *c, int status) {
  sn_ztreq *r = c->data;
  if (status != 0) {
    sn_zinit_text_state(r->z, 0);
    sn__answer(r, NULL, uv_strerror(status), -1);
    return;
  }
  uv_buf_t b = uv_buf_init(r->line, (unsigned)strlen(r->line));
  r->wreq.data = r;
  uv_read_start((uv_stream_t *)&r->pipe, sn__alloc, sn__read);
  uv_write(&r->wreq, (uv_stream_t *)&r->pipe, &b, 1, sn__written);
}

static sn_ztreq *sn__new(sn_zinit *z, const char *method, const char *name, sn_zinit_cb cb, void *ud) {
  sn_ztreq *r = sn_calloc(1, sizeof(*r));
  r->z = z;
  r->cb = cb;
  r->ud = ud;
  snprintf(r->method, sizeof(r->method), "%s", method);
  snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
  sn_buf_init(&r->rx, 0);
  r->deadline_ms = sn_now_ms() + SN_ZTEXT_TIMEOUT_MS;
  sn_list_push(sn_zinit_text_list(z), &r->link);
  return r;
}

static void sn__send(sn_ztreq *r, const char *line) {
  r->line = sn_strdup(line);
  uv_pipe_init(sn_zinit_node(r->z)->loop, &r->pipe, 0);
  r->pipe.data = r->creq.data = r;
  r->pipe_open = 1;
  uv_pipe_connect(&r->creq, &r->pipe, sn_zinit_socket(r->z), sn__connected);
}

/* ---- service files (the text protocol has no create or delete) ---- */

static void sn__file_work(uv_work_t *w) {
  sn_ztreq *r = w->data;
  char path[700];
  int fd;
  snprintf(path, sizeof(path), "%s/%s.yaml", sn_zinit_config_dir(r->z), r->name);
  r->file_rc = 0;
  if (r->file_text == NULL) {
    r->file_rc = unlink(path);
    r->file_errno = errno;
    return;
  }
  /* JSON is valid YAML; O_EXCL makes an existing service an error, as in zinit. */
  if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) { /* it holds the token */
    r->file_rc = -1;
    r->file_errno = errno;
    return;
  }
  size_t len = strlen(r->file_text);
  if (write(fd, r->file_text, len) != (ssize_t)len)
    r->file_rc = -1, r->file_errno = errno;
  close(fd);
}

static void sn__file_done(uv_work_t *w, int status) {
  sn_ztreq *r = w->data;
  r->line = sn_strdup("file"); /* marks a file request for sn__answer */
  if (status != 0 || r->file_rc != 0) {
    int exists = r->file_errno == EEXIST, missing = r->file_errno == ENOENT;
    sn__answer(r, NULL, exists ? "service already exists" : missing ? "service not found" : strerror(r->file_errno),
               exists ? -32007 : missing ? -32000 : -32008);
    return;
  }
  json_t *ok = json_string("ok");
  sn__answer(r, ok, NULL, 0);
  json_decref(ok);
}

static int sn__file(sn_zinit *z, const char *name, json_t *content, sn_zinit_cb cb, void *ud) {
  sn_ztreq *r = sn__new(z, content ? "service_create" : "service_delete", name, cb, ud);
  r->file_text = content ? json_dumps(content, JSON_INDENT(2)) : NULL;
  r->work.data = r;
  if (uv_queue_work(sn_zinit_node(z)->loop, &r->work, sn__file_work, sn__file_done) != 0) {
    sn__free(r);
    return -1;
  }
  return 0;
}

int sn_ztext_call(sn_zinit *z, const char *method, json_t *params, sn_zinit_cb cb, void *ud) {
  static const struct {
    const char *method, *cmd;
  } map[] = {{"service_list", "list"},       {"service_status", "status"},   {"service_start", "start"},
             {"service_stop", "stop"},       {"service_monitor", "monitor"}, {"service_forget", "forget"},
             {"service_kill", "kill"},       {"stream_currentLogs", "log snapshot"}};
  const char *name = json_string_value(json_array_get(params, 0));
  char line[800];
  int rc = 0;
  if (strcmp(method, "service_create") == 0 || strcmp(method, "service_delete") == 0) {
    rc = name ? sn__file(z, name, strcmp(method, "service_create") == 0 ? json_array_get(params, 1) : NULL, cb, ud) : -1;
    json_decref(params);
    return rc;
  }
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
    if (strcmp(method, map[i].method) != 0)
      continue;
    if (strcmp(map[i].cmd, "log snapshot") == 0 || strcmp(map[i].cmd, "list") == 0)
      snprintf(line, sizeof(line), "%s\n", map[i].cmd);
    else if (strcmp(map[i].cmd, "kill") == 0)
      snprintf(line, sizeof(line), "kill %s %s\n", name ? name : "", json_string_value(json_array_get(params, 1)));
    else
      snprintf(line, sizeof(line), "%s %s\n", map[i].cmd, name ? name : "");
    sn__send(sn__new(z, method, name, cb, ud), line);
    json_decref(params);
    return 0;
  }
  json_decref(params);
  return -1;
}

/* Time-outs, and a probe while zinit is not known to be there. */
void sn_ztext_tick(sn_zinit *z, uint64_t now) {
  sn_list *pos, *tmp;
  int probing = 0;
  sn_list_foreach(pos, tmp, sn_zinit_text_list(z)) {
    sn_ztreq *r = sn_list_entry(pos, sn_ztreq, link);
    probing |= r->probe;
    if (!r->done && r->pipe_open && now >= r->deadline_ms) {
      sn_zinit_text_state(z, 0);
      sn__answer(r, NULL, "timed out", -1);
    }
  }
  if (!sn_zinit_up(z) && !probing && !sn_zinit_closing(z) && now >= sn_zinit_retry_at(z)) {
    sn_ztreq *r = sn__new(z, "service_list", NULL, NULL, NULL);
    r->probe = 1;
    sn__send(r, "list\n");
  }
}

void sn_ztext_forget(sn_zinit *z, void *ud) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, sn_zinit_text_list(z)) {
    sn_ztreq *r = sn_list_entry(pos, sn_ztreq, link);
    if (r->ud == ud)
      r->cb = NULL;
  }
}

void sn_ztext_close_all(sn_zinit *z) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, sn_zinit_text_list(z)) {
    sn_ztreq *r = sn_list_entry(pos, sn_ztreq, link);
    r->cb = NULL;
    if (r->pipe_open && !uv_is_closing((uv_handle_t *)&r->pipe))
      uv_close((uv_handle_t *)&r->pipe, sn__closed);
    /* file requests finish on their own in sn__file_done */
  }
}
