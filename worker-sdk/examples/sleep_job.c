/* sleep_job: takes jobs whose payload is a number of ms, and answers
 * {"slept_ms":N} after that long (or not at all when the job is cancelled).
 * For timeout tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supernode/worker.h"

typedef struct sleeper {
  uv_timer_t timer;
  sn_worker *w;
  char id[64];
  long ms;
} sleeper;

static sleeper *current; /* one job at a time: the node sends the next after the result */

static void closed(uv_handle_t *h) { free(h->data); }

static void done(uv_timer_t *t) {
  sleeper *s = t->data;
  char out[64];
  snprintf(out, sizeof(out), "{\"slept_ms\":%ld}", s->ms);
  sn_worker_job_done(s->w, s->id, 1, out, NULL);
  current = NULL;
  uv_close((uv_handle_t *)t, closed);
}

static void on_job(sn_worker *w, const char *id, const char *payload, size_t len, void *ud) {
  uv_loop_t *loop = ud;
  sleeper *s = calloc(1, sizeof(*s));
  char buf[32] = {0};
  memcpy(buf, payload, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
  s->w = w;
  s->ms = atol(buf);
  snprintf(s->id, sizeof(s->id), "%s", id);
  s->timer.data = s;
  uv_timer_init(loop, &s->timer);
  uv_timer_start(&s->timer, done, (uint64_t)(s->ms > 0 ? s->ms : 0), 0);
  current = s;
}

static void on_cancel(sn_worker *w, const char *id, void *ud) {
  (void)w;
  (void)ud;
  if (current && strcmp(current->id, id) == 0) {
    uv_timer_stop(&current->timer);
    uv_close((uv_handle_t *)&current->timer, closed);
    current = NULL;
  }
}

static void on_stop(sn_worker *w, void *ud) {
  (void)ud;
  sn_worker_stop(w);
}

int main(int argc, char **argv) {
  sn_worker_opts o = {0};
  int err = 0;
  uv_loop_t *loop = uv_default_loop();
  sn_worker *w;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--url") == 0) o.url = argv[i + 1];
    else if (strcmp(argv[i], "--task") == 0) o.task_id = argv[i + 1];
    else if (strcmp(argv[i], "--kind") == 0) o.kind = argv[i + 1];
  }
  o.accept_tasks = 1;
  w = o.url ? sn_worker_new(&o, &err) : sn_worker_from_env(&err);
  if (w == NULL) {
    fprintf(stderr, "sleep_job: %s\n", sn_worker_strerror(err));
    return 2;
  }
  sn_worker_on_job(w, on_job, loop);
  sn_worker_on_cancel(w, on_cancel, NULL);
  sn_worker_on_stop(w, on_stop, NULL);
  sn_worker_attach(w, loop);
  uv_run(loop, UV_RUN_DEFAULT);
  sn_worker_free(w);
  return 0;
}
