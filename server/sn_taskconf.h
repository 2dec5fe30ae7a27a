/* A task's settings: parsed and validated from JSON, with every default in one
 * table, and turned back into JSON for status replies and updates. */
#ifndef SN_TASKCONF_H
#define SN_TASKCONF_H

#include <jansson.h>
#include <stdint.h>

#include "sn_err.h"

enum sn_mode { SN_MODE_EXEC, SN_MODE_NET };
enum sn_restart { SN_RESTART_ALWAYS, SN_RESTART_ON_FAILURE, SN_RESTART_NEVER };

typedef struct sn_taskconf {
  char task_id[129];
  char kind[129];
  int mode;
  json_t *exec;        /* array of strings, owned; NULL for net tasks */
  char *start_params;  /* owned, "" when unset */
  json_t *env;         /* object of strings, owned, may be NULL */
  char *cwd;           /* owned, may be NULL */
  char *user;          /* owned, may be NULL */
  long uid, gid;       /* resolved from user, -1 when unset */
  int64_t rl_nofile, rl_nproc, rl_cpu_s; /* rlimits, -1 when unset */
  json_t *health_check; /* argv array, owned, may be NULL */
  json_t *after;        /* array of task ids that must be running first, owned, may be NULL */
  int first_sig;
  int restart;
  int accept_tasks;
  uint64_t mem_limit_kb, timeout_ms, heartbeat_interval_ms, second_sig_duration_ms,
      exec_interval_ms, backoff_ms, backoff_max_ms, max_restarts, restart_window_ms,
      ping_idle_ms, ping_timeout_ms, queue_len, queue_bytes, health_interval_ms,
      health_timeout_ms, health_failures, err_kill, err_recent_ms;
} sn_taskconf;

/* Parses a task object (unknown members are refused, "cmd", "id" and
 * "template" are skipped) into conf, which the caller later releases with
 * sn_taskconf_free. On error conf holds nothing to free. */
int sn_taskconf_parse(const json_t *obj, sn_taskconf *conf, sn_error *err);
void sn_taskconf_free(sn_taskconf *conf);
/* The settings as a new JSON object (every field, defaults included). */
json_t *sn_taskconf_to_json(const sn_taskconf *conf);

/* Signal names, "SIGTERM" or "TERM" ↔ number; NULL / -1 when unknown. */
const char *sn_signame(int sig);
int sn_sigparse(const char *name);
const char *sn_restart_name(int restart);

#endif
