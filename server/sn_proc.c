/* Spawning a worker: argv without a shell, its own process group, stdout and
 * stderr read line by line into the node log, exit reported to the task. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

#define SN_LINE_MAX 4096

extern char **environ;

static void sn__proc_closed(uv_handle_t *h) {
  sn_proc *p = h->data;
  if (--p->open > 0)
    return;
  sn_list_remove(&p->link);
  p->node->nprocs--;
  sn_buf_free(&p->lines[0]);
  sn_buf_free(&p->lines[1]);
  free(p);
}

static void sn__close_pipe(sn_proc *p, int i) {
  uv_handle_t *h = (uv_handle_t *)&p->pipes[i];
  if (!uv_is_closing(h))
    uv_close(h, sn__proc_closed);
}

void sn_proc_close_pipes(sn_proc *p) {
  sn__close_pipe(p, 0);
  sn__close_pipe(p, 1);
}

static void sn__log_line(sn_proc *p, int i, const char *s, size_t n) {
  if (n > 0 && s[n - 1] == '\r')
    n--;
  sn_log(SN_LOG_INFO, p->task_id, "%s: %.*s", i ? "stderr" : "stdout", (int)n, s);
  if (p->task)
    sn_task_keep_line(p->task, i, s, n);
}

static void sn__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char slab[65536]; /* one read at a time on this loop: a shared slab is safe */
  (void)h;
  (void)suggested;
  buf->base = slab;
  buf->len = sizeof(slab);
}

static void sn__read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sn_proc *p = s->data;
  int i = s == (uv_stream_t *)&p->pipes[1];
  sn_buf *line = &p->lines[i];
  const char *d = buf->base, *end = buf->base + (nread > 0 ? nread : 0);

  if (nread < 0) {
    if (line->len)
      sn__log_line(p, i, sn_buf_data(line), line->len);
    sn_buf_reset(line);
    sn__close_pipe(p, i);
    return;
  }
  while (d < end) {
    const char *nl = memchr(d, '\n', (size_t)(end - d));
    size_t n = (size_t)((nl ? nl : end) - d);
    if (line->len + n > SN_LINE_MAX)
      n = SN_LINE_MAX - line->len; /* an endless line is logged in pieces */
    sn_buf_append(line, d, n);
    d += n;
    if (nl && d == nl)
      d++;
    else if (line->len < SN_LINE_MAX)
      continue;
    sn__log_line(p, i, sn_buf_data(line), line->len);
    sn_buf_reset(line);
  }
}

static void sn__exit(uv_process_t *proc, int64_t status, int term_signal) {
  sn_proc *p = proc->data;
  p->exited = 1;
  /* Whatever the run left behind dies with it, so that a restart never runs
   * beside leftovers: the group, and (if the shim itself was killed) its
   * orphans, which the watch sweeps up as the node's adopted children. */
  kill(-p->pid, SIGKILL);
  p->node->scan_soon = 1; /* orphans of a killed shim are the node's now: the next tick finds them */
  if (p->task)
    sn_task_on_exit(p->task, status, term_signal);
  uv_close((uv_handle_t *)proc, sn__proc_closed);
  sn_node_maybe_finish(p->node);
}

void sn_proc_free_strv(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

/* Builds envp: the node's environment minus SUPERNODE_* and the task's own
 * keys, then the task's env, then ours. Strings are owned by the returned array. */
char **sn_proc_env(sn_task *t) {
  size_t n = 0, k = 0, extra = t->conf.env ? json_object_size(t->conf.env) : 0;
  char **env;
  const char *key;
  json_t *v;

  while (environ[n])
    n++;
  env = sn_calloc(n + extra + 6, sizeof(char *));
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t kl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    char name[256];
    if (strncmp(environ[i], "SUPERNODE_", 10) == 0 || kl >= sizeof(name))
      continue;
    memcpy(name, environ[i], kl);
    name[kl] = '\0';
    if (t->conf.env && json_object_get(t->conf.env, name))
      continue;
    env[k++] = sn_strdup(environ[i]);
  }
  if (t->conf.env)
    json_object_foreach(t->conf.env, key, v) {
      size_t len = strlen(key) + json_string_length(v) + 2;
      env[k] = sn_malloc(len);
      snprintf(env[k++], len, "%s=%s", key, json_string_value(v));
    }
  /* With TLS, the worker trusts the node's own certificate (SDK: a trust
   * anchor; the name it dials must be in the certificate). */
  const char *ours[5][2] = {{"SUPERNODE_URL", t->node->worker_url},
                            {"SUPERNODE_TASK_ID", t->conf.task_id},
                            {"SUPERNODE_TOKEN", t->secret},
                            {"SUPERNODE_START_PARAMS", t->conf.start_params},
                            {"SUPERNODE_CA_FILE", t->node->cfg->tls_cert}};
  for (int i = 0; i < 5 && ours[i][1]; i++) {
    size_t len = strlen(ours[i][0]) + strlen(ours[i][1]) + 2;
    env[k] = sn_malloc(len);
    snprintf(env[k++], len, "%s=%s", ours[i][0], ours[i][1]);
  }
  env[k] = NULL;
  return env;
}


/* argv for the shim: identity and limits first, then "--" and cmd (the
 * worker's argv, or its health check's). */
