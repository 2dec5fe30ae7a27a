/* supernode-ctl: the operator's command line for a supernode.
 * Exit codes: 0 ok, 1 the node answered with an error, 2 usage, 3 the node
 * cannot be reached, 4 not_found, 5 conflict, 6 unauthorized.
 * Global flags (--json, --url, --token, --help) go anywhere on the line;
 * each command takes only its own flags, and an unknown one is a usage error. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_complete.h"
#include "ctl_net.h"
#include "ctl_opts.h"
#include "ctl_top.h"
#include "sn_jscan.h"

typedef struct ctl {
  ctl_url url;
  int json;       /* --json: print the node's replies as they are */
} ctl;

static int exit_for(const char *code) {
  if (code == NULL)
    return 1;
  if (strcmp(code, "not_found") == 0)
    return 4;
  if (strcmp(code, "conflict") == 0)
    return 5;
  if (strcmp(code, "unauthorized") == 0)
    return 6;
  return 1;
}

/* A command line value: JSON when it parses as a number, bool, null, array or
 * object; a string otherwise. */
static json_t *value_of(const char *s) {
  json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
  if (v && !json_is_string(v))
    return v;
  json_decref(v);
  return json_string(s);
}

/* Sends one command; prints the error and returns its exit code, or 0 with *reply. */
static int send_cmd(ctl *c, json_t *req, json_t **reply) {
  char *body = json_dumps(req, JSON_COMPACT), *resp = NULL;
  int status = ctl_http(&c->url, "POST", "/m/cmd", body, &resp);
  json_t *r;
  free(body);
  json_decref(req);
  if (status < 0) {
    ctl_unreachable(&c->url);
    return 3;
  }
  r = json_loads(resp ? resp : "", 0, NULL);
  free(resp);
  if (r == NULL) {
    fprintf(stderr, "supernode-ctl: the node answered %d with no JSON\n", status);
    return 1;
  }
  if (!json_is_true(json_object_get(r, "ok"))) {
    json_t *e = json_object_get(r, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    if (c->json)
      json_dumpf(r, stdout, JSON_COMPACT), putchar('\n');
    int rc = exit_for(code);
    fprintf(stderr, "supernode-ctl: %s: %s\n", code ? code : "error", json_string_value(json_object_get(e, "message")));
    json_decref(r);
    return rc;
  }
  *reply = r;
  return 0;
}

static void print_json(json_t *r) {
  json_dumpf(r, stdout, JSON_COMPACT);
  putchar('\n');
}

static const char *str_or(json_t *o, const char *k, const char *def) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : def;
}

static void print_task_row(json_t *t) {
  json_t *q = json_object_get(t, "queue"), *pid = json_object_get(t, "pid"), *mem = json_object_get(t, "mem_kb");
  printf("%-24s %-5s %-9s %8lld %8lld %9lld %9lld %10lld\n", str_or(t, "task_id", "?"), str_or(t, "mode", "?"),
         str_or(t, "state", "?"), json_is_integer(pid) ? (long long)json_integer_value(pid) : 0LL,
         (long long)json_integer_value(json_object_get(t, "restarts")), (long long)json_integer_value(json_object_get(q, "len")),
         (long long)json_integer_value(json_object_get(q, "dropped")), json_is_integer(mem) ? (long long)json_integer_value(mem) : 0LL);
}

static void print_tasks(json_t *tasks) {
  size_t i;
  json_t *t;
  printf("%-24s %-5s %-9s %8s %8s %9s %9s %10s\n", "TASK", "MODE", "STATE", "PID", "RESTARTS", "QUEUED", "DROPPED", "MEM_KB");
  json_array_foreach(tasks, i, t) print_task_row(t);
}

static void print_task(json_t *t) {
  const char *k;
  json_t *v;
  json_object_foreach(t, k, v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%-24s %s\n", k, s ? s : "");
    free(s);
  }
}

