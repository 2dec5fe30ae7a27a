/* pipe: runs a command and turns each line of its stdout into one item.
 *   pipe [--url URL --task ID [--token T]] [--] command args...
 * A line that is valid JSON is put as it is; any other line is put as a JSON
 * string. The worker ends when the command ends (after sending what it read),
 * with the command's exit code. stderr of the command passes through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supernode/worker.h"

#define PIPE_LINE_MAX (256 * 1024)

typedef struct pipe_w {
  sn_worker *w;
  uv_process_t proc;
  uv_pipe_t out;
  char *line;
  size_t len;
  int open;
  int64_t status;
  int done;
} pipe_w;

static void put_line(pipe_w *p) {
  json_t *v;
  if (p->len && p->line[p->len - 1] == '\r')
    p->len--;
  if (p->len == 0)
    return;
  if ((v = json_loadb(p->line, p->len, JSON_DECODE_ANY, NULL)) != NULL) {
    sn_worker_put_json(p->w, p->line, p->len);
    json_decref(v);
    return;
  }
  v = json_stringn_nocheck(p->line, p->len);
  sn_worker_put_value(p->w, v);
  json_decref(v);
}

static void finish(pipe_w *p) {
  if (--p->open == 0)
    sn_worker_finish(p->w); /* sends everything buffered, then closes */
}

static void closed(uv_handle_t *h) { finish(h->data); }

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b) {
  static char buf[65536];
  (void)h;
  (void)s;
  *b = uv_buf_init(buf, sizeof(buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  pipe_w *p = s->data;
  if (n < 0) {
    if (p->len)
      put_line(p);
    p->len = 0;
    uv_close((uv_handle_t *)s, closed);
    return;
  }
  for (ssize_t i = 0; i < n; i++) {
    if (b->base[i] == '\n' || p->len == PIPE_LINE_MAX) {
      put_line(p);
      p->len = 0;
      if (b->base[i] == '\n')
        continue;
    }
    p->line[p->len++] = b->base[i];
  }
}

static void exit_cb(uv_process_t *proc, int64_t status, int sig) {
  pipe_w *p = proc->data;
  p->status = sig ? 128 + sig : status;
  uv_close((uv_handle_t *)proc, closed);
}

int main(int argc, char **argv) {
  sn_worker_opts o = {0};
  pipe_w p = {0};
  uv_process_options_t po = {0};
  uv_stdio_container_t stdio[3];
  uv_loop_t *loop = uv_default_loop();
  int err = 0, i = 1;

  /* Options first, then the command: like nohup or timeout, "--" is optional. */
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc || (strcmp(argv[i], "--url") && strcmp(argv[i], "--task") && strcmp(argv[i], "--token"))) {
      fprintf(stderr, "pipe: unknown flag or missing value: '%s'\n", argv[i]);
      return 2;
    }
    if (strcmp(argv[i], "--url") == 0) o.url = argv[i + 1];
    else if (strcmp(argv[i], "--task") == 0) o.task_id = argv[i + 1];
    else o.token = argv[i + 1];
  }
  if (i >= argc) {
    fprintf(stderr, "usage: pipe [--url URL --task ID [--token T]] [--] command args...\n");
    return 2;
  }
  o.buffer_items = 1000000;
  p.w = o.url ? sn_worker_new(&o, &err) : sn_worker_from_env(&err);
  if (p.w == NULL) {
    fprintf(stderr, "pipe: %s\n", sn_worker_strerror(err));
    return 2;
  }
  p.line = malloc(PIPE_LINE_MAX);
  uv_pipe_init(loop, &p.out, 0);
  p.out.data = p.proc.data = &p;
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&p.out;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  po.file = argv[i];
  po.args = argv + i;
  po.exit_cb = exit_cb;
  po.stdio = stdio;
  po.stdio_count = 3;
  if ((err = uv_spawn(loop, &p.proc, &po)) != 0) {
    fprintf(stderr, "pipe: cannot run %s: %s\n", argv[i], uv_strerror(err));
    return 127;
  }
  p.open = 2;
  uv_read_start((uv_stream_t *)&p.out, alloc_cb, read_cb);
  sn_worker_attach(p.w, loop);
  uv_run(loop, UV_RUN_DEFAULT);
  sn_worker_free(p.w);
  free(p.line);
  uv_loop_close(loop);
  return (int)p.status;
}
