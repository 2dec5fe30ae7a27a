/* Several small websocket frames in one write.
 *
 * lws writes one frame per lws_write, and we may call it once per WRITEABLE
 * callback: at tens of thousands of small messages a second that is one
 * send() and one epoll_ctl (POLLOUT on, then off) per message, which is where
 * the time of a job went (perf: more than half in the kernel). A server's
 * frames are not masked and we negotiate no extensions, so the node can frame
 * them itself and hand lws the bytes of many frames as one raw write; lws
 * keeps what the socket did not take and sends it before anything else. */
#ifndef SN_WSOUT_H
#define SN_WSOUT_H

#include <stddef.h>

#include "sn_buf.h"

/* At most this many bytes go into one coalesced write: enough for hundreds of
 * replies, small enough that one connection does not hold the loop. */
#define SN_WSOUT_MAX (64u << 10)
/* Longest header of an unmasked frame: 2 bytes, 8 of length. */
#define SN_WSOUT_HDR_MAX 10

/* Writes the header of an unmasked, final text or binary frame of len bytes
 * to p (room for SN_WSOUT_HDR_MAX) and returns its length. */
size_t sn_wsout_header(unsigned char *p, size_t len, int binary);
/* Appends one whole frame (header and payload) to b. */
void sn_wsout_append(sn_buf *b, const void *data, size_t len, int binary);

#endif