/* --field-name value pairs into obj (dashes become underscores). */
static int parse_fields(int argc, char **argv, int i, json_t *obj) {
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      json_t *exec = json_object_get(obj, "exec");
      if (exec == NULL) {
        exec = json_array();
        json_object_set_new(obj, "exec", exec);
      }
      for (i++; i < argc; i++)
        json_array_append_new(exec, json_string(argv[i]));
      return 0;
    }
    if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
      fprintf(stderr, "supernode-ctl: expected --FIELD VALUE, got '%s'\n", argv[i]);
      return 2;
    }
    char name[128];
    snprintf(name, sizeof(name), "%s", argv[i] + 2);
    for (char *p = name; *p; p++)
      if (*p == '-')
        *p = '_';
    if (strcmp(name, "exec") == 0)
      json_object_set_new(obj, "exec", json_pack("[s]", argv[i + 1]));
    else if (strcmp(name, "start_params") == 0 || strcmp(name, "task_id") == 0 || strcmp(name, "kind") == 0)
      json_object_set_new(obj, name, json_string(argv[i + 1]));
    else
      json_object_set_new(obj, name, value_of(argv[i + 1]));
    i++;
  }
  return 0;
}

static int simple(ctl *c, const char *cmd, json_t *req) {
  json_t *r = NULL;
  int rc;
  json_object_set_new(req, "cmd", json_string(cmd));
  if ((rc = send_cmd(c, req, &r)) != 0)
    return rc;
  if (c->json)
    print_json(r);
  else if (json_object_get(r, "task"))
    print_task(json_object_get(r, "task"));
  else if (json_object_get(r, "tasks"))
    print_tasks(json_object_get(r, "tasks"));
  else if (json_object_get(r, "job"))
    print_task(json_object_get(r, "job"));
  else if (json_object_get(r, "lines")) {
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(r, "lines"), i, l)
      printf("%s %s\n", str_or(l, "stream", "?"), str_or(l, "line", ""));
  } else
    print_json(r);
  json_decref(r);
  return 0;
}

/* Prints {"seq":..,"ts_ms":..,"data":..} with data exactly as the worker sent it. */
static void print_item(const char *p, sn_span obj) {
  static const char *const keys[] = {"seq", "ts_ms", "data", "bin", "size"};
  sn_span v[5];
  if (sn_jscan_object(p + obj.off, obj.len, keys, 5, v, NULL) != 0)
    return;
  p += obj.off;
  printf("{\"seq\":%.*s,\"ts_ms\":%.*s", (int)v[0].len, p + v[0].off, (int)v[1].len, p + v[1].off);
  if (v[3].len)
    printf(",\"bin\":true,\"size\":%.*s", (int)v[4].len, p + v[4].off);
  if (v[2].len)
    printf(",\"data\":%.*s", (int)v[2].len, p + v[2].off);
  printf("}\n");
}

static void print_items(const char *p, size_t n) {
  static const char *const keys[] = {"items"};
  sn_span v[1], e;
  size_t pos = 0;
  if (sn_jscan_object(p, n, keys, 1, v, NULL) != 0)
    return;
  while (sn_jscan_array_next(p, v[0], &pos, &e))
    print_item(p, e);
}

