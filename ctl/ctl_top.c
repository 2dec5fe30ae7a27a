#include "ctl_top.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One row, with what the sort needs as numbers. */
typedef struct top_row {
  json_t *t; /* borrowed from the reply */
  double cpu, items_s;
  long long queue, mem, restarts;
} top_row;

static int sort_key;

int ctl_top_sort(const char *s) {
  static const char *const names[] = {"cpu", "queue", "mem", "restarts"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  return -1;
}

static double key(const top_row *r) {
  switch (sort_key) {
  case CTL_SORT_QUEUE: return (double)r->queue;
  case CTL_SORT_MEM: return (double)r->mem;
  case CTL_SORT_RESTARTS: return (double)r->restarts;
  default: return r->cpu;
  }
}

static int by_key(const void *a, const void *b) {
  double x = key(a), y = key(b);
  const char *ia = json_string_value(json_object_get(((const top_row *)a)->t, "task_id"));
  const char *ib = json_string_value(json_object_get(((const top_row *)b)->t, "task_id"));
  return x < y ? 1 : x > y ? -1 : strcmp(ia ? ia : "", ib ? ib : "");
}

static long long num(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "?";
}

/* items/s from the change of msgs_in since the last frame (prev: task_id -> [msgs_in, ms]). */
static double rate(json_t *prev, json_t *t, double now_ms) {
  const char *id = json_string_value(json_object_get(t, "task_id"));
  json_t *p = json_object_get(prev, id);
  double in = (double)num(t, "msgs_in"), r = 0;
  if (p && now_ms > json_real_value(json_array_get(p, 1)))
    r = (in - json_real_value(json_array_get(p, 0))) * 1000.0 / (now_ms - json_real_value(json_array_get(p, 1)));
  json_object_set_new(prev, id, json_pack("[f,f]", in, now_ms));
  return r > 0 ? r : 0;
}

static void frame(json_t *r, json_t *prev, double now_ms, int tty) {
  json_t *n = json_object_get(r, "node"), *tasks = json_object_get(r, "tasks"), *t;
  size_t i, k = json_array_size(tasks);
  top_row *rows = calloc(k ? k : 1, sizeof(*rows));
  static const char *const sort_names[] = {"cpu", "queue", "mem", "restarts"};
  json_array_foreach(tasks, i, t) {
    json_t *q = json_object_get(t, "queue");
    rows[i] = (top_row){t, json_number_value(json_object_get(t, "cpu_pct")), rate(prev, t, now_ms), num(q, "len"),
                        num(t, "mem_kb"), num(t, "restarts")};
  }
  qsort(rows, k, sizeof(*rows), by_key);
  if (tty)
    fputs("\033[H\033[2J", stdout); /* home, clear: the frame replaces the last */
  printf("node %s  up %llds  tasks %lld  workers %lld  fetchers %lld  redis %s  zinit %s  (sorted by %s)\n",
         str(n, "node_id"), num(n, "uptime_ms") / 1000, num(n, "tasks"), num(n, "workers_connected"),
         num(n, "fetchers"), str(n, "redis"), str(n, "zinit"), sort_names[sort_key]);
  printf("%-24s %-9s %8s %6s %10s %9s %9s %9s %8s\n", "TASK", "STATE", "PID", "CPU%", "MEM_KB", "QUEUED", "DROPPED",
         "ITEMS/S", "RESTARTS");
  for (i = 0; i < k; i++) {
    json_t *q = json_object_get(rows[i].t, "queue");
    printf("%-24s %-9s %8lld %6.1f %10lld %9lld %9lld %9.1f %8lld\n", str(rows[i].t, "task_id"),
           str(rows[i].t, "state"), num(rows[i].t, "pid"), rows[i].cpu, rows[i].mem,
           rows[i].queue, num(q, "dropped"), rows[i].items_s, rows[i].restarts);
  }
  if (!tty)
    putchar('\n');
  fflush(stdout);
  free(rows);
}

int ctl_top(const ctl_url *u, int sort, long interval_ms, long frames) {
  json_t *prev = json_object();
  int tty = isatty(STDOUT_FILENO), rc = 0;
  sort_key = sort;
  for (long f = 0; frames == 0 || f < frames; f++) {
    char *resp = NULL;
    struct timespec ts;
    int status = ctl_http(u, "GET", "/m/stat", NULL, &resp);
    json_t *r = status < 0 ? NULL : json_loads(resp ? resp : "", 0, NULL);
    free(resp);
    if (status < 0) {
      ctl_unreachable(u);
      rc = 3;
      break;
    }
    if (!json_is_true(json_object_get(r, "ok"))) {
      const char *msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
      fprintf(stderr, "supernode-ctl: the node answered %d: %s\n", status, msg ? msg : "(no JSON)");
      json_decref(r);
      rc = status == 401 ? 6 : 1;
      break;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    frame(r, prev, (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6, tty);
    json_decref(r);
    if (frames == 0 || f + 1 < frames)
      usleep((useconds_t)interval_ms * 1000);
  }
  json_decref(prev);
  return rc;
}
