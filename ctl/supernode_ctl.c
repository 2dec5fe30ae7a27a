/* supernode-ctl: the operator's command line for a supernode.
 * Exit codes: 0 ok, 1 the node answered with an error, 2 usage, 3 the node
 * cannot be reached, 4 not_found, 5 conflict, 6 unauthorized. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_net.h"
#include "sn_jscan.h"

typedef struct ctl {
  ctl_url url;
  int json;       /* --json: print the node's replies as they are */
} ctl;

static void usage(FILE *f) {
  fprintf(f,
          "usage: supernode-ctl [--url http://HOST:PORT] [--token T] [--json] COMMAND ...\n"
          "  start ID [--exec PATH] [--FIELD VALUE ...] [-- ARGS...]   start a task (fields as in the protocol,\n"
          "                                              dashes for underscores: --mem-limit-kb 50000)\n"
          "  stop ID | restart ID | rm ID | status ID     act on one task\n"
          "  update ID --FIELD VALUE ...                  change a task's settings\n"
          "  ls                                           list tasks\n"
          "  send ID JSON                                 send a command to the task's worker\n"
          "  logs ID [--lines N]                          the worker's last output lines\n"
          "  job (--kind K | --task ID) --payload JSON [--wait] [--timeout-ms N]\n"
          "  fetch ID [--from SEQ|oldest|new]             stream items as JSON lines\n"
          "  stat [--watch] [--interval MS]               node status\n"
          "  ping | cmd JSON                              ping, or any command as raw JSON\n"
          "The node is SUPERNODE_CTL_URL (default http://127.0.0.1:7700), the token SUPERNODE_CTL_TOKEN.\n");
}

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
    fprintf(stderr, "supernode-ctl: cannot reach the node at %s:%s\n", c->url.host, c->url.port);
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
    fprintf(stderr, "supernode-ctl: %s\n", ws.status ? (e ? json_string_value(json_object_get(e, "message")) : "refused")
                                                     : "cannot reach the node");
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
      fprintf(stderr, "supernode-ctl: cannot reach the node at %s:%s\n", c->url.host, c->url.port);
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

int main(int argc, char **argv) {
  ctl c = {0};
  const char *url = getenv("SUPERNODE_CTL_URL"), *token = getenv("SUPERNODE_CTL_TOKEN");
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--json") == 0) c.json = 1;
    else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) url = argv[++i];
    else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) token = argv[++i];
    else if (strcmp(argv[i], "--help") == 0) { usage(stdout); return 0; }
    else { usage(stderr); return 2; }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  if (ctl_url_parse(&c.url, url ? url : "http://127.0.0.1:7700", token) != 0) {
    fprintf(stderr, "supernode-ctl: the URL must be http://HOST:PORT\n");
    return 2;
  }
  const char *cmd = argv[i++];
  const char *id = i < argc ? argv[i] : NULL;
  json_t *req = json_object();
  int rc;

  if (!strcmp(cmd, "ls") || !strcmp(cmd, "list"))
    return simple(&c, "list", req);
  if (!strcmp(cmd, "ping"))
    return simple(&c, "ping", req);
  if (!strcmp(cmd, "stat")) {
    int watch = 0;
    long interval = 1000;
    for (; i < argc; i++) {
      if (!strcmp(argv[i], "--watch")) watch = 1;
      else if (!strcmp(argv[i], "--interval") && i + 1 < argc) interval = atol(argv[++i]);
    }
    json_decref(req);
    return do_stat(&c, watch, interval > 0 ? interval : 1000);
  }
  if (!strcmp(cmd, "cmd")) {
    json_t *raw = id ? json_loads(id, 0, NULL) : NULL;
    json_decref(req);
    if (!json_is_object(raw) || !json_is_string(json_object_get(raw, "cmd"))) {
      fprintf(stderr, "supernode-ctl: cmd needs a JSON object with a \"cmd\"\n");
      json_decref(raw);
      return 2;
    }
    const char *name = strdup(json_string_value(json_object_get(raw, "cmd")));
    rc = simple(&c, name, raw);
    free((void *)name);
    return rc;
  }
  if (!strcmp(cmd, "job")) {
    for (; i < argc; i++) {
      if (!strcmp(argv[i], "--wait")) json_object_set_new(req, "wait", json_true());
      else if (!strcmp(argv[i], "--kind") && i + 1 < argc) json_object_set_new(req, "kind", json_string(argv[++i]));
      else if (!strcmp(argv[i], "--task") && i + 1 < argc) json_object_set_new(req, "task_id", json_string(argv[++i]));
      else if (!strcmp(argv[i], "--payload") && i + 1 < argc) json_object_set_new(req, "payload", value_of(argv[++i]));
      else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) json_object_set_new(req, "timeout_ms", value_of(argv[++i]));
      else { json_decref(req); usage(stderr); return 2; }
    }
    return simple(&c, "job", req);
  }
  if (id == NULL) {
    json_decref(req);
    usage(stderr);
    return 2;
  }
  json_object_set_new(req, "task_id", json_string(id));
  i++;
  if (!strcmp(cmd, "stop") || !strcmp(cmd, "restart") || !strcmp(cmd, "status"))
    return simple(&c, cmd, req);
  if (!strcmp(cmd, "rm") || !strcmp(cmd, "remove"))
    return simple(&c, "remove", req);
  if (!strcmp(cmd, "start") || !strcmp(cmd, "update")) {
    if ((rc = parse_fields(argc, argv, i, req)) != 0) {
      json_decref(req);
      return rc;
    }
    return simple(&c, cmd, req);
  }
  if (!strcmp(cmd, "send")) {
    json_t *d = i < argc ? json_loads(argv[i], JSON_DECODE_ANY, NULL) : NULL;
    if (d == NULL) {
      fprintf(stderr, "supernode-ctl: send needs JSON data\n");
      json_decref(req);
      return 2;
    }
    json_object_set_new(req, "data", d);
    return simple(&c, "send", req);
  }
  if (!strcmp(cmd, "logs")) {
    if (i + 1 < argc && !strcmp(argv[i], "--lines"))
      json_object_set_new(req, "lines", value_of(argv[i + 1]));
    return simple(&c, "logs", req);
  }
  if (!strcmp(cmd, "fetch")) {
    const char *from = "oldest";
    if (i + 1 < argc && !strcmp(argv[i], "--from"))
      from = argv[i + 1];
    json_decref(req);
    return do_fetch(&c, id, from);
  }
  json_decref(req);
  fprintf(stderr, "supernode-ctl: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