static int do_fetch(ctl *c, const char *task, const char *from) {
  char path[512], *p;
  size_t n;
  ctl_ws ws;
  int op;
  snprintf(path, sizeof(path), "/m/fetch/%s?from=%s&batch=100", task, from);
  if (ctl_ws_open(&ws, &c->url, path) != 0) {
    json_t *b = ws.body ? json_loads(ws.body, 0, NULL) : NULL;
    json_t *e = json_object_get(b, "error");
    int rc = ws.status ? exit_for(json_string_value(json_object_get(e, "code"))) : 3;
    if (ws.status)
      fprintf(stderr, "supernode-ctl: %s\n", e ? json_string_value(json_object_get(e, "message")) : "refused");
    else
      ctl_unreachable(&c->url);
    json_decref(b);
    ctl_ws_close(&ws);
    return rc;
  }
  while ((op = ctl_ws_recv(&ws, &p, &n)) > 0) {
    json_t *m;
    if (op == 8)
      break;
    if (op != 1)
      continue; /* binary item bytes: announced by their header line */
    m = json_loadb(p, n, 0, NULL);
    const char *type = str_or(m, "type", "");
    if (strcmp(type, "items") == 0) {
      print_items(p, n);
    } else if (strcmp(type, "data") == 0) {
      sn_span all = {0, n};
      print_item(p, all);
    } else if (strcmp(type, "gap") == 0) {
      fprintf(stderr, "supernode-ctl: gap: items %lld..%lld were dropped\n",
              (long long)json_integer_value(json_object_get(m, "from")), (long long)json_integer_value(json_object_get(m, "to")) - 1);
    } else if (strcmp(type, "end") == 0) {
      json_decref(m);
      break;
    } else if (strcmp(type, "error") == 0) {
      fprintf(stderr, "supernode-ctl: %s\n", str_or(json_object_get(m, "error"), "message", "error"));
      json_decref(m);
      ctl_ws_close(&ws);
      return 1;
    }
    fflush(stdout);
    json_decref(m);
  }
  ctl_ws_close(&ws);
  return 0;
}

static int do_stat(ctl *c, int watch, long interval_ms) {
  do {
    char *resp = NULL;
    int status = ctl_http(&c->url, "GET", "/m/stat", NULL, &resp);
    json_t *r;
    if (status < 0) {
      ctl_unreachable(&c->url);
      return 3;
    }
    r = json_loads(resp, 0, NULL);
    free(resp);
    if (!json_is_true(json_object_get(r, "ok"))) {
      int rc = exit_for(str_or(json_object_get(r, "error"), "code", NULL));
      fprintf(stderr, "supernode-ctl: %s\n", str_or(json_object_get(r, "error"), "message", "error"));
      json_decref(r);
      return rc;
    }
    if (c->json) {
      print_json(r);
    } else {
      json_t *n = json_object_get(r, "node");
      printf("node %s  up %llds  tasks %lld  workers %lld  fetchers %lld  redis %s  zinit %s\n", str_or(n, "node_id", "?"),
             (long long)json_integer_value(json_object_get(n, "uptime_ms")) / 1000,
             (long long)json_integer_value(json_object_get(n, "tasks")),
             (long long)json_integer_value(json_object_get(n, "workers_connected")),
             (long long)json_integer_value(json_object_get(n, "fetchers")), str_or(n, "redis", "?"), str_or(n, "zinit", "?"));
      print_tasks(json_object_get(r, "tasks"));
      if (watch)
        putchar('\n');
    }
    fflush(stdout);
    json_decref(r);
    if (watch)
      usleep((useconds_t)interval_ms * 1000);
  } while (watch);
  return 0;
}

/* ---- commands: each parses its own arguments strictly ---- */

typedef struct ctl_cmd ctl_cmd;
typedef int (*ctl_run)(ctl *c, const ctl_cmd *cmd, int argc, char **argv);

struct ctl_cmd {
  const char *name, *alias, *synopsis, *help;
  ctl_run run;
};

static const ctl_cmd *find_cmd(const char *name);

/* A positive number of a flag; 0 and a message when it is not one. */
static long positive(const char *flag, const char *v) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n <= 0) {
    fprintf(stderr, "supernode-ctl: %s needs a positive number, got '%s'\n", flag, v);
    return 0;
  }
  return n;
}

static int run_plain(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  const char *pos[1];
  size_t np;
  if (ctl_parse(cmd->name, argc, argv, NULL, 0, pos, 0, &np) != 0)
    return 2;
  return simple(c, strcmp(cmd->name, "ls") == 0 ? "list" : cmd->name, json_object());
}

