#include "sn_utf8.h"

#include <stdint.h>
#include <string.h>

size_t sn_utf8_seq(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (n == 0)
    return 0;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return len;
}

/* True when p[0..n) could start a valid sequence that the end of text cut. */
static int sn__cut_short(const unsigned char *p, size_t n) {
  unsigned char buf[4];
  if (n == 0 || n >= 4)
    return 0;
  memcpy(buf, p, n);
  for (size_t i = n; i < 4; i++)
    buf[i] = 0xBF; /* a continuation byte that fits every position but the second of E0/F0 */
  if (p[0] == 0xE0 && n == 1)
    buf[1] = 0xA0;
  if (p[0] == 0xF0 && n == 1)
    buf[1] = 0x90;
  if (p[0] == 0xF4 && n == 1)
    buf[1] = 0x8F;
  if (p[0] == 0xED && n == 1)
    buf[1] = 0x9F;
  return sn_utf8_seq(buf, 4) > n;
}

size_t sn_utf8_fix(char *s) {
  unsigned char *p = (unsigned char *)s;
  size_t n = strlen(s), i = 0;
  while (i < n) {
    size_t k = sn_utf8_seq(p + i, n - i);
    if (k) {
      i += k;
    } else if (sn__cut_short(p + i, n - i)) {
      p[i] = '\0';
      return i;
    } else {
      p[i++] = '?';
    }
  }
  return n;
}

char *sn_utf8_copy(char *out, size_t cap, const char *s) {
  size_t n;
  if (cap == 0)
    return out;
  n = strnlen(s, cap - 1);
  memcpy(out, s, n);
  out[n] = '\0';
  sn_utf8_fix(out);
  return out;
}

int sn_utf8_valid(const void *buf, size_t n) {
  const unsigned char *p = buf;
  size_t i = 0;
  while (i < n) {
    /* ASCII eight bytes at a time: almost all of what workers send. */
    while (i + 8 <= n) {
      uint64_t v;
      memcpy(&v, p + i, sizeof(v));
      if (v & 0x8080808080808080ull)
        break;
      i += 8;
    }
    if (i >= n)
      break;
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = sn_utf8_seq(p + i, n - i);
    if (k == 0)
      return 0;
    i += k;
  }
  return 1;
}
