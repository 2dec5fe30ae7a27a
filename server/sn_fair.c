/* Fairness between a worker that floods the node and its fetchers.
 *
 * lws reads a worker's socket in 64 KiB gulps (hundreds of items) while a
 * fetcher writes one frame per WRITEABLE, so a worker sending flat out used
 * to fill the queue faster than any fetcher could drain it, and fetchers that
 * were ready from the start lost items to drops. Now, after a put, if a
 * fetcher of the task lags by more than SN_FAIR_LAG items and its socket can
 * take data, the node stops reading the worker until that fetcher has caught
 * up to half the lag, its socket is full after a write, or SN_FAIR_PAUSE_US
 * has passed: a fetcher that stops reading never holds the worker back for
 * longer than that (it gets a gap, as the contract says). */
#include "sn_node.h"

#define SN_FAIR_LAG 2000         /* items a ready fetcher may fall behind before the worker waits */
#define SN_FAIR_PAUSE_US 20000   /* the longest the worker waits for its fetchers at a time */

static uint64_t sn__lag(const sn_task *t, const sn_conn *f) {
  return t->queue.next_seq > f->cursor ? t->queue.next_seq - f->cursor : 0;
}

static void sn__rx(sn_conn *w, int on) {
  if (!w->rx_paused) /* the reply backpressure (sn_conn) decides while it holds the worker */
    lws_rx_flow_control(w->wsi, on);
}

void sn_fair_after_put(sn_task *t) {
  sn_conn *w = t->worker;
  sn_list *pos, *tmp;
  if (w == NULL || w->wsi == NULL || w->fair_paused)
    return;
  sn_list_foreach(pos, tmp, &t->fetchers) {
    sn_conn *f = sn_list_entry(pos, sn_conn, fetch_link);
    if (f->wsi == NULL || f->consume || sn__lag(t, f) <= SN_FAIR_LAG || lws_send_pipe_choked(f->wsi))
      continue;
    w->fair_paused = 1;
    sn__rx(w, 0);
    lws_set_timer_usecs(w->wsi, SN_FAIR_PAUSE_US);
    return;
  }
}

void sn_fair_resume(sn_conn *w) {
  if (w == NULL || !w->fair_paused || w->wsi == NULL)
    return;
  w->fair_paused = 0;
  lws_set_timer_usecs(w->wsi, LWS_SET_TIMER_USEC_CANCEL);
  sn__rx(w, 1);
}

/* The wait ends when the fetcher has caught up to half the lag, or when it
 * stops taking data (its socket full: the reader is busy or descheduled):
 * waiting on then would hold the worker, and every item behind it, for the
 * whole SN_FAIR_PAUSE_US without helping the fetcher. */
void sn_fair_after_write(sn_task *t, const sn_conn *f) {
  if (t->worker && t->worker->fair_paused &&
      (sn__lag(t, f) <= SN_FAIR_LAG / 2 || (f->wsi && lws_send_pipe_choked(f->wsi))))
    sn_fair_resume(t->worker);
}
