#include "sn_win.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name;
  int type;
} sn__types[] = {{"welcome", SN_WIN_WELCOME}, {"cmd", SN_WIN_CMD},   {"job", SN_WIN_JOB},
                 {"cancel", SN_WIN_CANCEL},   {"ping", SN_WIN_PING}, {"stop", SN_WIN_STOP},
                 {"probe", SN_WIN_PROBE},     {"error", SN_WIN_ERROR}};

/* The JSON text of member k ("null" when absent). */
static int sn__member(sn_win *m, const char *k) {
  m->member = json_dumps(json_object_get(m->root, k), JSON_COMPACT | JSON_ENCODE_ANY);
  if (m->member == NULL && (m->member = strdup("null")) == NULL)
    return -1;
  m->member_len = strlen(m->member);
  return 0;
}

static const char *sn__str(json_t *o, const char *k, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : dflt;
}

int sn_win_parse(const char *p, size_t len, sn_win *m) {
  const char *type;
  json_t *hb, *e;
  memset(m, 0, sizeof(*m));
  m->root = json_loadb(p, len, 0, NULL);
  if ((type = json_string_value(json_object_get(m->root, "type"))) == NULL)
    return -1;
  for (size_t i = 0; i < sizeof(sn__types) / sizeof(sn__types[0]); i++)
    if (strcmp(type, sn__types[i].name) == 0)
      m->type = sn__types[i].type;
  m->job_id = json_string_value(json_object_get(m->root, "job_id"));
  switch (m->type) {
  case SN_WIN_WELCOME:
    m->start_params = json_string_value(json_object_get(m->root, "start_params"));
    hb = json_object_get(m->root, "heartbeat_interval_ms");
    m->hb_ms = json_is_integer(hb) && json_integer_value(hb) > 0 ? (uint64_t)json_integer_value(hb) : 0;
    break;
  case SN_WIN_CMD:
    return sn__member(m, "data");
  case SN_WIN_JOB:
    return m->job_id ? sn__member(m, "payload") : -1;
  case SN_WIN_PING:
    m->ping_id = json_object_get(m->root, "job_id");
    break;
  case SN_WIN_PROBE:
    m->connected = json_is_true(json_object_get(m->root, "connected"));
    break;
  case SN_WIN_ERROR:
    e = json_object_get(m->root, "error");
    snprintf(m->error, sizeof(m->error), "%s: %s", sn__str(e, "code", "error"), sn__str(e, "message", ""));
    break;
  default:
    break;
  }
  return 0;
}

void sn_win_free(sn_win *m) {
  json_decref(m->root);
  free(m->member);
  m->root = NULL;
  m->member = NULL;
}