static int run_stat(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  ctl_opt o[] = {{"--watch", 0, 0, NULL}, {"--interval", 1, 0, NULL}};
  const char *pos[1];
  size_t np;
  long interval = 1000;
  if (ctl_parse(cmd->name, argc, argv, o, 2, pos, 0, &np) != 0)
    return 2;
  if (o[1].set && (interval = positive("--interval", o[1].value)) == 0)
    return 2;
  return do_stat(c, o[0].set, interval);
}

static int run_top(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  ctl_opt o[] = {{"--sort", 1, 0, NULL}, {"--interval", 1, 0, NULL}, {"--count", 1, 0, NULL}};
  const char *pos[1];
  size_t np;
  long interval = 1000, count = 0;
  int sort = CTL_SORT_CPU;
  if (ctl_parse(cmd->name, argc, argv, o, 3, pos, 0, &np) != 0)
    return 2;
  if (o[0].set && (sort = ctl_top_sort(o[0].value)) < 0) {
    fprintf(stderr, "supernode-ctl: --sort is cpu, queue, mem or restarts, not '%s'\n", o[0].value);
    return 2;
  }
  if ((o[1].set && (interval = positive("--interval", o[1].value)) == 0) ||
      (o[2].set && (count = positive("--count", o[2].value)) == 0))
    return 2;
  return ctl_top(&c->url, sort, interval, count);
}

static int run_raw(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  const char *pos[1];
  size_t np;
  if (ctl_parse(cmd->name, argc, argv, NULL, 0, pos, 1, &np) != 0)
    return 2;
  json_t *raw = np ? json_loads(pos[0], 0, NULL) : NULL;
  if (!json_is_object(raw) || !json_is_string(json_object_get(raw, "cmd"))) {
    fprintf(stderr, "supernode-ctl: cmd needs a JSON object with a \"cmd\"\n");
    json_decref(raw);
    return 2;
  }
  char *name = strdup(json_string_value(json_object_get(raw, "cmd")));
  int rc = simple(c, name, raw);
  free(name);
  return rc;
}

static int run_job(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  ctl_opt o[] = {{"--kind", 1, 0, NULL}, {"--task", 1, 0, NULL}, {"--payload", 1, 0, NULL},
                 {"--wait", 0, 0, NULL}, {"--timeout-ms", 1, 0, NULL}};
  const char *pos[1];
  size_t np;
  if (ctl_parse(cmd->name, argc, argv, o, 5, pos, 0, &np) != 0)
    return 2;
  if (!o[0].set && !o[1].set) {
    fprintf(stderr, "supernode-ctl: job needs --kind K or --task ID\n");
    return 2;
  }
  json_t *req = json_object();
  if (o[0].set) json_object_set_new(req, "kind", json_string(o[0].value));
  if (o[1].set) json_object_set_new(req, "task_id", json_string(o[1].value));
  if (o[2].set) json_object_set_new(req, "payload", value_of(o[2].value));
  if (o[3].set) json_object_set_new(req, "wait", json_true());
  if (o[4].set) json_object_set_new(req, "timeout_ms", value_of(o[4].value));
  return simple(c, "job", req);
}

/* ID and nothing else: stop, restart, status, rm. */
static int run_task(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  const char *pos[1];
  size_t np;
  if (ctl_parse(cmd->name, argc, argv, NULL, 0, pos, 1, &np) != 0)
    return 2;
  if (np == 0) {
    fprintf(stderr, "supernode-ctl: %s needs a task id\n", cmd->name);
    return 2;
  }
  json_t *req = json_pack("{s:s}", "task_id", pos[0]);
  return simple(c, strcmp(cmd->name, "rm") == 0 ? "remove" : cmd->name, req);
}

/* start and update: ID, then free-form --FIELD VALUE pairs the node checks, then -- ARGS. */
static int run_fields(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  if (argc < 1 || strncmp(argv[0], "--", 2) == 0) {
    fprintf(stderr, "supernode-ctl: %s needs a task id first\n", cmd->name);
    return 2;
  }
  json_t *req = json_pack("{s:s}", "task_id", argv[0]);
  int rc = parse_fields(argc, argv, 1, req);
  if (rc != 0) {
    json_decref(req);
    return rc;
  }
  return simple(c, cmd->name, req);
}

