/* GET /metrics: the node and its tasks in the Prometheus text format.
 *
 * Rendered straight into one buffer from the counters the node keeps anyway:
 * no JSON, no allocation per task beyond the buffer's growth. Each family is
 * one pass over the tasks, because the format wants a family's samples
 * together. The label set of each task is escaped once into `labels`. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_prom.h"
#include "sn_util.h"

typedef struct sn_mctx {
  sn_node *n;
  sn_buf *b;
  sn_buf labels;    /* 'task_id="..",kind=".."' of every task, back to back */
  size_t *at, *len; /* where task i's labels are in `labels` */
  sn_task **tasks;
  size_t ntasks;
} sn_mctx;

typedef uint64_t (*sn_task_value)(const sn_task *t);

static void sn__sample_u64(sn_buf *b, const char *name, const char *labels, size_t llen, uint64_t v) {
  sn_buf_puts(b, name);
  sn_buf_puts(b, "{");
  sn_buf_append(b, labels, llen);
  sn_buf_puts(b, "} ");
  sn_buf_u64(b, v);
  sn_buf_puts(b, "\n");
}

/* One family with one sample per task. */
static void sn__per_task(sn_mctx *m, const char *name, const char *type, const char *help, sn_task_value fn) {
  sn_prom_family(m->b, name, type, help);
  for (size_t i = 0; i < m->ntasks; i++)
    sn__sample_u64(m->b, name, sn_buf_data(&m->labels) + m->at[i], m->len[i], fn(m->tasks[i]));
}

static uint64_t sn__runs(const sn_task *t) { return t->runs; }
static uint64_t sn__in(const sn_task *t) { return t->msgs_in; }
static uint64_t sn__out(const sn_task *t) { return t->msgs_out; }
static uint64_t sn__qlen(const sn_task *t) { return t->queue.len; }
static uint64_t sn__qbytes(const sn_task *t) { return t->queue.bytes; }
static uint64_t sn__qcap(const sn_task *t) { return t->queue.cap; }
static uint64_t sn__dropped(const sn_task *t) { return t->queue.dropped; }
static uint64_t sn__rss(const sn_task *t) { return t->mem_kb * 1024; }
static uint64_t sn__connected(const sn_task *t) { return t->worker != NULL; }
static uint64_t sn__jdone(const sn_task *t) { return t->jobs_done; }
static uint64_t sn__jfailed(const sn_task *t) { return t->jobs_failed; }
static uint64_t sn__busy(const sn_task *t) { return t->nrunning > 0; }

/* name{task labels,extra="value"} v */
static void sn__sample_extra(sn_mctx *m, const char *name, size_t i, const char *extra, const char *value, uint64_t v) {
  sn_buf *b = m->b;
  sn_buf_puts(b, name);
  sn_buf_puts(b, "{");
  sn_buf_append(b, sn_buf_data(&m->labels) + m->at[i], m->len[i]);
  sn_buf_puts(b, ",");
  sn_buf_puts(b, extra);
  sn_buf_puts(b, "=\"");
  sn_buf_puts(b, value);
  sn_buf_puts(b, "\"} ");
  sn_buf_u64(b, v);
  sn_buf_puts(b, "\n");
}

/* Families with a label beyond the task's: state and restart reason. */
static void sn__tasks_by_state(sn_mctx *m) {
  static const char name[] = "supernode_task_state";
  sn_prom_family(m->b, name, "gauge", "1 for the state the task is in, 0 for the others.");
  for (size_t i = 0; i < m->ntasks; i++)
    for (int s = SN_ST_BLOCKED; s <= SN_ST_FAILED; s++)
      sn__sample_extra(m, name, i, "state", sn_state_name(s), m->tasks[i]->state == s);
}

static void sn__tasks_restarts(sn_mctx *m) {
  static const char name[] = "supernode_task_restarts_total";
  sn_prom_family(m->b, name, "counter", "Restarts of the task's worker, by the reason its run ended.");
  for (size_t i = 0; i < m->ntasks; i++)
    for (int r = 0; r < SN_RS_COUNT; r++)
      sn__sample_extra(m, name, i, "reason", sn_reason_name(r), m->tasks[i]->restarts_by[r]);
}

