#include "sn_taskconf.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <pwd.h>
#include <unistd.h>

#include "sn_util.h"

static const struct {
  int sig;
  const char *name;
} sn__signals[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},
    {SIGPWR, "SIGPWR"},   {SIGSYS, "SIGSYS"},
};

const char *sn_signame(int sig) {
  for (size_t i = 0; i < sizeof(sn__signals) / sizeof(sn__signals[0]); i++)
    if (sn__signals[i].sig == sig)
      return sn__signals[i].name;
  return NULL;
}

int sn_sigparse(const char *name) {
  if (strncasecmp(name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < sizeof(sn__signals) / sizeof(sn__signals[0]); i++)
    if (strcasecmp(sn__signals[i].name + 3, name) == 0)
      return sn__signals[i].sig;
  return -1;
}

static const char *const sn__restart_names[] = {"always", "on-failure", "never"};

const char *sn_restart_name(int restart) { return sn__restart_names[restart]; }

/* Unsigned integer fields: name, offset, default, largest accepted value. */
typedef struct sn__ufield {
  const char *name;
  size_t off;
  uint64_t def;
  uint64_t max;
} sn__ufield;

#define SN__U(name, def, max) {#name, offsetof(sn_taskconf, name), def, max}
#define SN__DAY 86400000ull
static const sn__ufield sn__ufields[] = {
    SN__U(mem_limit_kb, 0, 1ull << 40),
    SN__U(timeout_ms, 0, 30 * SN__DAY),
    SN__U(heartbeat_interval_ms, 0, SN__DAY),
    SN__U(second_sig_duration_ms, 3000, 3600000),
    SN__U(exec_interval_ms, 0, 30 * SN__DAY),
    SN__U(backoff_ms, 100, SN__DAY),
    SN__U(backoff_max_ms, 30000, SN__DAY),
    SN__U(max_restarts, 10, 10000),
    SN__U(restart_window_ms, 60000, 30 * SN__DAY),
    SN__U(ping_idle_ms, 600000, 30 * SN__DAY),
    SN__U(ping_timeout_ms, 5000, SN__DAY),
    SN__U(queue_len, 1000, 10000000),
    SN__U(queue_bytes, 0, 1ull << 40),
    SN__U(health_interval_ms, 2000, SN__DAY),
    SN__U(health_timeout_ms, 5000, SN__DAY),
    SN__U(health_failures, 3, 1000),
    SN__U(err_kill, 3, 16),
    SN__U(err_recent_ms, 60000, SN__DAY),
};
#define SN__NUFIELDS (sizeof(sn__ufields) / sizeof(sn__ufields[0]))

/* Fields of the protocol that later parts of the node will enforce; until they
 * do, a request naming them is refused rather than silently ignored. */
static const char *const sn__later_fields[] = {NULL};

static uint64_t *sn__uptr(sn_taskconf *c, size_t off) { return (uint64_t *)((char *)c + off); }

static int sn__parse_uint(const json_t *v, const sn__ufield *f, sn_taskconf *c, sn_error *err) {
  json_int_t n;
  if (!json_is_integer(v) || (n = json_integer_value(v)) < 0 || (uint64_t)n > f->max)
    return sn_seterr(err, SN_EBADREQ, "field '%s' must be an integer from 0 to %llu", f->name,
                     (unsigned long long)f->max);
  *sn__uptr(c, f->off) = (uint64_t)n;
  return 0;
}

static int sn__parse_strarray(const json_t *v, const char *name, json_t **out, sn_error *err) {
  size_t i;
  json_t *e;
  if (!json_is_array(v) || json_array_size(v) == 0)
    return sn_seterr(err, SN_EBADREQ, "field '%s' must be a non-empty array of strings", name);
  json_array_foreach(v, i, e) {
    if (!json_is_string(e) || (i == 0 && json_string_length(e) == 0) ||
        strlen(json_string_value(e)) != json_string_length(e))
      return sn_seterr(err, SN_EBADREQ, "field '%s' must be a non-empty array of strings", name);
  }
  *out = json_deep_copy(v);
  return 0;
}

static int sn__parse_env(const json_t *v, json_t **out, sn_error *err) {
  const char *k;
  json_t *e;
  if (!json_is_object(v))
    return sn_seterr(err, SN_EBADREQ, "field 'env' must be an object of strings");
  json_object_foreach((json_t *)v, k, e) {
    if (!json_is_string(e) || k[0] == '\0' || strchr(k, '=') != NULL ||
        strlen(json_string_value(e)) != json_string_length(e))
      return sn_seterr(err, SN_EBADREQ, "field 'env' must be an object of strings");
  }
  *out = json_deep_copy(v);
  return 0;
}

static int sn__parse_string(const json_t *v, const char *name, char **out, sn_error *err) {
  if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
    return sn_seterr(err, SN_EBADREQ, "field '%s' must be a string", name);
  *out = sn_strdup(json_string_value(v));
  return 0;
}

static int sn__parse_enum(const json_t *v, const char *name, const char *const *names, int n,
                          int *out, sn_error *err) {
  if (json_is_string(v))
    for (int i = 0; i < n; i++)
      if (strcmp(json_string_value(v), names[i]) == 0) {
        *out = i;
        return 0;
      }
  return sn_seterr(err, SN_EBADREQ, "field '%s' has an invalid value", name);
}

/* Resolves a user name (or numeric uid) to uid and gid, once, at parse time. */
static int sn__parse_user(const json_t *v, sn_taskconf *c, sn_error *err) {
  struct passwd *pw;
  free(c->user);
  c->user = NULL;
  c->uid = c->gid = -1;
  if (json_is_null(v))
    return 0;
  if (!json_is_string(v) || json_string_length(v) == 0)
    return sn_seterr(err, SN_EBADREQ, "field 'user' must be a user name");
  if ((pw = getpwnam(json_string_value(v))) == NULL)
    return sn_seterr(err, SN_EBADREQ, "field 'user': no user '%.64s' on this machine", json_string_value(v));
  if (geteuid() != 0 && pw->pw_uid != geteuid())
    return sn_seterr(err, SN_EBADREQ, "field 'user': the node must run as root to run workers as another user");
  c->user = sn_strdup(json_string_value(v));
  c->uid = (long)pw->pw_uid;
  c->gid = (long)pw->pw_gid;
  return 0;
}

static int sn__parse_rlimits(const json_t *v, sn_taskconf *c, sn_error *err) {
  const char *k;
  json_t *e;
  c->rl_nofile = c->rl_nproc = c->rl_cpu_s = -1;
  if (json_is_null(v))
    return 0;
  if (!json_is_object(v))
    return sn_seterr(err, SN_EBADREQ, "field 'rlimits' must be an object like {\"nofile\":1024}");
  json_object_foreach((json_t *)v, k, e) {
    int64_t *slot = strcmp(k, "nofile") == 0 ? &c->rl_nofile
                    : strcmp(k, "nproc") == 0 ? &c->rl_nproc
                    : strcmp(k, "cpu_s") == 0 ? &c->rl_cpu_s : NULL;
    if (slot == NULL)
      return sn_seterr(err, SN_EBADREQ, "field 'rlimits': unknown limit '%.32s' (nofile, nproc, cpu_s)", k);
    if (!json_is_integer(e) || json_integer_value(e) < 0)
      return sn_seterr(err, SN_EBADREQ, "field 'rlimits.%s' must be a non-negative integer", k);
    *slot = json_integer_value(e);
  }
  return 0;
}

static int sn__parse_after(const json_t *v, sn_taskconf *c, sn_error *err) {
  size_t i;
  json_t *e;
  json_decref(c->after);
  c->after = NULL;
  if (json_is_null(v))
    return 0;
  if (!json_is_array(v))
    return sn_seterr(err, SN_EBADREQ, "field 'after' must be an array of task ids");
  json_array_foreach(v, i, e) {
    const char *d = json_string_value(e);
    if (d && strncmp(d, "zinit:", 6) == 0 && d[6] && !strpbrk(d + 6, "/\\.") && strlen(d) < 128)
      continue; /* a zinit service the node does not manage (checked against the backend later) */
    if (!json_is_string(e) || !sn_valid_task_id(json_string_value(e)))
      return sn_seterr(err, SN_EBADREQ, "field 'after' must be an array of task ids");
  }
  c->after = json_array_size(v) ? json_deep_copy(v) : NULL;
  return 0;
}

static int sn__parse_member(const char *k, const json_t *v, sn_taskconf *c, sn_error *err) {
  static const char *const modes[] = {"exec", "net"};

  for (size_t i = 0; i < SN__NUFIELDS; i++)
    if (strcmp(k, sn__ufields[i].name) == 0)
      return sn__parse_uint(v, &sn__ufields[i], c, err);
  if (strcmp(k, "task_id") == 0) {
    if (!json_is_string(v) || !sn_valid_task_id(json_string_value(v)))
      return sn_seterr(err, SN_EBADREQ,
                       "field 'task_id' must be 1..128 characters of [A-Za-z0-9_:-]");
    strcpy(c->task_id, json_string_value(v));
    return 0;
  }
  if (strcmp(k, "kind") == 0) {
    c->kind[0] = '\0';
    if (json_is_null(v))
      return 0;
    if (!json_is_string(v) || !sn_valid_kind(json_string_value(v)))
      return sn_seterr(err, SN_EBADREQ, "field 'kind' must be 1..128 characters of [A-Za-z0-9_-]");
    strcpy(c->kind, json_string_value(v));
    return 0;
  }
  if (strcmp(k, "mode") == 0)
    return sn__parse_enum(v, k, modes, 2, &c->mode, err);
  if (strcmp(k, "restart") == 0)
    return sn__parse_enum(v, k, sn__restart_names, 3, &c->restart, err);
  if (strcmp(k, "exec") == 0) {
    json_decref(c->exec);
    c->exec = NULL;
    return json_is_null(v) ? 0 : sn__parse_strarray(v, k, &c->exec, err);
  }
  if (strcmp(k, "health_check") == 0) {
    json_decref(c->health_check);
    c->health_check = NULL;
    return json_is_null(v) ? 0 : sn__parse_strarray(v, k, &c->health_check, err);
  }
  if (strcmp(k, "user") == 0)
    return sn__parse_user(v, c, err);
  if (strcmp(k, "after") == 0)
    return sn__parse_after(v, c, err);
  if (strcmp(k, "rlimits") == 0)
    return sn__parse_rlimits(v, c, err);
  if (strcmp(k, "env") == 0) {
    json_decref(c->env);
    c->env = NULL;
    return json_is_null(v) ? 0 : sn__parse_env(v, &c->env, err);
  }
  if (strcmp(k, "start_params") == 0) {
    free(c->start_params);
    c->start_params = NULL;
    return sn__parse_string(v, k, &c->start_params, err);
  }
  if (strcmp(k, "cwd") == 0) {
    free(c->cwd);
    c->cwd = NULL;
    return json_is_null(v) ? 0 : sn__parse_string(v, k, &c->cwd, err);
  }
  if (strcmp(k, "first_sig") == 0) {
    if (!json_is_string(v) || (c->first_sig = sn_sigparse(json_string_value(v))) < 0)
      return sn_seterr(err, SN_EBADREQ, "field 'first_sig' must be a signal name like \"SIGTERM\"");
    return 0;
  }
  if (strcmp(k, "accept_tasks") == 0) {
    if (!json_is_boolean(v))
      return sn_seterr(err, SN_EBADREQ, "field 'accept_tasks' must be a boolean");
    c->accept_tasks = json_is_true(v);
    return 0;
  }
  for (int i = 0; sn__later_fields[i]; i++)
    if (strcmp(k, sn__later_fields[i]) == 0)
      return sn_seterr(err, SN_EBADREQ, "field '%s' is not supported by this node yet", k);
  return sn_seterr(err, SN_EBADREQ, "unknown field '%s'", k);
}

static void sn__defaults(sn_taskconf *c) {
  memset(c, 0, sizeof(*c));
  for (size_t i = 0; i < SN__NUFIELDS; i++)
    *sn__uptr(c, sn__ufields[i].off) = sn__ufields[i].def;
  c->first_sig = SIGTERM;
  c->uid = c->gid = -1;
  c->rl_nofile = c->rl_nproc = c->rl_cpu_s = -1;
  c->mode = SN_MODE_EXEC;
  c->restart = SN_RESTART_ALWAYS;
}

static int sn__check(sn_taskconf *c, sn_error *err) {
  if (c->task_id[0] == '\0')
    return sn_seterr(err, SN_EBADREQ, "field 'task_id' is required");
  if (c->mode == SN_MODE_EXEC && c->exec == NULL)
    return sn_seterr(err, SN_EBADREQ, "field 'exec' is required for an exec task");
  if (c->queue_len == 0)
    return sn_seterr(err, SN_EBADREQ, "field 'queue_len' must be at least 1");
  if (c->backoff_max_ms < c->backoff_ms)
    c->backoff_max_ms = c->backoff_ms;
  if (c->start_params == NULL)
    c->start_params = sn_strdup("");
  return 0;
}

int sn_taskconf_parse(const json_t *obj, sn_taskconf *conf, sn_error *err) {
  const char *k;
  json_t *v;

  sn__defaults(conf);
  if (!json_is_object(obj))
    return sn_seterr(err, SN_EBADREQ, "a task must be a JSON object");
  json_object_foreach((json_t *)obj, k, v) {
    if (strcmp(k, "cmd") == 0 || strcmp(k, "id") == 0 || strcmp(k, "template") == 0)
      continue;
    if (sn__parse_member(k, v, conf, err))
      goto fail;
  }
  if (conf->after)
    for (size_t i = 0; i < json_array_size(conf->after); i++)
      if (strcmp(json_string_value(json_array_get(conf->after, i)), conf->task_id) == 0) {
        sn_seterr(err, SN_EBADREQ, "field 'after': a task cannot wait for itself");
        goto fail;
      }
  if (sn__check(conf, err) == 0)
    return 0;
fail:
  sn_taskconf_free(conf);
  return err && err->code ? err->code : SN_EBADREQ;
}

void sn_taskconf_free(sn_taskconf *conf) {
  json_decref(conf->exec);
  json_decref(conf->env);
  json_decref(conf->health_check);
  json_decref(conf->after);
  free(conf->start_params);
  free(conf->cwd);
  free(conf->user);
  conf->exec = conf->env = conf->health_check = conf->after = NULL;
  conf->start_params = conf->cwd = conf->user = NULL;
}

json_t *sn_taskconf_to_json(const sn_taskconf *c) {
  json_t *o = json_object();
  json_object_set_new(o, "task_id", json_string(c->task_id));
  json_object_set_new(o, "kind", c->kind[0] ? json_string(c->kind) : json_null());
  json_object_set_new(o, "mode", json_string(c->mode == SN_MODE_NET ? "net" : "exec"));
  json_object_set_new(o, "exec", c->exec ? json_deep_copy(c->exec) : json_null());
  json_object_set_new(o, "start_params", json_string(c->start_params ? c->start_params : ""));
  json_object_set_new(o, "env", c->env ? json_deep_copy(c->env) : json_object());
  json_object_set_new(o, "cwd", c->cwd ? json_string(c->cwd) : json_null());
  json_object_set_new(o, "first_sig", json_string(sn_signame(c->first_sig)));
  json_object_set_new(o, "restart", json_string(sn_restart_name(c->restart)));
  json_object_set_new(o, "accept_tasks", json_boolean(c->accept_tasks));
  json_object_set_new(o, "user", c->user ? json_string(c->user) : json_null());
  json_t *rl = json_object();
  if (c->rl_nofile >= 0)
    json_object_set_new(rl, "nofile", json_integer(c->rl_nofile));
  if (c->rl_nproc >= 0)
    json_object_set_new(rl, "nproc", json_integer(c->rl_nproc));
  if (c->rl_cpu_s >= 0)
    json_object_set_new(rl, "cpu_s", json_integer(c->rl_cpu_s));
  json_object_set_new(o, "rlimits", rl);
  json_object_set_new(o, "health_check", c->health_check ? json_deep_copy(c->health_check) : json_null());
  json_object_set_new(o, "after", c->after ? json_deep_copy(c->after) : json_array());
  for (size_t i = 0; i < SN__NUFIELDS; i++)
    json_object_set_new(o, sn__ufields[i].name,
                        json_integer((json_int_t) * (const uint64_t *)((const char *)c + sn__ufields[i].off)));
  return o;
}
