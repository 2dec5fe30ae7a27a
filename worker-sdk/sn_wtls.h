/* TLS for the worker's connection (wss://), with OpenSSL over memory BIOs:
 * the worker's libuv stream carries the ciphertext, this module turns it
 * into plaintext and back. No I/O of its own. */
#ifndef SN_WTLS_H
#define SN_WTLS_H

#include <stddef.h>

typedef struct sn_wtls sn_wtls;

/* A client session for host (a DNS name or an IP address, checked against the
 * certificate). ca_file: PEM trust anchors (a self-signed or the node's own
 * certificate works), or NULL for the system's. NULL with errbuf filled. */
sn_wtls *sn_wtls_new(const char *host, const char *ca_file, char *errbuf, size_t errlen);
void sn_wtls_free(sn_wtls *t);
/* Ciphertext from the socket. */
int sn_wtls_feed(sn_wtls *t, const void *in, size_t n);
/* Advances the handshake: 1 done, 0 more bytes needed, -1 failed (errbuf). */
int sn_wtls_handshake(sn_wtls *t, char *errbuf, size_t errlen);
/* Plaintext read: bytes > 0, 0 when none is ready, -1 on a failure or close. */
long sn_wtls_read(sn_wtls *t, void *out, size_t cap);
/* Plaintext to send; the ciphertext is then taken with sn_wtls_take. 0 or -1. */
int sn_wtls_write(sn_wtls *t, const void *in, size_t n);
/* Ciphertext waiting to go out: a malloc'd buffer (the caller owns it) and its
 * length, or NULL when there is none. */
unsigned char *sn_wtls_take(sn_wtls *t, size_t *n, size_t headroom);
/* Queues a close_notify (then sn_wtls_take). */
void sn_wtls_shutdown(sn_wtls *t);

#endif
