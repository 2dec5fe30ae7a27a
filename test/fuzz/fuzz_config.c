/* The config file (as sn_config_load_file reads it) and the rules it feeds:
 * exec_allow and the Origin/Host policy with its lists. */
#include <jansson.h>
#include <string.h>

#include "sn_config.h"
#include "sn_origin.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  sn_config cfg;
  sn_error err = {0};
  sn_config_init(&cfg);
  if (root && sn_config_load_json(&cfg, root, &err) == 0) {
    sn_error e2 = {0};
    (void)sn_config_exec_allowed(&cfg, "/bin/sh");
    (void)sn_config_exec_allowed(&cfg, "/usr/bin/../bin/true");
    (void)sn_origin_check(&cfg, "localhost:7700", "http://evil.example", 0, &e2);
    (void)sn_origin_check(&cfg, cfg.listen_host, NULL, 0, &e2);
  }
  sn_config_free(&cfg);
  json_decref(root);
  return 0;
}
