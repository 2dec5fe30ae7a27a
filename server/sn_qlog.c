#include "sn_qlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_util.h"

/* Records: a type byte, then little-endian fields.
 *   'I' seq u64, ts_ms u64, len u32, bin u8, data[len]   an item went in
 *   'T' seq u64                                          a consumer took it
 *   'H' first, next, dropped, consumed, last_drop u64    the counters at a rewrite */
enum { SN_QL_ITEM = 'I', SN_QL_TAKE = 'T', SN_QL_HEAD = 'H' };

static void sn__u64(sn_buf *b, uint64_t v) {
  unsigned char p[8];
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
  sn_buf_append(b, p, 8);
}

static uint64_t sn__get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static void sn__item(sn_buf *b, const sn_item *it) {
  unsigned char t = SN_QL_ITEM, len[4], bin = (unsigned char)sn_item_bin(it);
  for (int i = 0; i < 4; i++)
    len[i] = (unsigned char)(it->len >> (8 * i));
  sn_buf_append(b, &t, 1);
  sn__u64(b, sn_item_seq(it));
  sn__u64(b, sn_item_ts(it));
  sn_buf_append(b, len, 4);
  sn_buf_append(b, &bin, 1);
  sn_buf_append(b, it->data, it->len);
}

static void sn__head(sn_buf *b, const sn_queue *q) {
  unsigned char t = SN_QL_HEAD;
  sn_buf_append(b, &t, 1);
  sn__u64(b, q->first_seq);
  sn__u64(b, q->next_seq);
  sn__u64(b, q->dropped);
  sn__u64(b, q->consumed);
  sn__u64(b, q->last_drop_seq);
}

/* Applies the records in p[0..n) to q; returns the length of the whole
 * records (a record cut by a crash ends the replay). */
static size_t sn__replay(const unsigned char *p, size_t n, sn_queue *q) {
  size_t off = 0;
  uint64_t next = 0;
  while (off < n) {
    const unsigned char *r = p + off;
    size_t left = n - off;
    if (r[0] == SN_QL_ITEM && left >= 22) {
      uint32_t len = (uint32_t)r[17] | (uint32_t)r[18] << 8 | (uint32_t)r[19] << 16 | (uint32_t)r[20] << 24;
      if (left - 22 < len)
        break;
      sn_queue_push_at(q, sn__get64(r + 1), r + 22, len, r[21], sn__get64(r + 9));
      off += 22 + (size_t)len;
    } else if (r[0] == SN_QL_TAKE && left >= 9) {
      sn_queue_take(q, sn__get64(r + 1));
      off += 9;
    } else if (r[0] == SN_QL_HEAD && left >= 41) {
      sn_queue_restore_counters(q, sn__get64(r + 1), sn__get64(r + 17), sn__get64(r + 25), sn__get64(r + 33));
      next = sn__get64(r + 9);
      off += 41;
    } else {
      break;
    }
  }
  sn_queue_skip_to(q, next); /* consumed items at the end of the window */
  return off;
}

/* An fsync on the threadpool works on a dup of the log's fd, so that the log
 * may be compacted or closed meanwhile; it tells the log when it is done,
 * unless the log went first. */
struct sn_qsync {
  uv_fs_t req;
  int fd;
  sn_qlog *l;
};

static void sn__off(sn_qlog *l, const char *what) {
  sn_log(SN_LOG_ERROR, NULL, "queue log %s: %s: %s; the queue is kept in memory only", l->path, what, strerror(errno));
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
}

