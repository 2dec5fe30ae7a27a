/* What the worker SDK reads from the node after the upgrade: frames, their
 * reassembly, and the messages they carry. */
#include <stdlib.h>
#include <string.h>

#include "sn_wframe.h"
#include "sn_win.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  sn_wasm a;
  sn_wframe f;
  size_t off = 0;
  int rc;
  sn_wasm_init(&a);
  while ((rc = sn_wframe_parse(data + off, size - off, &f)) == 1) {
    const unsigned char *p = data + off + f.header_len, *msg;
    size_t len;
    int op;
    if (f.header_len + f.payload_len > size - off)
      abort();
    if (f.opcode < 8) {
      int r = sn_wasm_feed(&a, &f, p, &msg, &len, &op);
      if (r < 0)
        break;
      if (r == 1 && op == SN_WS_TEXT) {
        sn_win m;
        if (sn_win_parse((const char *)msg, len, &m) == 0 && (m.type == SN_WIN_JOB) && (!m.job_id || !m.member))
          abort();
        sn_win_free(&m);
      }
    }
    off += f.header_len + f.payload_len;
  }
  sn_wasm_free(&a);
  return 0;
}
