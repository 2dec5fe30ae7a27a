/* Unit tests of the node's pure parts, one suite per module. */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int main(void) {
  SRunner *sr = srunner_create(sn_queue_suite());
  int failed, run;
  srunner_add_suite(sr, sn_jscan_suite());
  srunner_add_suite(sr, sn_taskconf_suite());
  srunner_add_suite(sr, sn_config_suite());
  srunner_add_suite(sr, sn_restart_suite());
  srunner_add_suite(sr, sn_sdk_suite());
  srunner_add_suite(sr, sn_hardening_suite());
  srunner_add_suite(sr, sn_parsers_suite());
  srunner_add_suite(sr, sn_prom_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  run = srunner_ntests_run(sr);
  srunner_free(sr);
  printf("%d passed, %d failed\n", run - failed, failed);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
