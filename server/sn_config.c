#include "sn_config.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_taskconf.h"
#include "sn_util.h"

void sn_config_init(sn_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->listen_host, "127.0.0.1");
  cfg->listen_port = 7700;
  cfg->log_level = SN_LOG_INFO;
  cfg->max_message_bytes = 1024 * 1024;
  cfg->max_tasks = 1000;
  cfg->max_connections = 1000;
  cfg->hello_timeout_ms = 5000;
  cfg->shutdown_timeout_ms = 0; /* 0: derived from the tasks' own escalation times */
  cfg->watch_interval_ms = 1000;
  cfg->max_queued_jobs = 1000;
  cfg->jobs_keep = 10000;
  cfg->jobs_keep_bytes = 64u << 20;
  cfg->queue_fsync_ms = 100;
  cfg->reply_ttl_s = 3600;
  cfg->job_ttl_s = 86400;
  strcpy(cfg->zinit_prefix, "sn-");
  cfg->task_defaults = json_object();
  cfg->templates = json_object();
  cfg->tasks = json_array();
}

void sn_config_free(sn_config *cfg) {
  free(cfg->node_id);
  free(cfg->operator_token);
  free(cfg->worker_token);
  free(cfg->shim_path);
  free(cfg->tls_cert);
  free(cfg->tls_key);
  free(cfg->redis_url);
  free(cfg->zinit_socket);
  free(cfg->zinit_config_dir);
  free(cfg->state_dir);
  json_decref(cfg->exec_allow);
  json_decref(cfg->allowed_origins);
  json_decref(cfg->allowed_hosts);
  json_decref(cfg->task_defaults);
  json_decref(cfg->templates);
  json_decref(cfg->tasks);
  json_decref(cfg->kinds);
  memset(cfg, 0, sizeof(*cfg));
}

int sn_config_set_listen(sn_config *cfg, const char *hostport, sn_error *err) {
  const char *colon = strrchr(hostport, ':');
  const char *host = hostport;
  size_t hlen;
  char *end;
  long port;

  if (colon == NULL)
    return sn_seterr(err, SN_EBADREQ, "listen must be HOST:PORT, got '%s'", hostport);
  port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
    return sn_seterr(err, SN_EBADREQ, "listen port must be 0..65535, got '%s'", colon + 1);
  hlen = (size_t)(colon - hostport);
  if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
    host++;
    hlen -= 2;
  }
  if (hlen >= sizeof(cfg->listen_host))
    return sn_seterr(err, SN_EBADREQ, "listen host too long");
  if (hlen == 0) {
    strcpy(cfg->listen_host, "0.0.0.0");
  } else {
    memcpy(cfg->listen_host, host, hlen);
    cfg->listen_host[hlen] = '\0';
  }
  cfg->listen_port = (int)port;
  return 0;
}

static int sn__get_uint(const json_t *v, const char *name, uint64_t min, uint64_t max,
                        uint64_t *out, sn_error *err) {
  json_int_t n;
  if (!json_is_integer(v) || (n = json_integer_value(v)) < (json_int_t)min || (uint64_t)n > max)
    return sn_seterr(err, SN_EBADREQ, "config '%s' must be an integer from %llu to %llu", name,
                     (unsigned long long)min, (unsigned long long)max);
  *out = (uint64_t)n;
  return 0;
}

static int sn__get_str(const json_t *v, const char *name, char **out, sn_error *err) {
  if (json_is_null(v)) {
    free(*out);
    *out = NULL;
    return 0;
  }
  if (!json_is_string(v) || json_string_length(v) == 0)
    return sn_seterr(err, SN_EBADREQ, "config '%s' must be a non-empty string", name);
  free(*out);
  *out = sn_strdup(json_string_value(v));
  return 0;
}

static int sn__get_bool(const json_t *v, const char *name, int *out, sn_error *err) {
  if (!json_is_boolean(v))
    return sn_seterr(err, SN_EBADREQ, "config '%s' must be true or false", name);
  *out = json_is_true(v);
  return 0;
}

static int sn__set_json(json_t **slot, const json_t *v, int array, const char *name,
                        sn_error *err) {
  if (array ? !json_is_array(v) : !json_is_object(v))
    return sn_seterr(err, SN_EBADREQ, "config '%s' must be an %s", name,
                     array ? "array" : "object");
  json_decref(*slot);
  *slot = json_deep_copy(v);
  return 0;
}