int sn_qlog_open(sn_qlog *l, const char *dir, const char *task_id, sn_queue *q) {
  struct stat st;
  unsigned char *data = NULL;
  size_t good = 0;
  char path[4300];
  memset(l, 0, sizeof(*l));
  l->fd = -1;
  sn_buf_init(&l->buf, 0);
  snprintf(path, sizeof(path), "%s/queues", dir);
  snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s.qlog", task_id);
  l->path = sn_strdup(path);
  path[strlen(path) - strlen(task_id) - 6] = '\0';
  if (sn_mkdir_p(path, 0700) != 0)
    return sn__off(l, "cannot create its directory"), -1;
  if ((l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
    return sn__off(l, "cannot open"), -1;
  if (fstat(l->fd, &st) == 0 && st.st_size > 0) {
    data = sn_malloc((size_t)st.st_size);
    if (pread(l->fd, data, (size_t)st.st_size, 0) == st.st_size)
      good = sn__replay(data, (size_t)st.st_size, q);
    free(data);
    if (good < (size_t)st.st_size) /* the tail a crash cut short */
      sn_log(SN_LOG_WARN, task_id, "queue log: %lld bytes at the end could not be read and are dropped",
             (long long)st.st_size - (long long)good);
    if (ftruncate(l->fd, (off_t)good) != 0)
      return sn__off(l, "cannot truncate"), -1;
    sn_log(SN_LOG_INFO, task_id, "queue restored: %zu items, seq %llu..%llu, %llu dropped", q->len,
           (unsigned long long)q->first_seq, (unsigned long long)q->next_seq - 1, (unsigned long long)q->dropped);
  }
  if (lseek(l->fd, (off_t)good, SEEK_SET) < 0)
    return sn__off(l, "cannot seek"), -1;
  l->file_bytes = good;
  return 0;
}

void sn_qlog_put(sn_qlog *l, const sn_item *it) {
  if (l->fd >= 0)
    sn__item(&l->buf, it);
}

void sn_qlog_take(sn_qlog *l, uint64_t seq) {
  unsigned char t = SN_QL_TAKE;
  if (l->fd < 0)
    return;
  sn_buf_append(&l->buf, &t, 1);
  sn__u64(&l->buf, seq);
}

static int sn__write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Rewrites the log with just the live window: the counters, then each item. */
static void sn__compact(sn_qlog *l, const sn_queue *q) {
  char tmp[4400];
  sn_buf b;
  int fd;
  sn_buf_init(&b, 0);
  sn__head(&b, q);
  for (uint64_t s = q->first_seq; s < q->next_seq; s++) {
    uint64_t cur = s;
    sn_gap g;
    const sn_item *it = sn_queue_peek((sn_queue *)q, &cur, &g);
    if (it == NULL)
      break;
    sn__item(&b, it);
    s = sn_item_seq(it);
  }
  snprintf(tmp, sizeof(tmp), "%s.tmp", l->path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || sn__write_all(fd, sn_buf_data(&b), b.len) != 0 || fsync(fd) != 0 || rename(tmp, l->path) != 0) {
    if (fd >= 0)
      close(fd);
    sn_buf_free(&b);
    return; /* the old log is still whole: try again later */
  }
  close(l->fd);
  l->fd = fd;
  /* The new file is open for writing at its end: appends go on from here. */
  l->file_bytes = b.len;
  l->dirty = 0;
  sn_buf_free(&b);
}

void sn_qlog_flush(sn_qlog *l, const sn_queue *q, int sync) {
  if (l->fd < 0 || l->buf.len == 0)
    return;
  if (sn__write_all(l->fd, sn_buf_data(&l->buf), l->buf.len) != 0)
    return sn__off(l, "cannot write");
  l->file_bytes += l->buf.len;
  sn_buf_reset(&l->buf);
  sn_buf_shrink(&l->buf, 1 << 20);
  l->dirty = 1;
  if (sync && fdatasync(l->fd) == 0)
    l->dirty = 0;
  /* Past twice what the queue holds (and 1 MiB), keep just the window. */
  if (l->file_bytes > 2 * (q->bytes + 22 * (uint64_t)q->len) + (1u << 20))
    sn__compact(l, q);
}

void sn_qlog_rewrite(sn_qlog *l, const sn_queue *q) {
  if (l->fd < 0)
    return;
  sn_buf_reset(&l->buf); /* the rewrite holds everything they said */
  sn__compact(l, q);
}

static void sn__synced(uv_fs_t *req) {
  sn_qsync *s = req->data;
  if (s->l)
    s->l->sync = NULL;
  close(s->fd);
  uv_fs_req_cleanup(req);
  free(s);
}

void sn_qlog_sync(sn_qlog *l, uv_loop_t *loop) {
  sn_qsync *s;
  if (l->fd < 0 || !l->dirty || l->sync)
    return;
  s = sn_calloc(1, sizeof(*s));
  s->req.data = s;
  s->l = l;
  if ((s->fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0)) < 0 || uv_fs_fdatasync(loop, &s->req, s->fd, sn__synced) != 0) {
    if (s->fd >= 0)
      close(s->fd);
    free(s);
    return;
  }
  l->sync = s;
  l->dirty = 0;
}

void sn_qlog_close(sn_qlog *l, int unlink_it) {
  if (l->path == NULL)
    return;
  if (l->sync)
    l->sync->l = NULL; /* it finishes on its own fd */
  l->sync = NULL;
  if (l->fd >= 0 && l->buf.len && sn__write_all(l->fd, sn_buf_data(&l->buf), l->buf.len) == 0 && !unlink_it)
    fdatasync(l->fd);
  if (unlink_it)
    unlink(l->path);
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
  sn_buf_free(&l->buf);
  free(l->path);
  l->path = NULL;
}