static int run_send(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  const char *pos[2];
  size_t np;
  if (ctl_parse(cmd->name, argc, argv, NULL, 0, pos, 2, &np) != 0)
    return 2;
  json_t *d = np == 2 ? json_loads(pos[1], JSON_DECODE_ANY, NULL) : NULL;
  if (d == NULL) {
    fprintf(stderr, "supernode-ctl: send needs a task id and JSON data\n");
    return 2;
  }
  return simple(c, "send", json_pack("{s:s, s:o}", "task_id", pos[0], "data", d));
}

static int run_logs(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  ctl_opt o[] = {{"--lines", 1, 0, NULL}};
  const char *pos[1];
  size_t np;
  long lines = 100;
  if (ctl_parse(cmd->name, argc, argv, o, 1, pos, 1, &np) != 0 || (o[0].set && (lines = positive("--lines", o[0].value)) == 0))
    return 2;
  if (np == 0) {
    fprintf(stderr, "supernode-ctl: logs needs a task id\n");
    return 2;
  }
  return simple(c, "logs", json_pack("{s:s, s:I}", "task_id", pos[0], "lines", (json_int_t)lines));
}

static int run_fetch(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  ctl_opt o[] = {{"--from", 1, 0, NULL}};
  const char *pos[1];
  size_t np;
  if (ctl_parse(cmd->name, argc, argv, o, 1, pos, 1, &np) != 0)
    return 2;
  if (np == 0) {
    fprintf(stderr, "supernode-ctl: fetch needs a task id\n");
    return 2;
  }
  return do_fetch(c, pos[0], o[0].set ? o[0].value : "oldest");
}

static int run_metrics(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  const char *pos[1];
  size_t np;
  char *resp = NULL;
  if (ctl_parse(cmd->name, argc, argv, NULL, 0, pos, 0, &np) != 0)
    return 2;
  int status = ctl_http(&c->url, "GET", "/metrics", NULL, &resp);
  if (status < 0) {
    ctl_unreachable(&c->url);
    return 3;
  }
  fputs(resp ? resp : "", status == 200 ? stdout : stderr);
  free(resp);
  return status == 200 ? 0 : status == 401 ? 6 : 1;
}

static int run_completion(ctl *c, const ctl_cmd *cmd, int argc, char **argv) {
  const char *pos[1];
  size_t np;
  (void)c;
  if (ctl_parse(cmd->name, argc, argv, NULL, 0, pos, 1, &np) != 0)
    return 2;
  return ctl_completion(np ? pos[0] : NULL);
}

static const ctl_cmd commands[] = {
    {"start", NULL, "ID [--exec PATH] [--FIELD VALUE ...] [-- ARGS...]",
     "start a task; fields as in the protocol, dashes for underscores (--mem-limit-kb 50000)", run_fields},
    {"update", NULL, "ID --FIELD VALUE ...", "change a task's settings", run_fields},
    {"stop", NULL, "ID", "stop a task (first signal, then SIGKILL)", run_task},
    {"restart", NULL, "ID", "restart a task (also a stopped or failed one)", run_task},
    {"status", NULL, "ID", "one task's status and settings", run_task},
    {"rm", "remove", "ID", "stop and remove a task and its queue", run_task},
    {"ls", "list", "", "list tasks", run_plain},
    {"send", NULL, "ID JSON", "send a command to the task's worker", run_send},
    {"logs", NULL, "ID [--lines N]", "the worker's last output lines", run_logs},
    {"job", NULL, "(--kind K | --task ID) --payload JSON [--wait] [--timeout-ms N]", "submit a job", run_job},
    {"fetch", NULL, "ID [--from SEQ|oldest|new]", "stream a task's items as JSON lines", run_fetch},
    {"stat", NULL, "[--watch] [--interval MS]", "node status and tasks", run_stat},
    {"top", NULL, "[--sort cpu|queue|mem|restarts] [--interval MS] [--count N]",
     "a refreshing table of tasks, busiest first", run_top},
    {"ping", NULL, "", "check that the node answers", run_plain},
    {"cmd", NULL, "JSON", "any command, as a raw JSON object", run_raw},
    {"metrics", NULL, "", "the node's Prometheus metrics", run_metrics},
    {"completion", NULL, "bash", "print the shell completion script: source <(supernode-ctl completion bash)",
     run_completion},
    {"help", NULL, "[COMMAND]", "help on a command", NULL},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const ctl_cmd *find_cmd(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0 || (commands[i].alias && strcmp(commands[i].alias, name) == 0))
      return &commands[i];
  return NULL;
}

