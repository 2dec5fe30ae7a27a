#include "sn_wtls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sn_wtls {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
};

static void sn__tls_err(char *buf, size_t len, const char *what, SSL *ssl) {
  unsigned long e = ERR_peek_last_error();
  long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (v != X509_V_OK)
    snprintf(buf, len, "TLS %s: certificate: %s", what, X509_verify_cert_error_string(v));
  else
    snprintf(buf, len, "TLS %s: %s", what, e ? ERR_reason_error_string(e) : "failed");
  ERR_clear_error();
}

static int sn__is_ip(const char *host) {
  unsigned char b[16];
  return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

sn_wtls *sn_wtls_new(const char *host, const char *ca_file, char *errbuf, size_t errlen) {
  sn_wtls *t = calloc(1, sizeof(*t));
  if (t == NULL || (t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
    snprintf(errbuf, errlen, "TLS: out of memory");
    free(t);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  /* A trust anchor may be the node's own (self-signed or leaf) certificate. */
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(t->ctx), X509_V_FLAG_PARTIAL_CHAIN);
  if ((ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(t->ctx)) != 1) {
    sn__tls_err(errbuf, errlen, ca_file ? "cannot load the CA file" : "cannot load the system CAs", NULL);
    goto fail;
  }
  if ((t->ssl = SSL_new(t->ctx)) == NULL)
    goto fail;
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (t->rbio == NULL || t->wbio == NULL) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    goto fail;
  }
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  SSL_set_connect_state(t->ssl);
  /* The certificate must name the host we dialled: an IP address or a DNS name. */
  if (sn__is_ip(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
  } else {
    SSL_set_tlsext_host_name(t->ssl, host);
    SSL_set1_host(t->ssl, host);
  }
  return t;
fail:
  if (errbuf[0] == '\0')
    snprintf(errbuf, errlen, "TLS: cannot set up the session");
  sn_wtls_free(t);
  return NULL;
}

void sn_wtls_free(sn_wtls *t) {
  if (t == NULL)
    return;
  SSL_free(t->ssl);
  SSL_CTX_free(t->ctx);
  free(t);
}

int sn_wtls_feed(sn_wtls *t, const void *in, size_t n) {
  return n == 0 || BIO_write(t->rbio, in, (int)n) == (int)n ? 0 : -1;
}

int sn_wtls_handshake(sn_wtls *t, char *errbuf, size_t errlen) {
  int rc = SSL_do_handshake(t->ssl);
  if (rc == 1)
    return 1;
  int e = SSL_get_error(t->ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return 0;
  sn__tls_err(errbuf, errlen, "handshake", t->ssl);
  return -1;
}

long sn_wtls_read(sn_wtls *t, void *out, size_t cap) {
  int rc = SSL_read(t->ssl, out, cap > 1u << 30 ? 1 << 30 : (int)cap);
  if (rc > 0)
    return rc;
  int e = SSL_get_error(t->ssl, rc);
  ERR_clear_error();
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

int sn_wtls_write(sn_wtls *t, const void *in, size_t n) {
  /* Memory BIOs take everything at once: one call, no partial writes. */
  return n == 0 || SSL_write(t->ssl, in, (int)n) == (int)n ? 0 : -1;
}

unsigned char *sn_wtls_take(sn_wtls *t, size_t *n, size_t headroom) {
  size_t pending = BIO_ctrl_pending(t->wbio);
  unsigned char *buf;
  *n = 0;
  if (pending == 0 || (buf = malloc(headroom + pending)) == NULL)
    return NULL;
  *n = (size_t)BIO_read(t->wbio, buf + headroom, (int)pending);
  return buf;
}

void sn_wtls_shutdown(sn_wtls *t) {
  SSL_shutdown(t->ssl);
  ERR_clear_error();
}
