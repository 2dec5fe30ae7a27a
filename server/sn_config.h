/* The node's configuration: defaults, the JSON file, command-line overrides. */
#ifndef SN_CONFIG_H
#define SN_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sn_err.h"

typedef struct sn_config {
  char listen_host[256];
  int listen_port;
  int log_level;
  char *node_id;          /* owned; hostname when unset */
  char *operator_token;   /* owned, NULL = none */
  char *worker_token;     /* owned, NULL = none */
  int allow_remote;
  json_t *allowed_origins; /* array of exact origins, owned, NULL = none */
  json_t *allowed_hosts;   /* array of host names, owned, NULL = none */
  json_t *exec_allow;     /* array of patterns, owned, NULL = anything */
  uint64_t max_message_bytes;
  uint64_t max_tasks;
  uint64_t max_connections;
  uint64_t hello_timeout_ms;
  uint64_t shutdown_timeout_ms;
  uint64_t watch_interval_ms;
  uint64_t max_queued_jobs;   /* jobs waiting for a worker, node-wide */
  uint64_t jobs_keep;         /* ended jobs kept for job_status */
  uint64_t jobs_keep_bytes;   /* ... and at most this many bytes of their payloads and outputs */
  char *redis_url;            /* owned; NULL = no Redis */
  uint64_t reply_ttl_s;       /* lifetime of hero:reply:{id} lists */
  uint64_t job_ttl_s;         /* lifetime of ended hero:job:{id} hashes and of worker queues; 0 = for ever */
  int mirror_data;            /* XADD every item to supernode:{node}:data:{task} */
  int zinit_backend;          /* zinit.mode == "backend": exec tasks run as zinit services */
  char *zinit_socket;         /* owned */
  char zinit_prefix[64];
  int zinit_protocol;         /* 0 auto, 1 jsonrpc, 2 text (SN_ZPROTO_*) */
  char *zinit_config_dir;     /* owned; the text protocol writes service files here */
  char *state_dir;            /* owned; NULL = no state file */
  int queue_fsync_always;     /* queue_fsync: "always" (1) or "every_ms" (0) */
  uint64_t queue_fsync_ms;
  char *shim_path;        /* owned; NULL = supernode-shim beside the binary */
  char *tls_cert, *tls_key; /* owned PEM paths; both NULL = plain http/ws */
  int net_autocreate;
  json_t *task_defaults;  /* object, owned */
  json_t *templates;      /* object of objects, owned */
  json_t *tasks;          /* array of task objects started at boot, owned */
  json_t *kinds;          /* pools: kind -> task fields + min/max/warm..., owned, may be NULL */
} sn_config;

void sn_config_init(sn_config *cfg);
void sn_config_free(sn_config *cfg);
/* Reads and validates a JSON config file over the current values. */
int sn_config_load_file(sn_config *cfg, const char *path, sn_error *err);
int sn_config_load_json(sn_config *cfg, const json_t *root, sn_error *err);
/* "HOST:PORT", "[v6]:PORT" or ":PORT". */
int sn_config_set_listen(sn_config *cfg, const char *hostport, sn_error *err);
/* True when exec0 is allowed by exec_allow (always true without a list). */
int sn_config_exec_allowed(const sn_config *cfg, const char *exec0);
struct sn_taskconf;
/* Applies exec_allow to a task: exec[0] and health_check[0] must match it,
 * and env may not hold variables that change what a program loads or runs
 * (LD_*, interpreter start-up hooks). 0, or SN_EUNAUTH with err filled. */
int sn_config_task_allowed(const sn_config *cfg, const struct sn_taskconf *conf, sn_error *err);

#endif