static int sn__zinit(sn_config *cfg, const json_t *v, sn_error *err) {
  const char *mode = json_string_value(json_object_get(v, "mode"));
  const char *sock = json_string_value(json_object_get(v, "socket"));
  const char *prefix = json_string_value(json_object_get(v, "prefix"));
  const char *proto = json_string_value(json_object_get(v, "protocol"));
  if (!json_is_object(v))
    return sn_seterr(err, SN_EBADREQ, "config 'zinit' must be an object");
  if (mode && strcmp(mode, "off") != 0 && strcmp(mode, "backend") != 0)
    return sn_seterr(err, SN_EBADREQ, "config 'zinit.mode' must be off or backend");
  const char *dir = json_string_value(json_object_get(v, "config_dir"));
  if (proto && strcmp(proto, "auto") != 0 && strcmp(proto, "jsonrpc") != 0 && strcmp(proto, "text") != 0)
    return sn_seterr(err, SN_EBADREQ, "config 'zinit.protocol' must be auto, jsonrpc or text");
  cfg->zinit_protocol = !proto || strcmp(proto, "auto") == 0 ? 0 : strcmp(proto, "jsonrpc") == 0 ? 1 : 2;
  free(cfg->zinit_config_dir);
  cfg->zinit_config_dir = sn_strdup(dir ? dir : "/etc/zinit");
  if (prefix && (strlen(prefix) >= sizeof(cfg->zinit_prefix) || strpbrk(prefix, "/\\.")))
    return sn_seterr(err, SN_EBADREQ, "config 'zinit.prefix' must be short and hold no / \\ or .");
  cfg->zinit_backend = mode && strcmp(mode, "backend") == 0;
  free(cfg->zinit_socket);
  cfg->zinit_socket = sn_strdup(sock ? sock : "/var/run/zinit.sock");
  if (prefix)
    strcpy(cfg->zinit_prefix, prefix);
  return 0;
}

/* tls: {"cert": PEM path, "key": PEM path}, or null for none. */
static int sn__tls(sn_config *cfg, const json_t *v, sn_error *err) {
  const char *cert = json_string_value(json_object_get(v, "cert"));
  const char *key = json_string_value(json_object_get(v, "key"));
  free(cfg->tls_cert);
  free(cfg->tls_key);
  cfg->tls_cert = cfg->tls_key = NULL;
  if (json_is_null(v))
    return 0;
  if (!json_is_object(v) || !cert || !key || !cert[0] || !key[0])
    return sn_seterr(err, SN_EBADREQ, "config 'tls' must be {\"cert\": PEM path, \"key\": PEM path}");
  /* Absolute, so that workers (any cwd) and reloads name the same files. */
  cfg->tls_cert = realpath(cert, NULL);
  cfg->tls_key = realpath(key, NULL);
  if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
    return sn_seterr(err, SN_EBADREQ, "config 'tls': cannot find %s", cfg->tls_cert ? key : cert);
  return 0;
}

static int sn__check_exec_allow(const json_t *v, sn_error *err) {
  size_t i;
  json_t *e;
  if (!json_is_array(v))
    return sn_seterr(err, SN_EBADREQ, "config 'exec_allow' must be an array of paths or globs");
  json_array_foreach(v, i, e) {
    if (!json_is_string(e) || json_string_value(e)[0] != '/')
      return sn_seterr(err, SN_EBADREQ, "config 'exec_allow' entries must be absolute paths or globs");
  }
  return 0;
}

/* A list of non-empty strings (allowed_origins, allowed_hosts), or null. */
static int sn__set_strings(json_t **slot, const json_t *v, const char *name, sn_error *err) {
  size_t i;
  json_t *e;
  if (!json_is_null(v)) {
    if (!json_is_array(v))
      return sn_seterr(err, SN_EBADREQ, "config '%s' must be an array of strings", name);
    json_array_foreach(v, i, e) {
      if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 255)
        return sn_seterr(err, SN_EBADREQ, "config '%s' entries must be strings of 1..255 bytes", name);
    }
  }
  json_decref(*slot);
  *slot = json_is_null(v) ? NULL : json_deep_copy(v);
  return 0;
}

/* Checks templates and boot tasks now, so a bad file fails at start-up with a
 * message naming the entry rather than later. */
static int sn__check_tasks(const sn_config *cfg, sn_error *err) {
  const char *name;
  json_t *t;
  size_t i;
  json_object_foreach(cfg->templates, name, t) {
    if (!json_is_object(t))
      return sn_seterr(err, SN_EBADREQ, "config template '%s' must be an object", name);
  }
  json_array_foreach(cfg->tasks, i, t) {
    if (!json_is_object(t) || !json_is_string(json_object_get(t, "task_id")))
      return sn_seterr(err, SN_EBADREQ, "config tasks[%zu] must be an object with a task_id", i);
  }
  return 0;
}

