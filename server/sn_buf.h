/* A growable byte buffer that can keep LWS_PRE bytes of headroom, so a frame
 * built in it is handed to lws_write without another copy. */
#ifndef SN_BUF_H
#define SN_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sn_buf {
  char *base;     /* allocation, owned */
  size_t pre;     /* headroom before data */
  size_t len;     /* bytes of data */
  size_t cap;     /* bytes available for data */
} sn_buf;

void sn_buf_init(sn_buf *b, size_t pre);
void sn_buf_free(sn_buf *b);
static inline char *sn_buf_data(sn_buf *b) { return b->base + b->pre; }
static inline void sn_buf_reset(sn_buf *b) { b->len = 0; }
/* NUL-terminates the data (allocating when nothing was ever appended, as for
 * an empty message) and returns it. */
char *sn_buf_cstr(sn_buf *b);
void sn_buf_reserve(sn_buf *b, size_t more);
/* Inline: frames are built from many short pieces (a literal, a number, an
 * item), and a call per piece showed in profiles of the data path. */
static inline void sn_buf_append(sn_buf *b, const void *p, size_t n) {
  if (n == 0)
    return; /* p may be NULL then (an empty frame), and memcpy must not see it */
  if (n > b->cap - b->len)
    sn_buf_reserve(b, n);
  memcpy(b->base + b->pre + b->len, p, n);
  b->len += n;
}
/* strlen of a literal is folded at compile time. */
static inline void sn_buf_puts(sn_buf *b, const char *s) { sn_buf_append(b, s, strlen(s)); }
void sn_buf_u64(sn_buf *b, uint64_t v);
/* A number's digits kept between calls, for runs of numbers that repeat or
 * count up (an items frame's timestamps, one per put, and seqs). Zero it to
 * start. */
typedef struct sn_buf_num {
  uint64_t v;
  unsigned char len; /* 0: nothing kept yet */
  char d[20];
} sn_buf_num;
/* sn_buf_u64, reusing c's digits when v is the last number written with c,
 * or the one after it. */
void sn_buf_u64_near(sn_buf *b, sn_buf_num *c, uint64_t v);
void sn_buf_printf(sn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, escaped. */
void sn_buf_json_str(sn_buf *b, const char *s, size_t n);
void sn_buf_base64(sn_buf *b, const unsigned char *p, size_t n);
/* Shrinks the allocation back to keep when it grew past it (for long-lived buffers). */
void sn_buf_shrink(sn_buf *b, size_t keep);

#endif
