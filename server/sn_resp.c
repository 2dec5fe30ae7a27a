#include "sn_resp.h"

/* "<prefix><n>\r\n" */
static void sn__line(sn_buf *b, char prefix, size_t n) {
  sn_buf_append(b, &prefix, 1);
  sn_buf_u64(b, n);
  sn_buf_append(b, "\r\n", 2);
}

void sn_resp_command(sn_buf *b, int argc, const char *const *argv, const size_t *lens) {
  size_t total = 16;
  for (int i = 0; i < argc; i++)
    total += lens[i] + 32;
  sn_buf_reset(b);
  sn_buf_reserve(b, total); /* one allocation at most, none once b has grown */
  sn__line(b, '*', (size_t)argc);
  for (int i = 0; i < argc; i++) {
    sn__line(b, '$', lens[i]);
    sn_buf_append(b, argv[i], lens[i]);
    sn_buf_append(b, "\r\n", 2);
  }
}
