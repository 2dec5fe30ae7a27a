/* A task's queue on disk (with state_dir): a log of what went in and what
 * consumers took, replayed at start-up so that a restarted (or SIGKILLed)
 * node comes back with the same items, seqs and drop counts.
 *
 * Records are appended to a buffer as the queue changes and written with one
 * write() per worker frame (so a killed process loses nothing it accepted);
 * fsync follows the policy (queue_fsync): after every write ("always"), or
 * every queue_fsync_ms on the threadpool ("every_ms", the default: an OS
 * crash may lose that much). The log is rewritten with just the live window
 * when it grows past twice the queue. */
#ifndef SN_QLOG_H
#define SN_QLOG_H

#include <stdint.h>
#include <uv.h>

#include "sn_buf.h"
#include "sn_queue.h"

typedef struct sn_qsync sn_qsync;

typedef struct sn_qlog {
  int fd;            /* -1 when off (no state_dir, or after an I/O error) */
  char *path;        /* owned */
  sn_buf buf;        /* records not yet written */
  uint64_t file_bytes;
  int dirty;         /* written since the last fsync */
  sn_qsync *sync;    /* the fsync running on the threadpool (on a dup of fd), or NULL */
} sn_qlog;

/* Opens dir/<task_id>.qlog: replays what it holds into q (a queue just made
 * with the task's limits), then keeps it for appends. 0, or -1 (the log is
 * then off and the reason logged). */
int sn_qlog_open(sn_qlog *l, const char *dir, const char *task_id, sn_queue *q);
void sn_qlog_put(sn_qlog *l, const sn_item *it);
void sn_qlog_take(sn_qlog *l, uint64_t seq);
/* Writes the buffered records (fsyncs them too when sync); compacts when due. */
void sn_qlog_flush(sn_qlog *l, const sn_queue *q, int sync);
/* Rewrites the log now with just q's window (after a resize dropped items). */
void sn_qlog_rewrite(sn_qlog *l, const sn_queue *q);
/* Starts an fsync of what was written, unless one runs. */
void sn_qlog_sync(sn_qlog *l, uv_loop_t *loop);
/* Closes it (its last records written and synced); unlink: the task was
 * removed, its queue goes too. Safe twice. */
void sn_qlog_close(sn_qlog *l, int unlink_it);

#endif
