#include "sn_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_util.h"

void sn_buf_init(sn_buf *b, size_t pre) {
  b->base = NULL;
  b->pre = pre;
  b->len = b->cap = 0;
}

void sn_buf_free(sn_buf *b) {
  free(b->base);
  b->base = NULL;
  b->len = b->cap = 0;
}

void sn_buf_reserve(sn_buf *b, size_t more) {
  size_t need = b->len + more;
  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  b->base = sn_realloc(b->base, b->pre + cap + 1);
  b->cap = cap;
}

char *sn_buf_cstr(sn_buf *b) {
  if (b->base == NULL) {
    b->base = sn_malloc(b->pre + 1);
    b->cap = 0; /* the byte for the NUL is always there beyond cap */
  }
  b->base[b->pre + b->len] = '\0';
  return b->base + b->pre;
}

void sn_buf_append(sn_buf *b, const void *p, size_t n) {
  if (n == 0)
    return; /* p may be NULL then (an empty frame), and memcpy must not see it */
  sn_buf_reserve(b, n);
  memcpy(b->base + b->pre + b->len, p, n);
  b->len += n;
}

void sn_buf_puts(sn_buf *b, const char *s) { sn_buf_append(b, s, strlen(s)); }

void sn_buf_u64(sn_buf *b, uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  sn_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void sn_buf_printf(sn_buf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n <= 0)
    return;
  sn_buf_reserve(b, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(b->base + b->pre + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sn_buf_json_str(sn_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  sn_buf_reserve(b, n + 2);
  sn_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sn_buf_append(b, e, 2);
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      sn_buf_append(b, e, 6);
    } else {
      sn_buf_append(b, &s[i], 1);
    }
  }
  sn_buf_append(b, "\"", 1);
}

void sn_buf_base64(sn_buf *b, const unsigned char *p, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  sn_buf_reserve(b, (n + 2) / 3 * 4);
  char *o = b->base + b->pre + b->len;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    *o++ = tbl[p[i] >> 2];
    *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
    *o++ = tbl[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
    *o++ = tbl[p[i + 2] & 63];
  }
  if (i < n) {
    *o++ = tbl[p[i] >> 2];
    if (i + 1 < n) {
      *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
      *o++ = tbl[(p[i + 1] & 15) << 2];
    } else {
      *o++ = tbl[(p[i] & 3) << 4];
      *o++ = '=';
    }
    *o++ = '=';
  }
  b->len = (size_t)(o - (b->base + b->pre));
}

void sn_buf_shrink(sn_buf *b, size_t keep) {
  if (b->cap > keep && b->len == 0) {
    free(b->base);
    b->base = NULL;
    b->cap = 0;
  }
}
