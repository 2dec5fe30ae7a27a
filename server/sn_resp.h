/* Redis commands in the wire format (RESP), built in our own buffer.
 *
 * hiredis 0.14 formats each argument with sdscatfmt, a printf of its own:
 * with a dozen commands per job on two nodes this was a tenth of a node's
 * time. Here an argument is a length, a memcpy and two CRLFs; the command
 * then goes out with redisAsyncFormattedCommand. */
#ifndef SN_RESP_H
#define SN_RESP_H

#include <stddef.h>

#include "sn_buf.h"

/* Replaces b's contents with the command argv[0..argc) (lens[i] bytes each).
 * Hand it to hiredis NUL-terminated (sn_buf_cstr). */
void sn_resp_command(sn_buf *b, int argc, const char *const *argv, const size_t *lens);

#endif
