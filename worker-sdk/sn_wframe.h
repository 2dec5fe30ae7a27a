/* Websocket framing for a client (RFC 6455): masked frames out, frames in. Pure, no I/O. */
#ifndef SN_WFRAME_H
#define SN_WFRAME_H

#include <stddef.h>
#include <stdint.h>

enum { SN_WS_CONT = 0, SN_WS_TEXT = 1, SN_WS_BINARY = 2, SN_WS_CLOSE = 8, SN_WS_PING = 9, SN_WS_PONG = 10 };

#define SN_WFRAME_HDR_MAX 14

/* Writes the header of a masked frame for len payload bytes into hdr (at
 * least SN_WFRAME_HDR_MAX bytes) and returns its size. */
size_t sn_wframe_header(unsigned char *hdr, int opcode, size_t len, const unsigned char mask[4]);
/* Masks (or unmasks) p in place. */
void sn_wframe_mask(unsigned char *p, size_t len, const unsigned char mask[4]);

typedef struct sn_wframe {
  int opcode;
  int fin;
  size_t header_len;
  size_t payload_len;
} sn_wframe;

/* Largest frame or message the SDK accepts from the node (the node's own
 * max_message_bytes is at most 256 MiB). */
#define SN_WFRAME_MAX ((size_t)256 << 20)

/* Parses one frame header at buf: 1 when a whole frame is there, 0 when more
 * bytes are needed, -1 when it is not a valid frame from a server (masked,
 * reserved bits, unknown opcode, a control frame fragmented or over 125
 * bytes, or over SN_WFRAME_MAX). */
int sn_wframe_parse(const unsigned char *buf, size_t len, sn_wframe *f);

/* Reassembles fragmented messages. */
typedef struct sn_wasm {
  unsigned char *buf; /* owned */
  size_t len;
  int op;             /* opcode of the message being assembled, -1 when none */
} sn_wasm;

void sn_wasm_init(sn_wasm *a);
void sn_wasm_free(sn_wasm *a);
/* Feeds one text, binary or continuation frame with payload p. Returns 1 when
 * a message is complete (*msg, *len, *op valid until the next call), 0 when it
 * needs more fragments, -1 on a violation (a continuation without a start, a
 * new message inside one, over SN_WFRAME_MAX, out of memory). */
int sn_wasm_feed(sn_wasm *a, const sn_wframe *f, const unsigned char *p, const unsigned char **msg, size_t *len,
                 int *op);

#endif
