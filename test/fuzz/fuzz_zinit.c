/* zinit's answers: JSON-RPC reply lines, text-protocol replies, log
 * snapshots, and service states. The first byte says which. */
#include <stdlib.h>
#include <string.h>

#include "sn_zparse.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  const char *buf = (const char *)data + 1;
  if (size == 0)
    return 0;
  size--;
  switch (data[0] & 3) {
  case 0: {
    sn_zreply r;
    sn_zreply_parse(buf, size, &r);
    if (r.result && r.error)
      abort();
    sn_zreply_free(&r);
    break;
  }
  case 1: {
    json_t *root, *result;
    const char *etext;
    int code;
    if (sn_ztext_parse_reply(buf, size, &root, &result, &etext, &code) != 0 && etext == NULL)
      abort();
    json_decref(result);
    json_decref(root);
    break;
  }
  case 2: {
    json_t *lines = sn_ztext_log_lines("sn-task", buf, size);
    if (lines == NULL)
      abort();
    json_decref(lines);
    break;
  }
  default: {
    char *st = strndup(buf, size);
    int code, sig;
    (void)sn_zstate_ended(st, &code, &sig);
    free(st);
    break;
  }
  }
  return 0;
}
