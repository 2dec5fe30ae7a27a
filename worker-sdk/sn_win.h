/* Messages from the node to a worker, decoded without side effects; the
 * worker (sn_worker.c) acts on them. Pure, so tests and the fuzzer feed it. */
#ifndef SN_WIN_H
#define SN_WIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum sn_win_type {
  SN_WIN_OTHER, SN_WIN_WELCOME, SN_WIN_CMD, SN_WIN_JOB, SN_WIN_CANCEL, SN_WIN_PING, SN_WIN_STOP, SN_WIN_PROBE,
  SN_WIN_ERROR
};

typedef struct sn_win {
  int type;
  json_t *root;             /* owned */
  const char *job_id;       /* job, cancel; NULL if absent */
  json_t *ping_id;          /* ping: borrowed, NULL if absent */
  const char *start_params; /* welcome; NULL if absent */
  uint64_t hb_ms;           /* welcome: heartbeat_interval_ms, 0 if absent */
  char *member;             /* cmd: data, job: payload, as JSON text; owned */
  size_t member_len;
  int connected;            /* probe */
  char error[256];          /* error: "code: message" */
} sn_win;

/* Decodes one text message. 0, or -1 when it is not a JSON object with a
 * string "type" (ignored by the worker). Free with sn_win_free either way. */
int sn_win_parse(const char *p, size_t len, sn_win *m);
void sn_win_free(sn_win *m);

#endif
