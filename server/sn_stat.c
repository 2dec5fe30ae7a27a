/* /m/stat: node and task status, as one GET or a websocket every interval. */
#include <stdlib.h>
#include <string.h>

#include "sn_node.h"

void sn_stat_http(sn_conn *c, const char *task_id) {
  json_t *body;
  char *s;
  if (task_id) {
    sn_task *t = sn_node_find(c->node, task_id);
    if (t == NULL)
      return sn_http_respond_error(c, SN_ENOTFOUND, "no such task");
    body = json_pack("{s:b, s:o}", "ok", 1, "task", sn_task_to_json(t));
  } else {
    body = sn_node_stat_json(c->node);
  }
  s = json_dumps(body, JSON_COMPACT);
  sn_http_respond(c, 200, s, strlen(s));
  free(s);
  json_decref(body);
}

void sn_stat_ws_tick(sn_conn *c) {
  /* A reader that does not keep up gets fewer frames, never a growing queue. */
  if (sn_list_empty(&c->outq))
    sn_conn_send_json(c, sn_node_stat_json(c->node));
  lws_set_timer_usecs(c->wsi, (lws_usec_t)c->stat_interval_ms * 1000);
}
