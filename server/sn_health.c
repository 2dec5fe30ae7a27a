/* The health check: the task's health_check argv, run without a shell every
 * health_interval_ms, killed after health_timeout_ms. The task stays
 * `starting` until a check passes; health_failures failures in a row while
 * running restart it with reason `health`. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

struct sn_health {
  uv_process_t proc;
  uv_timer_t timeout;
  sn_task *task;       /* NULL once the task stopped caring */
  sn_node *node;
  sn_list link;        /* in node->checks until closed: the watch must know libuv's children */
  int open;            /* handles not yet closed */
  int timed_out;
};

static void sn__closed(uv_handle_t *h) {
  sn_health *hc = h->data;
  if (--hc->open > 0)
    return;
  sn_list_remove(&hc->link);
  free(hc);
}

static void sn__exited(uv_process_t *proc, int64_t status, int term_signal) {
  sn_health *hc = proc->data;
  sn_task *t = hc->task;
  int ok = status == 0 && term_signal == 0 && !hc->timed_out;
  uv_timer_stop(&hc->timeout);
  uv_close((uv_handle_t *)&hc->proc, sn__closed);
  uv_close((uv_handle_t *)&hc->timeout, sn__closed);
  if (t == NULL)
    return;
  t->health = NULL;
  if (!ok)
    sn_log(SN_LOG_DEBUG, t->conf.task_id, "health check %s", hc->timed_out ? "timed out" : "failed");
  sn_task_health_result(t, ok);
}

static void sn__timed_out(uv_timer_t *h) {
  sn_health *hc = h->data;
  hc->timed_out = 1;
  kill(-hc->proc.pid, SIGKILL);
}

static void sn__run_check(uv_timer_t *h) {
  sn_task *t = h->data;
  char **argv;
  uv_process_options_t o;
  uv_stdio_container_t stdio[3];
  sn_health *hc;
  int rc;

  if (t->health || !sn_task_has_run(t))
    return; /* the previous check is still running */
  hc = sn_calloc(1, sizeof(*hc));
  /* Through the shim, as the worker: the task's user and limits, no fds of
   * the node, and its whole tree killed if it hangs. */
  argv = sn_proc_shim_argv(t, t->conf.health_check);
  memset(&o, 0, sizeof(o));
  memset(stdio, 0, sizeof(stdio));
  for (int i = 0; i < 3; i++)
    stdio[i].flags = UV_IGNORE;
  char **env = sn_proc_env(t);
  o.file = argv[0];
  o.args = argv;
  o.env = env;
  o.cwd = t->conf.cwd;
  o.exit_cb = sn__exited;
  o.flags = UV_PROCESS_DETACHED; /* its own group, so a hung check dies whole */
  o.stdio = stdio;
  o.stdio_count = 3;
  hc->proc.data = hc->timeout.data = hc;
  hc->task = t;
  hc->node = t->node;
  hc->open = 2;
  sn_list_push(&t->node->checks, &hc->link);
  uv_timer_init(t->node->loop, &hc->timeout);
  sn_proc_cloexec_all();
  rc = uv_spawn(t->node->loop, &hc->proc, &o);
  sn_proc_free_strv(argv);
  sn_proc_free_strv(env);
  if (rc != 0) {
    sn_log(SN_LOG_WARN, t->conf.task_id, "health check cannot run: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)&hc->proc, sn__closed);
    uv_close((uv_handle_t *)&hc->timeout, sn__closed);
    sn_task_health_result(t, 0);
    return;
  }
  t->health = hc;
  uv_timer_start(&hc->timeout, sn__timed_out, t->conf.health_timeout_ms, 0);
}

void sn_health_start(sn_task *t) {
  t->health_fails = 0;
  /* First check at once (the task stays `starting` until one passes). */
  uv_timer_start(&t->health_timer, sn__run_check, 0, t->conf.health_interval_ms);
}

void sn_health_stop(sn_task *t) {
  uv_timer_stop(&t->health_timer);
  if (t->health) {
    kill(-t->health->proc.pid, SIGKILL);
    t->health->task = NULL;
    t->health = NULL;
  }
}

size_t sn_health_pids(sn_node *n, pid_t *out) {
  sn_list *pos, *tmp;
  size_t k = 0;
  sn_list_foreach(pos, tmp, &n->checks) out[k++] = sn_list_entry(pos, sn_health, link)->proc.pid;
  return k;
}
