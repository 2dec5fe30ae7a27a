#include "sn_wframe.h"

#include <stdlib.h>
#include <string.h>

size_t sn_wframe_header(unsigned char *hdr, int opcode, size_t len, const unsigned char mask[4]) {
  size_t n = 2;
  hdr[0] = (unsigned char)(0x80 | opcode);
  if (len < 126) {
    hdr[1] = (unsigned char)(0x80 | len);
  } else if (len < 65536) {
    hdr[1] = 0x80 | 126;
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
    n = 4;
  } else {
    hdr[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
      hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    n = 10;
  }
  memcpy(hdr + n, mask, 4);
  return n + 4;
}

void sn_wframe_mask(unsigned char *p, size_t len, const unsigned char mask[4]) {
  uint32_t m32;
  uint64_t m64;
  size_t i = 0;
  memcpy(&m32, mask, 4);
  m64 = ((uint64_t)m32 << 32) | m32;
  /* Eight bytes at a time: the mask repeats every four, so this stays aligned to it. */
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    v ^= m64;
    memcpy(p + i, &v, 8);
  }
  for (; i < len; i++)
    p[i] ^= mask[i & 3];
}

int sn_wframe_parse(const unsigned char *buf, size_t len, sn_wframe *f) {
  size_t n, hl = 2;
  if (len < 2)
    return 0;
  if (buf[1] & 0x80)
    return -1; /* servers never mask */
  if (buf[0] & 0x70)
    return -1; /* no extension was negotiated */
  f->fin = (buf[0] & 0x80) != 0;
  f->opcode = buf[0] & 0x0f;
  n = buf[1] & 0x7f;
  if (f->opcode >= 8 && (f->opcode > SN_WS_PONG || !f->fin || n > 125))
    return -1;
  if (f->opcode > SN_WS_BINARY && f->opcode < 8)
    return -1;
  if (n == 126) {
    if (len < 4)
      return 0;
    n = ((size_t)buf[2] << 8) | buf[3];
    hl = 4;
  } else if (n == 127) {
    if (len < 10)
      return 0;
    n = 0;
    for (int i = 0; i < 8; i++)
      n = (n << 8) | buf[2 + i];
    hl = 10;
  }
  if (n > SN_WFRAME_MAX)
    return -1;
  f->header_len = hl;
  f->payload_len = n;
  return len - hl >= n ? 1 : 0;
}

void sn_wasm_init(sn_wasm *a) {
  a->buf = NULL;
  a->len = 0;
  a->op = -1;
}

void sn_wasm_free(sn_wasm *a) {
  free(a->buf);
  sn_wasm_init(a);
}

int sn_wasm_feed(sn_wasm *a, const sn_wframe *f, const unsigned char *p, const unsigned char **msg, size_t *len,
                 int *op) {
  unsigned char *m;
  if ((f->opcode == SN_WS_CONT) == (a->op < 0))
    return -1; /* a continuation needs a start, a start needs the last message ended */
  if (f->opcode != SN_WS_CONT && f->fin) { /* the common case: whole, no copy */
    *msg = p;
    *len = f->payload_len;
    *op = f->opcode;
    return 1;
  }
  if (f->opcode != SN_WS_CONT) {
    a->op = f->opcode;
    a->len = 0;
  }
  if (f->payload_len > SN_WFRAME_MAX - a->len)
    return -1;
  if (f->payload_len) {
    if ((m = realloc(a->buf, a->len + f->payload_len)) == NULL)
      return -1;
    a->buf = m;
    memcpy(a->buf + a->len, p, f->payload_len);
    a->len += f->payload_len;
  }
  if (!f->fin)
    return 0;
  *msg = a->buf;
  *len = a->len;
  *op = a->op;
  a->op = -1;
  return 1;
}
