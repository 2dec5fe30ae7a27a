#include "sn_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

/* OpenSSL's reason for the last failure, for the log line. */
static const char *sn__ssl_reason(void) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  return r ? r : "unknown error";
}

int sn_tls_check_pair(const char *cert, const char *key, sn_error *err) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  int rc = 0;
  if (ctx == NULL)
    return sn_seterr(err, SN_EINTERNAL, "TLS: cannot create an OpenSSL context");
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
    rc = sn_seterr(err, SN_EBADREQ, "TLS: cannot load the certificate %s: %s", cert, sn__ssl_reason());
  else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    rc = sn_seterr(err, SN_EBADREQ, "TLS: cannot load the key %s: %s", key, sn__ssl_reason());
  else if (SSL_CTX_check_private_key(ctx) != 1)
    rc = sn_seterr(err, SN_EBADREQ, "TLS: the key %s does not match the certificate %s", key, cert);
  ERR_clear_error();
  SSL_CTX_free(ctx);
  return rc;
}