static const char globals_help[] =
    "Global flags, anywhere on the line: --url http(s)://HOST:PORT (SUPERNODE_CTL_URL, default\n"
    "http://127.0.0.1:7700), --token T (SUPERNODE_CTL_TOKEN), --cacert PEM (SUPERNODE_CTL_CACERT: trust\n"
    "for https), --json (print the node's replies as they are), --help. Exit codes: 0 ok, 1 error from the node, 2 usage, 3 node unreachable,\n"
    "4 not_found, 5 conflict, 6 unauthorized.\n";

static void usage(FILE *f) {
  fprintf(f, "usage: supernode-ctl [--url URL] [--token T] [--cacert PEM] [--json] COMMAND [ARGS]\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fputs(globals_help, f);
}

static void command_usage(FILE *f, const ctl_cmd *cmd) {
  fprintf(f, "usage: supernode-ctl %s %s\n  %s\n", cmd->name, cmd->synopsis, cmd->help);
  if (cmd->alias)
    fprintf(f, "  (also: %s)\n", cmd->alias);
  fputs(globals_help, f);
}

static int help(const char *name) {
  const ctl_cmd *cmd = name ? find_cmd(name) : NULL;
  if (name && cmd == NULL) {
    fprintf(stderr, "supernode-ctl: unknown command '%s'\n", name);
    return 2;
  }
  if (cmd)
    command_usage(stdout, cmd);
  else
    usage(stdout);
  return 0;
}

int main(int argc, char **argv) {
  ctl c = {0};
  ctl_globals g = {0};
  char **rest = calloc((size_t)argc + 1, sizeof(char *));
  int nrest = 0, rc;
  const ctl_cmd *cmd;

  if (rest == NULL || ctl_take_globals(argc, argv, &g, rest, &nrest) != 0) {
    free(rest);
    return 2;
  }
  if (nrest == 0) {
    usage(g.help ? stdout : stderr);
    free(rest);
    return g.help ? 0 : 2;
  }
  if ((cmd = find_cmd(rest[0])) == NULL) {
    fprintf(stderr, "supernode-ctl: unknown command '%s' (see supernode-ctl --help)\n", rest[0]);
    free(rest);
    return 2;
  }
  if (cmd->run == NULL || g.help) { /* help, or COMMAND --help */
    rc = cmd->run == NULL ? help(nrest > 1 ? rest[1] : NULL) : (command_usage(stdout, cmd), 0);
    free(rest);
    return rc;
  }
  c.json = g.json;
  if (!g.url)
    g.url = getenv("SUPERNODE_CTL_URL");
  if (!g.token)
    g.token = getenv("SUPERNODE_CTL_TOKEN");
  c.url.cacert = g.cacert ? g.cacert : getenv("SUPERNODE_CTL_CACERT");
  if (ctl_url_parse(&c.url, g.url ? g.url : "http://127.0.0.1:7700", g.token) != 0) {
    fprintf(stderr, "supernode-ctl: the URL must be http://HOST:PORT or https://HOST:PORT\n");
    free(rest);
    return 2;
  }
  rc = cmd->run(&c, cmd, nrest - 1, rest + 1);
  free(rest);
  return rc;
}