int sn_config_load_json(sn_config *cfg, const json_t *root, sn_error *err) {
  const char *k;
  json_t *v;
  int rc = 0;

  if (!json_is_object(root))
    return sn_seterr(err, SN_EBADREQ, "config must be a JSON object");
  json_object_foreach((json_t *)root, k, v) {
    if (strcmp(k, "listen") == 0)
      rc = json_is_string(v) ? sn_config_set_listen(cfg, json_string_value(v), err)
                             : sn_seterr(err, SN_EBADREQ, "config 'listen' must be a string");
    else if (strcmp(k, "log_level") == 0)
      rc = json_is_string(v) && (cfg->log_level = sn_log_parse_level(json_string_value(v))) >= 0
               ? 0
               : sn_seterr(err, SN_EBADREQ, "config 'log_level' must be error|warn|info|debug");
    else if (strcmp(k, "node_id") == 0)
      rc = sn__get_str(v, k, &cfg->node_id, err);
    else if (strcmp(k, "operator_token") == 0)
      rc = sn__get_str(v, k, &cfg->operator_token, err);
    else if (strcmp(k, "worker_token") == 0)
      rc = sn__get_str(v, k, &cfg->worker_token, err);
    else if (strcmp(k, "allow_remote") == 0)
      rc = sn__get_bool(v, k, &cfg->allow_remote, err);
    else if (strcmp(k, "allowed_origins") == 0)
      rc = sn__set_strings(&cfg->allowed_origins, v, k, err);
    else if (strcmp(k, "allowed_hosts") == 0)
      rc = sn__set_strings(&cfg->allowed_hosts, v, k, err);
    else if (strcmp(k, "net_autocreate") == 0)
      rc = sn__get_bool(v, k, &cfg->net_autocreate, err);
    else if (strcmp(k, "exec_allow") == 0) {
      json_decref(cfg->exec_allow);
      cfg->exec_allow = NULL;
      rc = json_is_null(v) ? 0 : sn__check_exec_allow(v, err);
      if (rc == 0 && !json_is_null(v))
        cfg->exec_allow = json_deep_copy(v);
    } else if (strcmp(k, "max_message_bytes") == 0)
      rc = sn__get_uint(v, k, 1024, 256u << 20, &cfg->max_message_bytes, err);
    else if (strcmp(k, "max_tasks") == 0)
      rc = sn__get_uint(v, k, 1, 1000000, &cfg->max_tasks, err);
    else if (strcmp(k, "max_connections") == 0)
      rc = sn__get_uint(v, k, 1, 1000000, &cfg->max_connections, err);
    else if (strcmp(k, "hello_timeout_ms") == 0)
      rc = sn__get_uint(v, k, 1, 3600000, &cfg->hello_timeout_ms, err);
    else if (strcmp(k, "watch_interval_ms") == 0)
      rc = sn__get_uint(v, k, 10, 3600000, &cfg->watch_interval_ms, err);
    else if (strcmp(k, "max_queued_jobs") == 0)
      rc = sn__get_uint(v, k, 1, 10000000, &cfg->max_queued_jobs, err);
    else if (strcmp(k, "jobs_keep") == 0)
      rc = sn__get_uint(v, k, 0, 10000000, &cfg->jobs_keep, err);
    else if (strcmp(k, "jobs_keep_bytes") == 0)
      rc = sn__get_uint(v, k, 0, 1ull << 40, &cfg->jobs_keep_bytes, err);
    else if (strcmp(k, "redis_url") == 0)
      rc = sn__get_str(v, k, &cfg->redis_url, err);
    else if (strcmp(k, "state_dir") == 0)
      rc = sn__get_str(v, k, &cfg->state_dir, err);
    else if (strcmp(k, "queue_fsync") == 0) {
      const char *p = json_string_value(v);
      rc = p && (strcmp(p, "always") == 0 || strcmp(p, "every_ms") == 0)
               ? (cfg->queue_fsync_always = strcmp(p, "always") == 0, 0)
               : sn_seterr(err, SN_EBADREQ, "config 'queue_fsync' must be \"every_ms\" or \"always\"");
    } else if (strcmp(k, "queue_fsync_ms") == 0)
      rc = sn__get_uint(v, k, 1, 60000, &cfg->queue_fsync_ms, err);
    else if (strcmp(k, "zinit") == 0)
      rc = sn__zinit(cfg, v, err);
    else if (strcmp(k, "mirror_data") == 0)
      rc = sn__get_bool(v, k, &cfg->mirror_data, err);
    else if (strcmp(k, "reply_ttl_s") == 0)
      rc = sn__get_uint(v, k, 1, 365 * 86400, &cfg->reply_ttl_s, err);
    else if (strcmp(k, "job_ttl_s") == 0)
      rc = sn__get_uint(v, k, 0, 365 * 86400, &cfg->job_ttl_s, err);
    else if (strcmp(k, "tls") == 0)
      rc = sn__tls(cfg, v, err);
    else if (strcmp(k, "shim_path") == 0)
      rc = sn__get_str(v, k, &cfg->shim_path, err);
    else if (strcmp(k, "shutdown_timeout_ms") == 0)
      rc = sn__get_uint(v, k, 0, 3600000, &cfg->shutdown_timeout_ms, err);
    else if (strcmp(k, "task_defaults") == 0)
      rc = sn__set_json(&cfg->task_defaults, v, 0, k, err);
    else if (strcmp(k, "templates") == 0)
      rc = sn__set_json(&cfg->templates, v, 0, k, err);
    else if (strcmp(k, "tasks") == 0)
      rc = sn__set_json(&cfg->tasks, v, 1, k, err);
    else if (strcmp(k, "kinds") == 0)
      rc = sn__set_json(&cfg->kinds, v, 0, k, err);
    else if (k[0] == '_')
      continue; /* "_comment" and friends document the file */
    else
      rc = sn_seterr(err, SN_EBADREQ, "unknown config key '%s'", k);
    if (rc)
      return rc;
  }
  return sn__check_tasks(cfg, err);
}

