/* bench_put: puts N items of S bytes as fast as the connection takes them.
 *   bench_put --url ws://127.0.0.1:7700/w/ch --task T [--items N] [--size S] [--batch B]
 * --batch 1 sends every item in a frame of its own (no batching). Prints
 * "items N seconds S items_per_s R" when done. Used by scripts/bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supernode/worker.h"

typedef struct bench {
  sn_worker *w;
  uv_idle_t idle;
  long items, done;
  int size;
  char *item;
  uint64_t t0;
} bench;

static void fill(uv_idle_t *h) {
  bench *b = h->data;
  sn_worker_stats st;
  sn_worker_stats_get(b->w, &st);
  if (!st.connected)
    return;
  /* Keep a few thousand items queued: enough to fill batches, never dropping. */
  while (b->done < b->items && st.buffered < 4000) {
    sn_worker_put_json(b->w, b->item, (size_t)b->size);
    b->done++;
    st.buffered++;
  }
  if (b->done == b->items && st.buffered == 0 && st.write_queue == 0) {
    double secs = (double)(uv_hrtime() - b->t0) / 1e9;
    printf("items %ld seconds %.3f items_per_s %.0f\n", b->items, secs, (double)b->items / secs);
    fflush(stdout);
    uv_idle_stop(h);
    uv_close((uv_handle_t *)h, NULL);
    sn_worker_stop(b->w);
  }
}

static void connected(sn_worker *w, void *ud) {
  bench *b = ud;
  (void)w;
  if (b->t0 == 0)
    b->t0 = uv_hrtime();
}

int main(int argc, char **argv) {
  sn_worker_opts o = {0};
  bench b = {0};
  int err = 0;
  b.items = 1000000;
  b.size = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--url") == 0) o.url = argv[i + 1];
    else if (strcmp(argv[i], "--task") == 0) o.task_id = argv[i + 1];
    else if (strcmp(argv[i], "--token") == 0) o.token = argv[i + 1];
    else if (strcmp(argv[i], "--items") == 0) b.items = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--size") == 0) b.size = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--batch") == 0) o.batch_items = (size_t)atol(argv[i + 1]);
  }
  if (b.size < 8)
    b.size = 8;
  o.buffer_items = 100000;
  b.w = o.url ? sn_worker_new(&o, &err) : sn_worker_from_env(&err);
  if (b.w == NULL) {
    fprintf(stderr, "bench_put: %s\n", sn_worker_strerror(err));
    return 2;
  }
  /* One JSON string item of exactly size bytes. */
  b.item = malloc((size_t)b.size);
  memset(b.item, 'x', (size_t)b.size);
  b.item[0] = '"';
  b.item[b.size - 1] = '"';
  sn_worker_on_connect(b.w, connected, &b);
  uv_loop_t *loop = uv_default_loop();
  uv_idle_init(loop, &b.idle);
  b.idle.data = &b;
  uv_idle_start(&b.idle, fill);
  sn_worker_attach(b.w, loop);
  uv_run(loop, UV_RUN_DEFAULT);
  sn_worker_free(b.w);
  free(b.item);
  uv_loop_close(loop);
  return 0;
}