char **sn_proc_shim_argv(sn_task *t, const json_t *cmd) {
  const sn_taskconf *c = &t->conf;
  size_t argc = json_array_size(cmd), k = 0;
  char **argv = sn_calloc(argc + 14, sizeof(char *));
  char num[32];
  argv[k++] = sn_strdup(t->node->shim_path);
#define SN__OPT(flag, v)                              \
  if ((v) >= 0) {                                     \
    argv[k++] = sn_strdup(flag);                      \
    snprintf(num, sizeof(num), "%lld", (long long)(v)); \
    argv[k++] = sn_strdup(num);                       \
  }
  SN__OPT("--uid", c->uid);
  SN__OPT("--gid", c->gid);
  SN__OPT("--nofile", c->rl_nofile);
  SN__OPT("--nproc", c->rl_nproc);
  SN__OPT("--cpu", c->rl_cpu_s);
#undef SN__OPT
  argv[k++] = sn_strdup("--");
  for (size_t i = 0; i < argc; i++)
    argv[k++] = sn_strdup(json_string_value(json_array_get(cmd, i)));
  return argv;
}

void sn_proc_cloexec_all(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name), fl;
    if (fd > 2 && fd != dirfd(d) && (fl = fcntl(fd, F_GETFD)) >= 0 && !(fl & FD_CLOEXEC))
      fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
  }
  closedir(d);
}

int sn_proc_spawn(sn_task *t, sn_error *err) {
  sn_node *n = t->node;
  char **argv = sn_proc_shim_argv(t, t->conf.exec);
  char **env;
  uv_process_options_t o;
  uv_stdio_container_t stdio[3];
  sn_proc *p = sn_calloc(1, sizeof(*p));
  int rc;
  const char *exec0 = json_string_value(json_array_get(t->conf.exec, 0));

  /* The shim reports a missing program only after the fork; check here so
   * that a start command can refuse it at once. */
  if (strchr(exec0, '/') ? access(exec0, X_OK) != 0 : 0) {
    sn_proc_free_strv(argv);
    free(p);
    return sn_seterr(err, SN_EBADREQ, "field 'exec': cannot run %s: %s", exec0, strerror(errno));
  }
  if (sn_random_hex(t->secret, 32) != 0) {
    sn_proc_free_strv(argv);
    free(p);
    return sn_seterr(err, SN_EINTERNAL, "cannot read randomness for the worker secret");
  }
  env = sn_proc_env(t);
  p->node = n;
  p->task = t;
  snprintf(p->task_id, sizeof(p->task_id), "%s", t->conf.task_id);
  sn_buf_init(&p->lines[0], 0);
  sn_buf_init(&p->lines[1], 0);
  for (int i = 0; i < 2; i++) {
    uv_pipe_init(n->loop, &p->pipes[i], 0);
    p->pipes[i].data = p;
  }
  memset(&o, 0, sizeof(o));
  memset(stdio, 0, sizeof(stdio));
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&p->pipes[0];
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&p->pipes[1];
  o.file = argv[0];
  o.args = argv;
  o.env = env;
  o.cwd = t->conf.cwd;
  o.exit_cb = sn__exit;
  /* Detached means setsid(): the shim leads its own session and process
   * group, which the worker joins, so a stop can signal the whole group. */
  o.flags = UV_PROCESS_DETACHED;
  o.stdio = stdio;
  o.stdio_count = 3;
  p->process.data = p;
  sn_proc_cloexec_all();
  rc = uv_spawn(n->loop, &p->process, &o);
  sn_proc_free_strv(argv);
  sn_proc_free_strv(env);
  sn_list_push(&n->procs, &p->link);
  n->nprocs++;
  if (rc != 0) {
    /* The process handle was initialised and must be closed too. */
    p->open = 3;
    p->exited = 1;
    uv_close((uv_handle_t *)&p->process, sn__proc_closed);
    sn_proc_close_pipes(p);
    return sn_seterr(err, SN_EINTERNAL, "cannot run the shim %s: %s", n->shim_path, uv_strerror(rc));
  }
  p->open = 3;
  p->pid = p->process.pid;
  uv_read_start((uv_stream_t *)&p->pipes[0], sn__alloc, sn__read);
  uv_read_start((uv_stream_t *)&p->pipes[1], sn__alloc, sn__read);
  t->proc = p;
  t->pid = p->pid;
  return 0;
}

int sn_proc_kill(sn_proc *p, int sig) {
  if (p->exited)
    return -ESRCH;
  /* SIGKILL reaches the whole tree, including descendants that left the
   * group with setsid; other signals go to the group (the shim forwards them
   * to a worker that left it). */
  if (sig == SIGKILL)
    sn_pkill_tree(p->pid, SIGKILL, 3);
  return kill(-p->pid, sig) == 0 ? 0 : -errno;
}

void sn_proc_abandon(sn_proc *p) {
  kill(-p->pid, SIGKILL);
  p->exited = 1;
  if (p->task) {
    p->task->proc = NULL;
    p->task->pid = 0;
    p->task = NULL;
  }
  uv_close((uv_handle_t *)&p->process, sn__proc_closed);
  sn_proc_close_pipes(p);
}
