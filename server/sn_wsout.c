#include "sn_wsout.h"

size_t sn_wsout_header(unsigned char *p, size_t len, int binary) {
  size_t i;
  p[0] = (unsigned char)(0x80 | (binary ? 2 : 1)); /* FIN, opcode */
  if (len < 126) {
    p[1] = (unsigned char)len;
    return 2;
  }
  if (len <= 0xffff) {
    p[1] = 126;
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
    return 4;
  }
  p[1] = 127;
  for (i = 0; i < 8; i++)
    p[2 + i] = (unsigned char)((unsigned long long)len >> (56 - 8 * i));
  return 10;
}

void sn_wsout_append(sn_buf *b, const void *data, size_t len, int binary) {
  unsigned char hdr[SN_WSOUT_HDR_MAX];
  size_t hl = sn_wsout_header(hdr, len, binary);
  sn_buf_reserve(b, hl + len);
  sn_buf_append(b, hdr, hl);
  sn_buf_append(b, data, len);
}
