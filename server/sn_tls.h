/* TLS for the node's one port: the certificate and key from the config,
 * checked before lws gets them, and reloaded on SIGHUP. */
#ifndef SN_TLS_H
#define SN_TLS_H

#include "sn_err.h"

/* Loads cert (a PEM chain) and key (PEM) into a throwaway OpenSSL context and
 * checks that they match: 0, or an error naming the file that is wrong. */
int sn_tls_check_pair(const char *cert, const char *key, sn_error *err);

#endif
