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

/* Two digits per division: item frames carry a seq and a 13-digit timestamp
 * per item, and this was 7 % of the node's time on the batched data path. */
static const char sn__digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v's digits so that they end at end; returns where they start. */
static char *sn__digits(char *end, uint64_t v) {
  while (v >= 100) {
    unsigned d = (unsigned)(v % 100) * 2;
    v /= 100;
    *--end = sn__digit_pairs[d + 1];
    *--end = sn__digit_pairs[d];
  }
  if (v >= 10) {
    *--end = sn__digit_pairs[v * 2 + 1];
    *--end = sn__digit_pairs[v * 2];
  } else {
    *--end = (char)('0' + v);
  }
  return end;
}

/* Digits are copied 20 at a time, whatever their number: a fixed-size copy
 * is a few moves, where a variable one of so few bytes became `rep movsq`
 * (tens of cycles to start, 8 % of the node's time for two numbers an item). */
void sn_buf_u64(sn_buf *b, uint64_t v) {
  char tmp[40]; /* digits end at tmp + 20; the copy reads 20 bytes from where they start */
  char *p = sn__digits(tmp + 20, v);
  size_t n = (size_t)(tmp + 20 - p);
  sn_buf_reserve(b, 20);
  memcpy(b->base + b->pre + b->len, p, 20);
  b->len += n;
}

void sn_buf_u64_near(sn_buf *b, sn_buf_num *c, uint64_t v) {
  if (c->len && v == c->v + 1 && v != 0 && c->d[c->len - 1] != '9') {
    c->d[c->len - 1]++; /* the next one, as seqs go: nine times in ten one digit changes */
    c->v = v;
  } else if (!c->len || v != c->v) {
    char tmp[20];
    char *p = sn__digits(tmp + sizeof(tmp), v);
    c->len = (unsigned char)(tmp + sizeof(tmp) - p);
    memcpy(c->d, p, c->len);
    c->v = v;
  }
  sn_buf_reserve(b, sizeof(c->d));
  memcpy(b->base + b->pre + b->len, c->d, sizeof(c->d));
  b->len += c->len;
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
