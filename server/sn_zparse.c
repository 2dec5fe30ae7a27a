#include "sn_zparse.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_taskconf.h"
#include "sn_utf8.h"
#include "sn_util.h"

int sn_zreply_parse(const char *line, size_t len, sn_zreply *r) {
  json_t *id;
  memset(r, 0, sizeof(*r));
  r->root = json_loadb(line, len, 0, NULL);
  if (!json_is_object(r->root))
    return -1;
  r->jsonrpc = json_object_get(r->root, "jsonrpc") != NULL;
  id = json_object_get(r->root, "id");
  if (json_is_integer(id)) {
    r->has_id = 1;
    r->id = json_integer_value(id);
  }
  r->error = json_object_get(r->root, "error");
  r->result = r->error ? NULL : json_object_get(r->root, "result");
  return 0;
}

void sn_zreply_free(sn_zreply *r) {
  json_decref(r->root);
  r->root = NULL;
}

/* zinit's text errors carry no codes: map the ones the backend relies on. */
static int sn__code(const char *msg) {
  if (strstr(msg, "already monitored"))
    return -32001;
  if (strstr(msg, "is up"))
    return -32002;
  if (strstr(msg, "not found"))
    return -32000;
  return -32603;
}

int sn_ztext_parse_reply(const char *buf, size_t len, json_t **root, json_t **result, const char **error_text,
                         int *code) {
  const char *state, *msg;
  *root = json_loadb(buf, len, 0, NULL);
  *result = NULL;
  *error_text = NULL;
  *code = 0;
  state = json_string_value(json_object_get(*root, "state"));
  if (state && strcmp(state, "ok") == 0) {
    json_t *body = json_object_get(*root, "body");
    *result = body ? json_incref(body) : json_null();
    return 0;
  }
  msg = json_string_value(json_object_get(*root, "body"));
  *error_text = msg ? msg : "bad reply";
  *code = sn__code(*error_text);
  return -1;
}

json_t *sn_ztext_log_lines(const char *name, const char *buf, size_t len) {
  json_t *lines = json_array();
  const char *p = buf, *end = buf + len;
  size_t pl = strlen(name);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)((nl ? nl : end) - p);
    /* "[+] name: line": keep this service's lines */
    if (n > 4 + pl && memcmp(p + 4, name, pl) == 0 && p[4 + pl] == ':') {
      char *copy = sn_strndup(p, n);
      sn_utf8_fix(copy);
      json_array_append_new(lines, json_string(copy));
      free(copy);
    }
    p += n + 1;
  }
  return lines;
}

/* The number after the last ", " in "...(...), N)", clamped to an int. */
static int sn__trailing_int(const char *p) {
  long v = strtol(p, NULL, 10);
  return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

int sn_zstate_ended(const char *st, int *code, int *sig) {
  const char *p;
  *code = 0;
  *sig = 0;
  if (strncmp(st, "Success", 7) == 0)
    return 1;
  if (strncmp(st, "Failure", 7) == 0) {
    *code = 127;
    return 1;
  }
  if (strncmp(st, "Error", 5) != 0)
    return 0;
  if ((p = strstr(st, "Signaled(")) != NULL && (p = strstr(p, "), ")) != NULL) {
    char name[32] = "";
    int s;
    sscanf(p + 3, "%31[A-Z0-9]", name);
    s = sn_sigparse(name);
    *sig = s > 0 ? s : SIGKILL;
    return 1;
  }
  if ((p = strstr(st, "Exited(")) != NULL && (p = strstr(p, "), ")) != NULL) {
    *code = sn__trailing_int(p + 3);
    return 1;
  }
  *code = 1;
  return 1;
}
