/* A /m/cmd request body as sn_cmd_handle reads it, then the task fields it
 * carries through the real validation (sn_taskconf_parse) and back. */
#include <jansson.h>
#include <string.h>

#include "sn_err.h"
#include "sn_taskconf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  sn_taskconf conf;
  sn_error err = {0};
  if (json_is_object(req) && sn_taskconf_parse(req, &conf, &err) == 0) {
    json_t *back = sn_taskconf_to_json(&conf);
    sn_taskconf c2;
    sn_error e2 = {0};
    char *s = json_dumps(back, JSON_COMPACT);
    if (s == NULL)
      __builtin_trap(); /* what we accepted must be printable */
    json_object_del(back, "cmd");
    /* What we print back is itself a valid task. */
    if (sn_taskconf_parse(back, &c2, &e2) == 0)
      sn_taskconf_free(&c2);
    else
      __builtin_trap();
    free(s);
    json_decref(back);
    sn_taskconf_free(&conf);
  } else if (err.code) {
    json_t *o = sn_err_json(err.code, err.msg, 0);
    char *s = sn_json_dumps_safe(o);
    if (strstr(s, "\"internal\""))
      __builtin_trap(); /* every validation message must make a reply */
    free(s);
    json_decref(o);
  }
  json_decref(req);
  return 0;
}
