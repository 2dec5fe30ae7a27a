/* The watch: one timer for the whole node, every watch_interval_ms.
 * Each tick applies the rules that need a clock (run timeouts, heartbeat
 * silence, idle pings). The process table is read only when something needs
 * it: every tick while a running task has mem_limit_kb, after a worker
 * exited (orphans the node adopted as child subreaper are killed and reaped),
 * and every SN_WATCH_FULL_EVERY ticks for the RSS and CPU figures. Reading
 * /proc for every process is what an idle node spends its time on. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

#define SN_WATCH_FULL_EVERY 5

static int sn__cmp_pid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return x < y ? -1 : x > y;
}

/* The node's own children that libuv spawned and will reap itself, sorted:
 * every shim is one, and a scan of the process list per child was quadratic
 * (1,000 tasks: a million steps, a tenth of an idle node's time). Returns the
 * count; *out is the caller's to free. */
static size_t sn__libuv_children(sn_node *n, pid_t **out) {
  size_t k = 0, cap = sn_list_count(&n->procs) + sn_list_count(&n->checks) + 1;
  pid_t *v = sn_malloc(cap * sizeof(*v));
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->procs) v[k++] = sn_list_entry(pos, sn_proc, link)->pid;
  k += sn_health_pids(n, v + k);
  qsort(v, k, sizeof(*v), sn__cmp_pid);
  *out = v;
  return k;
}

/* Orphans re-parented to the node come from workers whose shim died: their
 * run is over, so they are killed, and reaped by pid (never waitpid(-1),
 * which would steal libuv's exit statuses). */
static void sn__orphans(sn_node *n, const sn_pstat *tab, size_t np) {
  pid_t me = getpid(), *mine;
  size_t nmine = sn__libuv_children(n, &mine);
  for (size_t i = 0; i < np; i++) {
    if (tab[i].ppid != me || bsearch(&tab[i].pid, mine, nmine, sizeof(*mine), sn__cmp_pid))
      continue;
    if (tab[i].state == 'Z') {
      waitpid(tab[i].pid, NULL, WNOHANG);
      continue;
    }
    sn_log(SN_LOG_WARN, NULL, "killing pid %d, left behind by a worker", (int)tab[i].pid);
    sn_pkill_tree(tab[i].pid, SIGKILL, 3);
    kill(tab[i].pid, SIGKILL);
  }
  free(mine);
}

/* CPU use of the tree since the last tick, as a percentage of one core. The
 * tree's total falls when a child exits: that tick counts as 0. */
static void sn__cpu_sample(sn_task *t, uint64_t ticks, uint64_t now) {
  static long hz;
  if (hz == 0)
    hz = sysconf(_SC_CLK_TCK);
  if (t->cpu_at_ms && now > t->cpu_at_ms && ticks >= t->cpu_ticks)
    t->cpu_pct = (double)(ticks - t->cpu_ticks) * 1000.0 / (double)hz / (double)(now - t->cpu_at_ms) * 100.0;
  else
    t->cpu_pct = 0;
  t->cpu_ticks = ticks;
  t->cpu_at_ms = now;
}

/* Memory (and CPU) of the worker's tree from the process table, whose read
 * took them from the same line as the parent links; the memory rule. */
static void sn__check_memory(sn_task *t, const sn_pstat *tab, size_t np, size_t *buf, uint64_t now) {
  /* Native runs: the shim's descendants. zinit runs: the worker and its tree. */
  size_t k = sn_pdescendants(tab, np, t->zinit ? t->pid : t->proc->pid, buf, np);
  uint64_t kb = 0, ticks = 0;
  sn_pstat root;
  if (t->zinit && sn_pstat_read(t->pid, &root) == 0)
    kb += root.rss_kb, ticks += root.cpu_ticks;
  for (size_t i = 0; i < k; i++)
    kb += tab[buf[i]].rss_kb, ticks += tab[buf[i]].cpu_ticks;
  t->mem_kb = kb;
  sn__cpu_sample(t, ticks, now);
  if ((t->state == SN_ST_RUNNING || t->state == SN_ST_STARTING) && t->conf.mem_limit_kb && kb > t->conf.mem_limit_kb) {
    sn_log(SN_LOG_WARN, t->conf.task_id, "memory %llu kB over mem_limit_kb %llu", (unsigned long long)kb,
           (unsigned long long)t->conf.mem_limit_kb);
    sn_task_fault(t, SN_RS_MEMORY);
  }
}

