/* script_job: Hero's script workers in supernode's terms. Takes jobs whose
 * payload is {"script":"..."}, runs the interpreter named in start_params
 * (e.g. "/bin/sh" or "/usr/bin/python3 -u": argv split on spaces, no shell),
 * feeds the script on stdin, and answers {exit_code, stdout, stderr}, each
 * stream cut at 64 KiB. A kind like this exists only when the operator
 * configures it (see conf/kinds-scripts.json). */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "supernode/worker.h"

#define OUT_MAX (64 * 1024)

typedef struct run {
  sn_worker *w;
  char id[64];
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_write_t wreq;
  char *script;
  char buf[2][OUT_MAX];
  size_t len[2];
  int open;
  int64_t code;
} run;

static char *interp[32];

static void closed(uv_handle_t *h) {
  run *r = h->data;
  if (--r->open > 0)
    return;
  json_t *o = json_pack("{s:I, s:s%, s:s%}", "exit_code", (json_int_t)r->code, "stdout", r->buf[0], r->len[0],
                        "stderr", r->buf[1], r->len[1]);
  if (o == NULL) /* not UTF-8: report the sizes only */
    o = json_pack("{s:I, s:s, s:s}", "exit_code", (json_int_t)r->code, "stdout", "(binary)", "stderr", "(binary)");
  char *s = json_dumps(o, JSON_COMPACT);
  sn_worker_job_done(r->w, r->id, 1, s, NULL);
  free(s);
  json_decref(o);
  free(r->script);
  free(r);
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b) {
  static char tmp[65536];
  (void)h;
  (void)n;
  *b = uv_buf_init(tmp, sizeof(tmp));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  run *r = s->data;
  int i = s == (uv_stream_t *)&r->err;
  if (n < 0) {
    uv_close((uv_handle_t *)s, closed);
    return;
  }
  size_t k = (size_t)n < OUT_MAX - r->len[i] ? (size_t)n : OUT_MAX - r->len[i];
  memcpy(r->buf[i] + r->len[i], b->base, k);
  r->len[i] += k;
}

static void written(uv_write_t *req, int status) {
  run *r = req->data;
  (void)status;
  uv_close((uv_handle_t *)&r->in, closed);
}

static void exited(uv_process_t *p, int64_t status, int sig) {
  run *r = p->data;
  r->code = sig ? 128 + sig : status;
  uv_close((uv_handle_t *)p, closed);
}

static void on_job(sn_worker *w, const char *id, const char *payload, size_t len, void *ud) {
  uv_loop_t *loop = ud;
  json_t *p = json_loadb(payload, len, 0, NULL);
  const char *script = json_string_value(json_object_get(p, "script"));
  uv_process_options_t o = {0};
  uv_stdio_container_t stdio[3];
  run *r;
  if (script == NULL) {
    json_decref(p);
    sn_worker_job_done(w, id, 0, NULL, "the payload must be {\"script\":\"...\"}");
    return;
  }
  r = calloc(1, sizeof(*r));
  r->w = w;
  snprintf(r->id, sizeof(r->id), "%s", id);
  r->script = strdup(script);
  json_decref(p);
  uv_pipe_init(loop, &r->in, 0);
  uv_pipe_init(loop, &r->out, 0);
  uv_pipe_init(loop, &r->err, 0);
  r->in.data = r->out.data = r->err.data = r->proc.data = r->wreq.data = r;
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&r->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&r->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&r->err;
  o.file = interp[0];
  o.args = interp;
  o.exit_cb = exited;
  o.stdio = stdio;
  o.stdio_count = 3;
  r->open = 4;
  if (uv_spawn(loop, &r->proc, &o) != 0) {
    r->code = 127;
    uv_close((uv_handle_t *)&r->proc, closed);
    uv_close((uv_handle_t *)&r->in, closed);
    uv_close((uv_handle_t *)&r->out, closed);
    uv_close((uv_handle_t *)&r->err, closed);
    return;
  }
  uv_buf_t b = uv_buf_init(r->script, (unsigned)strlen(r->script));
  uv_write(&r->wreq, (uv_stream_t *)&r->in, &b, 1, written);
  uv_read_start((uv_stream_t *)&r->out, alloc_cb, read_cb);
  uv_read_start((uv_stream_t *)&r->err, alloc_cb, read_cb);
}

static void on_stop(sn_worker *w, void *ud) {
  (void)ud;
  sn_worker_stop(w);
}

int main(void) {
  int err = 0, n = 0;
  uv_loop_t *loop = uv_default_loop();
  sn_worker *w = sn_worker_from_env(&err);
  if (w == NULL) {
    fprintf(stderr, "script_job: %s\n", sn_worker_strerror(err));
    return 2;
  }
  char *spec = strdup(sn_worker_start_params(w)[0] ? sn_worker_start_params(w) : "/bin/sh");
  for (char *tok = strtok(spec, " "); tok && n < 31; tok = strtok(NULL, " "))
    interp[n++] = tok;
  signal(SIGPIPE, SIG_IGN); /* a script that ignores stdin must not kill us */
  sn_worker_on_job(w, on_job, loop);
  sn_worker_on_stop(w, on_stop, NULL);
  sn_worker_attach(w, loop);
  uv_run(loop, UV_RUN_DEFAULT);
  sn_worker_free(w);
  free(spec);
  return 0;
}
