/* hiredis on our libuv loop, with the writes of one loop turn in one write().
 *
 * hiredis's own libuv adapter turns POLLOUT on for every command and off
 * after every write, and each uv_poll_start re-registers the descriptor (two
 * epoll_ctl calls, one failing with EEXIST): with a job's seven or so Redis
 * commands that was 27 epoll_ctl calls per job (strace), a third of the
 * node's time. This adapter queues commands until the loop is about to poll
 * (a uv_prepare), writes them all at once, and watches POLLOUT only while the
 * socket is full; uv_poll_start is called only when the wanted events change. */
#ifndef SN_RUV_H
#define SN_RUV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches ac to loop. REDIS_OK, or REDIS_ERR (already attached, out of memory). */
int sn_ruv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