/* The families with one sample per task, in the order they are written. */
static const struct {
  const char *name, *type, *help;
  sn_task_value fn;
} sn__task_families[] = {
    {"supernode_task_runs_total", "counter", "Runs of the task's worker started.", sn__runs},
    {"supernode_task_items_in_total", "counter", "Items the worker put into the task's queue.", sn__in},
    {"supernode_task_items_out_total", "counter", "Items sent to fetchers of the task.", sn__out},
    {"supernode_task_queue_items", "gauge", "Items in the task's queue.", sn__qlen},
    {"supernode_task_queue_bytes", "gauge", "Bytes of the items in the task's queue.", sn__qbytes},
    {"supernode_task_queue_capacity_items", "gauge", "The task's queue_len.", sn__qcap},
    {"supernode_task_queue_dropped_total", "counter", "Items dropped as the oldest of a full queue.", sn__dropped},
    {"supernode_task_memory_rss_bytes", "gauge", "Resident memory of the worker's process tree.", sn__rss},
    {"supernode_task_connected", "gauge", "1 while the task's worker is connected.", sn__connected},
    {"supernode_task_busy", "gauge", "1 while the task's worker runs a job.", sn__busy},
    {"supernode_task_jobs_done_total", "counter", "Jobs the task's worker ran to their end.", sn__jdone},
    {"supernode_task_jobs_failed_total", "counter", "Jobs on the task's worker that ended in error or timeout.",
     sn__jfailed},
};

static void sn__tasks(sn_mctx *m) {
  sn__tasks_by_state(m);
  sn__tasks_restarts(m);
  for (size_t i = 0; i < sizeof(sn__task_families) / sizeof(sn__task_families[0]); i++)
    sn__per_task(m, sn__task_families[i].name, sn__task_families[i].type, sn__task_families[i].help,
                 sn__task_families[i].fn);
}

/* ---- node-wide ---- */

static void sn__gauge(sn_buf *b, const char *name, const char *help, double v) {
  sn_prom_family(b, name, "gauge", help);
  sn_buf_printf(b, "%s ", name);
  sn_prom_double(b, v);
  sn_buf_puts(b, "\n");
}

static void sn__connections(sn_mctx *m) {
  static const char *const roles[] = {"none", "http", "cmd", "stat", "fetch", "fetch_all", "worker"};
  size_t count[7] = {0};
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &m->n->conns) {
    int r = sn_list_entry(pos, sn_conn, link)->role;
    if (r >= 0 && r < 7)
      count[r]++;
  }
  sn_prom_family(m->b, "supernode_connections", "gauge", "Open connections by role (none: upgrading or idle).");
  for (int r = 0; r < 7; r++)
    sn_buf_printf(m->b, "supernode_connections{role=\"%s\"} %zu\n", roles[r], count[r]);
  sn__gauge(m->b, "supernode_connections_max", "The max_connections limit.", (double)m->n->cfg->max_connections);
  sn__gauge(m->b, "supernode_fetchers", "Websocket fetchers (one task or all tasks).",
            (double)(count[SN_ROLE_WS_FETCH] + count[SN_ROLE_WS_FETCH_ALL]));
}

static void sn__jobs(sn_mctx *m) {
  static const char *const open_names[] = {"created", "queued", "dispatched", "started"};
  static const char *const end_names[] = {"finished", "error", "timeout"};
  size_t open[4] = {0};
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &m->n->jobs) { /* bounded: open jobs and the ended ones kept */
    int s = sn_list_entry(pos, sn_job, link)->status;
    if (s <= SN_J_STARTED)
      open[s]++;
  }
  sn_prom_family(m->b, "supernode_jobs", "gauge", "Jobs not ended yet, by status.");
  for (int s = 0; s < 4; s++)
    sn_buf_printf(m->b, "supernode_jobs{status=\"%s\"} %zu\n", open_names[s], open[s]);
  sn_prom_family(m->b, "supernode_jobs_ended_total", "counter", "Jobs ended, by status.");
  for (int s = 0; s < 3; s++) {
    sn_buf_printf(m->b, "supernode_jobs_ended_total{status=\"%s\"} ", end_names[s]);
    sn_buf_u64(m->b, m->n->jobs_ended[s]);
    sn_buf_puts(m->b, "\n");
  }
  sn_prom_family(m->b, "supernode_job_duration_seconds", "histogram", "Jobs from submission to their end.");
  sn_prom_histo(m->b, "supernode_job_duration_seconds", "", &m->n->job_seconds);
}

static void sn__backends(sn_mctx *m) {
  sn_node *n = m->n;
  sn__gauge(m->b, "supernode_redis_enabled", "1 when redis_url is set.", n->mirror != NULL);
  sn__gauge(m->b, "supernode_redis_up", "1 while the node is connected to Redis.",
            n->mirror && strcmp(sn_mirror_state(n->mirror), "connected") == 0);
  sn__gauge(m->b, "supernode_redis_mirror_lag", "Writes to Redis not yet answered.", (double)sn_mirror_lag(n->mirror));
  sn__gauge(m->b, "supernode_zinit_enabled", "1 when the zinit backend is on.", n->zinit != NULL);
  sn__gauge(m->b, "supernode_zinit_up", "1 while the node is connected to zinit.", n->zinit && sn_zinit_up(n->zinit));
}

