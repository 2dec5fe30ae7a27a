/* Worker-channel frames: the hello, then put/items/hb/log/pong/result/partial
 * as the channel and the job table decode them. The first byte says which. */
#include <stdlib.h>
#include <string.h>

#include "sn_utf8.h"
#include "sn_wmsg.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  const char *msg = (const char *)data + 1;
  sn_error err = {0};
  if (size == 0)
    return 0;
  size--;
  if (data[0] & 1) {
    sn_hello h;
    if (sn_hello_parse(msg, size, &h, &err) == 0 && (h.task_id == NULL || strlen(h.task_id) > 128))
      abort();
    sn_hello_free(&h);
    return 0;
  }
  sn_wmsg m;
  int ok = sn_wmsg_parse(msg, size, &m, &err) == 0;
  if (ok && !sn_utf8_valid(msg, size))
    abort(); /* a frame it takes is UTF-8: the node checks no more (sn_http.c) */
  if (ok && m.type == SN_WM_PUT) {
    size_t pos = 0, count = 0;
    sn_span e;
    if (m.data.len && m.data.off + m.data.len > size)
      abort();
    while (m.data.len == 0 && sn_wmsg_next_item(msg, &m, &pos, &e)) {
      if (e.off + e.len > size || e.len == 0)
        abort();
      count++;
    }
    (void)count;
  }
  sn_wmsg_free(&m);
  return 0;
}
