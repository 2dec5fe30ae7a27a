/* redis_url: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], parsed without I/O
 * (unit-tested and fuzzed). User and password are percent-decoded; the
 * password is never logged. */
#ifndef SN_RURL_H
#define SN_RURL_H

#include "sn_err.h"

typedef struct sn_rurl {
  char host[256];
  int port;        /* 6379 when absent */
  char user[128];  /* "" = the default user */
  char pass[256];  /* "" = no AUTH */
  int db;          /* SELECT db when > 0 */
} sn_rurl;

/* 0, or -1 with err saying what is wrong (rediss:// included: hiredis 0.14,
 * as Debian builds it, has no TLS). */
int sn_rurl_parse(const char *url, sn_rurl *out, sn_error *err);

#endif