/* The standard process_* series, from /proc/self (its stat line read as the
 * watch reads every process's: sn_pstat_read). */
static void sn__process(sn_buf *b) {
  sn_pstat st;
  unsigned long long btime = 0;
  double tick = (double)sysconf(_SC_CLK_TCK);
  if (sn_pstat_read(getpid(), &st) != 0)
    memset(&st, 0, sizeof(st)); /* the figures read 0, as they did when the line could not be read */
  FILE *f = fopen("/proc/stat", "re");
  char line[256];
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "btime %llu", &btime) == 1)
      break;
  if (f)
    fclose(f);
  size_t fds = 0;
  DIR *d = opendir("/proc/self/fd");
  for (struct dirent *e; d && (e = readdir(d)) != NULL;)
    fds += e->d_name[0] != '.';
  if (d)
    closedir(d);
  struct rlimit rl = {0, 0};
  getrlimit(RLIMIT_NOFILE, &rl);
  sn_prom_family(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  sn_buf_puts(b, "process_cpu_seconds_total ");
  sn_prom_double(b, (double)st.cpu_ticks / tick);
  sn_buf_puts(b, "\n");
  sn__gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.", (double)st.rss_kb * 1024.0);
  sn__gauge(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", (double)st.vsize);
  sn__gauge(b, "process_open_fds", "Number of open file descriptors.", (double)(fds > 0 ? fds - 1 : 0)); /* minus the DIR's own */
  sn__gauge(b, "process_max_fds", "Maximum number of open file descriptors.", (double)rl.rlim_cur);
  sn__gauge(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            (double)btime + (double)st.start_time / tick);
}

static void sn__node(sn_mctx *m) {
  sn_node *n = m->n;
  sn_prom_family(m->b, "supernode_build_info", "gauge", "The node's version and id (always 1).");
  sn_buf_puts(m->b, "supernode_build_info{version=\"");
  sn_prom_label_value(m->b, SN_VERSION);
  sn_buf_puts(m->b, "\",node_id=\"");
  sn_prom_label_value(m->b, n->node_id);
  sn_buf_puts(m->b, "\"} 1\n");
  sn__gauge(m->b, "supernode_tasks", "Tasks the node has.", (double)n->ntasks);
  sn__connections(m);
  sn__jobs(m);
  sn__backends(m);
}

static void sn__collect_tasks(sn_mctx *m) {
  sn_list *pos, *tmp;
  size_t i = 0;
  m->tasks = sn_calloc(m->n->ntasks + 1, sizeof(*m->tasks));
  m->at = sn_calloc(m->n->ntasks + 1, sizeof(size_t));
  m->len = sn_calloc(m->n->ntasks + 1, sizeof(size_t));
  sn_buf_init(&m->labels, 0);
  sn_list_foreach(pos, tmp, &m->n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (i == m->n->ntasks)
      break;
    m->tasks[i] = t;
    m->at[i] = m->labels.len;
    sn_buf_puts(&m->labels, "task_id=\"");
    sn_prom_label_value(&m->labels, t->conf.task_id);
    sn_buf_puts(&m->labels, "\",kind=\"");
    sn_prom_label_value(&m->labels, t->conf.kind);
    sn_buf_puts(&m->labels, "\"");
    m->len[i] = m->labels.len - m->at[i];
    i++;
  }
  m->ntasks = i;
}

void sn_metrics_render(sn_node *n, sn_buf *out) {
  sn_mctx m = {.n = n, .b = out};
  uint64_t t0 = uv_hrtime();
  sn__collect_tasks(&m);
  sn__node(&m);
  sn__process(out);
  sn__tasks(&m);
  sn_buf_free(&m.labels);
  free(m.tasks);
  free(m.at);
  free(m.len);
  sn_log(SN_LOG_DEBUG, NULL, "metrics: %zu tasks, %zu bytes in %.2f ms", m.ntasks, out->len,
         (double)(uv_hrtime() - t0) / 1e6);
}

void sn_metrics_http(sn_conn *c) {
  sn_buf b;
  sn_buf_init(&b, 0);
  sn_metrics_render(c->node, &b);
  sn_http_respond_typed(c, 200, "text/plain; version=0.0.4; charset=utf-8", sn_buf_data(&b), b.len);
  sn_buf_free(&b);
}
