#include "sn_ruv.h"

#include <stdlib.h>

typedef struct sn_ruv {
  redisAsyncContext *ac; /* NULL once hiredis cleaned up */
  uv_poll_t poll;
  uv_prepare_t flush;    /* runs before the loop polls while writes wait */
  int want_read;
  int want_poll_write;   /* the socket was full, or the connect is in progress */
  int polled;            /* the events uv_poll was last started with */
  int flushing;
  int open_handles;      /* freed when both handles closed */
} sn_ruv;

static void sn__poll_cb(uv_poll_t *h, int status, int events);

/* Tells uv_poll the events wanted, only when they changed. */
static void sn__update(sn_ruv *p) {
  int ev = (p->want_read ? UV_READABLE : 0) | (p->want_poll_write ? UV_WRITABLE : 0);
  if (ev == p->polled || p->ac == NULL)
    return;
  p->polled = ev;
  if (ev)
    uv_poll_start(&p->poll, ev, sn__poll_cb);
  else
    uv_poll_stop(&p->poll);
}

static void sn__poll_cb(uv_poll_t *h, int status, int events) {
  sn_ruv *p = h->data;
  if (status != 0) {
    /* POLLERR (a refused connect, a reset): libuv stopped the handle. Let
     * hiredis read the socket's error and disconnect, rather than wait for
     * the connect timeout as its own adapter, which drops these, made us do. */
    p->polled = -1;
    events = UV_READABLE | UV_WRITABLE;
  }
  if (p->ac && (events & UV_READABLE))
    redisAsyncHandleRead(p->ac);
  if (p->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(p->ac);
  if (p->ac && p->polled == -1)
    sn__update(p);
}

static void sn__flush_cb(uv_prepare_t *h) {
  sn_ruv *p = h->data;
  uv_prepare_stop(&p->flush);
  if (p->ac == NULL)
    return;
  /* Everything the loop turn queued goes out now; hiredis calls delWrite
   * when it is all written, addWrite (POLLOUT, below) when the socket is full. */
  p->flushing = 1;
  redisAsyncHandleWrite(p->ac);
  p->flushing = 0;
}

static void sn__add_read(void *d) {
  sn_ruv *p = d;
  p->want_read = 1;
  sn__update(p);
}

static void sn__del_read(void *d) {
  sn_ruv *p = d;
  p->want_read = 0;
  sn__update(p);
}

static void sn__add_write(void *d) {
  sn_ruv *p = d;
  /* Not connected yet (POLLOUT says the connect finished), or the socket took
   * only part of a flush: wait for POLLOUT. Otherwise write before the next poll. */
  if (!(p->ac->c.flags & REDIS_CONNECTED) || p->flushing) {
    p->want_poll_write = 1;
    sn__update(p);
    return;
  }
  if (!p->want_poll_write)
    uv_prepare_start(&p->flush, sn__flush_cb);
}

static void sn__del_write(void *d) {
  sn_ruv *p = d;
  p->want_poll_write = 0;
  uv_prepare_stop(&p->flush);
  sn__update(p);
}

static void sn__closed(uv_handle_t *h) {
  sn_ruv *p = h->data;
  if (--p->open_handles == 0)
    free(p);
}

static void sn__cleanup(void *d) {
  sn_ruv *p = d;
  p->ac = NULL; /* hiredis frees the context after this returns */
  uv_close((uv_handle_t *)&p->poll, sn__closed);
  uv_close((uv_handle_t *)&p->flush, sn__closed);
}

int sn_ruv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  sn_ruv *p;
  if (ac->ev.data != NULL || (p = calloc(1, sizeof(*p))) == NULL)
    return REDIS_ERR;
  if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    free(p);
    return REDIS_ERR;
  }
  uv_prepare_init(loop, &p->flush);
  p->poll.data = p->flush.data = p;
  p->open_handles = 2;
  p->ac = ac;
  ac->ev.data = p;
  ac->ev.addRead = sn__add_read;
  ac->ev.delRead = sn__del_read;
  ac->ev.addWrite = sn__add_write;
  ac->ev.delWrite = sn__del_write;
  ac->ev.cleanup = sn__cleanup;
  return REDIS_OK;
}