int sn_config_load_file(sn_config *cfg, const char *path, sn_error *err) {
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  int rc;
  if (root == NULL)
    return sn_seterr(err, SN_EBADJSON, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
  rc = sn_config_load_json(cfg, root, err);
  json_decref(root);
  return rc;
}

/* The pattern with its leading directories (those without glob characters)
 * resolved like the program's path, so that "/bin/ *" (a glob) still matches where /bin
 * is a link to /usr/bin. */
static void sn__canon_pattern(const char *pat, char *out, size_t cap) {
  char dir[PATH_MAX], real[PATH_MAX];
  size_t glob = strcspn(pat, "*?["), cut;
  if (pat[glob] == '\0') { /* a plain path: resolve it whole */
    if (realpath(pat, real))
      snprintf(out, cap, "%s", real);
    else
      snprintf(out, cap, "%s", pat);
    return;
  }
  for (cut = glob; cut > 0 && pat[cut] != '/'; cut--)
    ;
  if (cut == 0 || cut >= sizeof(dir)) {
    snprintf(out, cap, "%s", pat);
    return;
  }
  memcpy(dir, pat, cut);
  dir[cut] = '\0';
  if (realpath(dir, real))
    snprintf(out, cap, "%s%s", strcmp(real, "/") == 0 ? "" : real, pat + cut);
  else
    snprintf(out, cap, "%s", pat);
}

int sn_config_exec_allowed(const sn_config *cfg, const char *exec0) {
  char real[PATH_MAX], pat[2 * PATH_MAX];
  size_t i;
  json_t *e;
  if (cfg->exec_allow == NULL)
    return 1;
  /* Without a slash, execvp would search PATH, so the pattern could not
   * say which file runs: such names are refused when a list is set. The
   * path is matched as the file it names (no "..", no links), so that
   * "/opt/workers/../../bin/sh" is /usr/bin/dash, not a worker. */
  if (exec0[0] != '/' || realpath(exec0, real) == NULL)
    return 0;
  json_array_foreach(cfg->exec_allow, i, e) {
    sn__canon_pattern(json_string_value(e), pat, sizeof(pat));
    if (fnmatch(pat, real, FNM_PATHNAME) == 0)
      return 1;
  }
  return 0;
}

/* Variables that make an allowed program load or run other code. */
static int sn__loader_var(const char *k) {
  static const char *const names[] = {"GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "MALLOC_CHECK_",
                                      "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5LIB", "PERL5OPT",
                                      "PERLLIB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "BASH_ENV",
                                      "ENV", "SHELLOPTS", "IFS", NULL};
  if (strncmp(k, "LD_", 3) == 0)
    return 1;
  for (int i = 0; names[i]; i++)
    if (strcmp(k, names[i]) == 0)
      return 1;
  return 0;
}

int sn_config_task_allowed(const sn_config *cfg, const sn_taskconf *conf, sn_error *err) {
  const char *k;
  json_t *v;
  if (cfg->exec_allow == NULL)
    return 0;
  if (conf->exec && !sn_config_exec_allowed(cfg, json_string_value(json_array_get(conf->exec, 0))))
    return sn_seterr(err, SN_EUNAUTH, "field 'exec': %s is not in exec_allow",
                     json_string_value(json_array_get(conf->exec, 0)));
  if (conf->health_check && !sn_config_exec_allowed(cfg, json_string_value(json_array_get(conf->health_check, 0))))
    return sn_seterr(err, SN_EUNAUTH, "field 'health_check': %s is not in exec_allow",
                     json_string_value(json_array_get(conf->health_check, 0)));
  json_object_foreach(conf->env, k, v) {
    if (sn__loader_var(k))
      return sn_seterr(err, SN_EUNAUTH, "field 'env': %s changes what programs load; refused with exec_allow", k);
  }
  return 0;
}
