#ifndef SN_TEST_SUITES_H
#define SN_TEST_SUITES_H
#include <check.h>
Suite *sn_queue_suite(void);
Suite *sn_jscan_suite(void);
Suite *sn_taskconf_suite(void);
Suite *sn_config_suite(void);
Suite *sn_restart_suite(void);
Suite *sn_sdk_suite(void);
Suite *sn_hardening_suite(void);
Suite *sn_parsers_suite(void);
Suite *sn_prom_suite(void);

#include <string.h>

#include "sn_queue.h"

/* A queued item holds exactly s (items carry no NUL). */
static inline int item_is(const sn_item *it, const char *s) {
  return it && it->len == strlen(s) && memcmp(it->data, s, it->len) == 0;
}
#endif