static void sn__check_timeout(sn_task *t, uint64_t now) {
  if ((t->state == SN_ST_RUNNING || t->state == SN_ST_STARTING) && t->conf.timeout_ms &&
      now - t->started_at_ms > t->conf.timeout_ms) {
    sn_log(SN_LOG_WARN, t->conf.task_id, "run over timeout_ms %llu", (unsigned long long)t->conf.timeout_ms);
    sn_task_fault(t, SN_RS_TIMEOUT);
  }
}

static int sn__has_run(const sn_task *t) { return (t->proc && !t->proc->exited) || (t->zrun && t->pid > 0); }

/* Does this tick read the process table? */
static int sn__full_tick(sn_node *n) {
  sn_list *pos, *tmp;
  if (n->watch_ticks++ % SN_WATCH_FULL_EVERY == 0 || n->scan_soon)
    return 1;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->conf.mem_limit_kb && sn__has_run(t))
      return 1;
  }
  return 0;
}

static void sn__check_worker(sn_task *t, uint64_t now) {
  sn_conn *w = t->worker;
  if (w == NULL || !w->hello_done)
    return;
  if (t->conf.heartbeat_interval_ms && now - w->last_rx_ms > 3 * t->conf.heartbeat_interval_ms) {
    sn_log(SN_LOG_WARN, t->conf.task_id, "no frame from the worker for %llu ms", (unsigned long long)(now - w->last_rx_ms));
    sn_task_fault(t, SN_RS_HEARTBEAT);
    return;
  }
  if (!t->conf.accept_tasks)
    return;
  if (t->ping_id[0]) {
    if (now - t->ping_sent_ms < t->conf.ping_timeout_ms)
      return;
    t->ping_id[0] = '\0';
    t->ping_failures++;
    sn_log(SN_LOG_WARN, t->conf.task_id, "no pong within %llu ms (%d in a row)",
           (unsigned long long)t->conf.ping_timeout_ms, t->ping_failures);
    if (t->ping_failures >= 3) {
      t->ping_failures = 0;
      sn_task_fault(t, SN_RS_PING);
    }
    return;
  }
  if (now - t->last_activity_ms >= t->conf.ping_idle_ms) {
    char frame[96];
    snprintf(t->ping_id, sizeof(t->ping_id), "ping-");
    sn_random_hex(t->ping_id + 5, 8);
    t->ping_sent_ms = now;
    snprintf(frame, sizeof(frame), "{\"type\":\"ping\",\"job_id\":\"%s\"}", t->ping_id);
    sn_conn_send(w, frame, strlen(frame), 0);
  }
}

void sn_watch_tick(sn_node *n) {
  sn_list *pos, *tmp;
  size_t *buf = NULL, np = 0;
  uint64_t now = sn_now_ms();
  int full = sn__full_tick(n);

  if (full) {
    n->scan_soon = 0;
    if (sn_ptab_read(&n->ptab) != 0)
      sn_log(SN_LOG_WARN, NULL, "could not read the whole process table (%zu processes read)", n->ptab.n);
    np = n->ptab.n;
    buf = sn_malloc(sizeof(*buf) * (np + 1)); /* no tree holds more than every process */
    sn__orphans(n, n->ptab.v, np);
  }
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (full && sn__has_run(t))
      sn__check_memory(t, n->ptab.v, np, buf, now);
    if (sn__has_run(t))
      sn__check_timeout(t, now);
    sn__check_worker(t, now);
  }
  free(buf);
  sn_pools_adjust(n);
  sn_mem_tick(n, now);
}

static void sn__tick(uv_timer_t *h) { sn_watch_tick(h->data); }

void sn_watch_start(sn_node *n) {
  uv_timer_start(&n->watch_timer, sn__tick, n->cfg->watch_interval_ms, n->cfg->watch_interval_ms);
}
