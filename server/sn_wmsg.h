/* Frames that workers send on /w/ch, decoded without side effects: what the
 * worker channel and the job table act on. Pure (no node, no I/O) so that
 * unit tests and the fuzzer feed them bytes. */
#ifndef SN_WMSG_H
#define SN_WMSG_H

#include <jansson.h>
#include <stddef.h>

#include "sn_err.h"
#include "sn_jscan.h"

enum sn_wmsg_type {
  SN_WM_PUT, SN_WM_HB, SN_WM_LOG, SN_WM_PONG, SN_WM_RESULT, SN_WM_PARTIAL, SN_WM_UNKNOWN, SN_WM_NOTYPE
};

/* A frame after hello. The put's item bytes are spans into msg (the hot path
 * decodes nothing); the rare frames are decoded with jansson. */
#define SN_WMSG_FIXED_ITEMS 128

typedef struct sn_wmsg {
  int type;
  sn_span data, items; /* put: one item, or an array of them */
  sn_jscan_list list;  /* put: where each of items' elements is (owned) */
  json_t *root;        /* owned: decoded frame for log, pong, result, partial */
  const char *job_id;  /* pong, result, partial; NULL if absent */
  const char *text;    /* log: msg, "" if absent */
  int level;           /* log: SN_LOG_* */
  int ok;              /* result: "ok": true */
  json_t *output;      /* result: borrowed from root, NULL if absent */
  const char *error;   /* result: the worker's error text, NULL if absent */
  sn_span fixed[SN_WMSG_FIXED_ITEMS]; /* list's room before the heap; last: not cleared */
} sn_wmsg;

/* Decodes one text frame. 0, or SN_EBADJSON with err filled (position and
 * reason). Free with sn_wmsg_free either way. */
int sn_wmsg_parse(const char *msg, size_t len, sn_wmsg *m, sn_error *err);
void sn_wmsg_free(sn_wmsg *m);
/* The elements of a put's "items" array, one at a time: start with *pos 0. */
int sn_wmsg_next_item(const char *msg, const sn_wmsg *m, size_t *pos, sn_span *item);

/* A worker may take up to this many jobs at once (hello's max_jobs). */
#define SN_MAX_JOBS_PER_WORKER 1024

typedef struct sn_hello {
  json_t *root;        /* owned */
  const char *task_id; /* valid task id */
  const char *token;   /* NULL if absent */
  const char *kind;    /* NULL if absent or not a string */
  int accept_tasks, probe;
  unsigned max_jobs;   /* jobs taken at once, 1 if absent */
  long long pid;       /* -1 if absent */
} sn_hello;

/* Decodes the first frame of a channel. 0, or an error code with err filled. */
int sn_hello_parse(const char *msg, size_t len, sn_hello *h, sn_error *err);
void sn_hello_free(sn_hello *h);

#endif
