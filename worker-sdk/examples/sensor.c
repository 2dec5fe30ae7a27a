/* sensor: emits one JSON reading every start_params ms (default 1000).
 * A cmd {"interval_ms": N} changes the rate. The demo worker of scripts/run.
 * Works as an exec worker (environment from the node) or a net worker:
 *   sensor --url ws://127.0.0.1:7700/w/ch --task cam1 [--token T] [--interval MS] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supernode/worker.h"

typedef struct sensor {
  sn_worker *w;
  uv_timer_t tick;
  unsigned long n;
} sensor;

static void tick(uv_timer_t *t) {
  sensor *s = t->data;
  char buf[128];
  unsigned long n = ++s->n;
  int len = snprintf(buf, sizeof(buf), "{\"n\":%lu,\"temp_c\":%.2f}", n, 20.0 + 5.0 * sin((double)n / 10.0));
  sn_worker_put_json(s->w, buf, (size_t)len);
}

static void on_cmd(sn_worker *w, const char *data, size_t len, void *ud) {
  sensor *s = ud;
  json_t *d = json_loadb(data, len, 0, NULL);
  json_t *ms = json_object_get(d, "interval_ms");
  (void)w;
  if (json_is_integer(ms) && json_integer_value(ms) > 0) {
    uv_timer_set_repeat(&s->tick, (uint64_t)json_integer_value(ms));
    uv_timer_again(&s->tick);
    fprintf(stderr, "sensor: interval now %lld ms\n", (long long)json_integer_value(ms));
  }
  json_decref(d);
}

static void on_closed(sn_worker *w, void *ud) {
  sensor *s = ud;
  (void)w;
  uv_close((uv_handle_t *)&s->tick, NULL);
}

static void on_stop(sn_worker *w, void *ud) {
  (void)ud;
  sn_worker_stop(w);
}

int main(int argc, char **argv) {
  sn_worker_opts o = {0};
  sensor s = {0};
  uv_loop_t *loop = uv_default_loop();
  const char *interval = NULL;
  int err = 0;

  if (argc > 1 && strcmp(argv[1], "--health-check") == 0)
    return sn_worker_health_check(3000);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--url") == 0) o.url = argv[i + 1];
    else if (strcmp(argv[i], "--task") == 0) o.task_id = argv[i + 1];
    else if (strcmp(argv[i], "--token") == 0) o.token = argv[i + 1];
    else if (strcmp(argv[i], "--interval") == 0) interval = argv[i + 1];
  }
  s.w = o.url ? sn_worker_new(&o, &err) : sn_worker_from_env(&err);
  if (s.w == NULL) {
    fprintf(stderr, "sensor: %s\n", sn_worker_strerror(err));
    return 2;
  }
  if (interval == NULL)
    interval = sn_worker_start_params(s.w);
  unsigned long ms = strtoul(interval && *interval ? interval : "1000", NULL, 10);
  sn_worker_on_cmd(s.w, on_cmd, &s);
  sn_worker_on_stop(s.w, on_stop, &s);
  sn_worker_on_closed(s.w, on_closed, &s);
  uv_timer_init(loop, &s.tick);
  s.tick.data = &s;
  uv_timer_start(&s.tick, tick, ms ? ms : 1000, ms ? ms : 1000);
  sn_worker_attach(s.w, loop);
  fprintf(stderr, "sensor: one reading every %lu ms\n", ms ? ms : 1000);
  uv_run(loop, UV_RUN_DEFAULT);
  sn_worker_free(s.w);
  uv_loop_close(loop);
  return 0;
}
