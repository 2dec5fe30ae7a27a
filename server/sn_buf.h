/* A growable byte buffer that can keep LWS_PRE bytes of headroom, so a frame
 * built in it is handed to lws_write without another copy. */
#ifndef SN_BUF_H
#define SN_BUF_H

#include <stddef.h>
#include <stdint.h>

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
void sn_buf_append(sn_buf *b, const void *p, size_t n);
void sn_buf_puts(sn_buf *b, const char *s);
void sn_buf_u64(sn_buf *b, uint64_t v);
void sn_buf_printf(sn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, escaped. */
void sn_buf_json_str(sn_buf *b, const char *s, size_t n);
void sn_buf_base64(sn_buf *b, const unsigned char *p, size_t n);
/* Shrinks the allocation back to keep when it grew past it (for long-lived buffers). */
void sn_buf_shrink(sn_buf *b, size_t keep);

#endif
