/* sn-sdkworker: a net worker on the SDK for the reconnect test. Puts {"i":N}
 * every 2 ms with a 100-item buffer, and prints each change of connection:
 *   "connected dropped=D sent=S"   when welcomed
 *   "disconnected next=N buffered=B dropped=D"  when the connection went away
 *   "error: TEXT"                    when the reason a connection failed changes
 * Usage: sn-sdkworker URL TASK_ID (wss://: SUPERNODE_CA_FILE names the trust anchors) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supernode/worker.h"

typedef struct app {
  sn_worker *w;
  uv_timer_t tick;
  long next;
  int was_connected;
  char last_error[256];
} app;

static void report(app *a) {
  sn_worker_stats st;
  sn_worker_stats_get(a->w, &st);
  if (st.connected && !a->was_connected)
    printf("connected dropped=%llu sent=%llu\n", (unsigned long long)st.dropped, (unsigned long long)st.sent);
  if (!st.connected && a->was_connected)
    printf("disconnected next=%ld buffered=%llu dropped=%llu\n", a->next, (unsigned long long)st.buffered,
           (unsigned long long)st.dropped);
  const char *e = sn_worker_last_error(a->w);
  if (e && strcmp(e, a->last_error) != 0) {
    snprintf(a->last_error, sizeof(a->last_error), "%s", e);
    printf("error: %s\n", e);
  }
  fflush(stdout);
  a->was_connected = st.connected;
}

static void tick(uv_timer_t *t) {
  app *a = t->data;
  char buf[64];
  int n;
  report(a);
  n = snprintf(buf, sizeof(buf), "{\"i\":%ld}", a->next++);
  sn_worker_put_json(a->w, buf, (size_t)n);
}

static void connected(sn_worker *w, void *ud) {
  (void)w;
  report(ud);
}

int main(int argc, char **argv) {
  sn_worker_opts o = {0};
  app a = {0};
  int err;
  if (argc < 3)
    return 2;
  o.url = argv[1];
  o.task_id = argv[2];
  o.buffer_items = 100;
  o.reconnect_max_ms = 200;
  o.ca_file = getenv("SUPERNODE_CA_FILE");
  if ((a.w = sn_worker_new(&o, &err)) == NULL) {
    fprintf(stderr, "%s\n", sn_worker_strerror(err));
    return 2;
  }
  a.next = 1;
  uv_loop_t *loop = uv_default_loop();
  uv_timer_init(loop, &a.tick);
  a.tick.data = &a;
  uv_timer_start(&a.tick, tick, 2, 2);
  sn_worker_on_connect(a.w, connected, &a);
  sn_worker_attach(a.w, loop);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
