/* supernode worker SDK: connect a worker to a supernode's /w/ch, put data,
 * answer commands, jobs and pings; reconnect by itself.
 *
 *   sn_worker *w = sn_worker_from_env(&err);      // SUPERNODE_URL, _TASK_ID, _TOKEN, _START_PARAMS
 *   sn_worker_on_cmd(w, on_cmd, NULL);
 *   sn_worker_put_json(w, "{\"t\":21.5}", 10);    // queued, batched, sent when connected
 *   sn_worker_run(w);                             // its own loop, until sn_worker_stop()
 *   sn_worker_free(w);
 *
 * Or on an existing libuv loop: sn_worker_attach(w, loop), then sn_worker_stop(w) and let the
 * loop run until the on_closed callback before sn_worker_free(w).
 * Every function returns 0 or a negative SN_WORKER_E* code (see sn_worker_strerror); the
 * library never aborts, never exits and keeps no global state. Not thread-safe: use one
 * worker from the thread that runs its loop. */
#ifndef SUPERNODE_WORKER_H
#define SUPERNODE_WORKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SN_WORKER_ERRNO_MAP(XX)                                  \
  XX(EINVAL, -1, "invalid argument")                             \
  XX(ENOMEM, -2, "out of memory")                                \
  XX(ENOENV, -3, "SUPERNODE_URL or SUPERNODE_TASK_ID is not set") \
  XX(ESTATE, -4, "not possible in the worker's current state")   \
  XX(EREFUSED, -5, "the node refused the worker")                \
  XX(EIO, -6, "connection failed")                               \
  XX(ETIMEDOUT, -7, "timed out")                                 \
  XX(EURL, -8, "the URL is not ws://HOST:PORT/PATH or wss://HOST:PORT/PATH")

enum sn_worker_err {
  SN_WORKER_OK = 0,
#define XX(name, code, text) SN_WORKER_##name = code,
  SN_WORKER_ERRNO_MAP(XX)
#undef XX
};

typedef struct sn_worker sn_worker;

typedef struct sn_worker_opts {
  const char *url;           /* ws://HOST:PORT/w/ch or wss://... (required) */
  const char *task_id;       /* required */
  const char *token;         /* per-spawn secret or worker_token; may be NULL */
  const char *start_params;  /* may be NULL; the node's welcome overrides it */
  const char *kind;          /* may be NULL */
  int accept_tasks;          /* the worker takes jobs */
  size_t buffer_items;       /* puts kept while disconnected (drop-oldest); 0 = 10000 */
  size_t batch_items;        /* most items per put frame; 0 = 1000 */
  size_t batch_bytes;        /* most bytes per put frame; 0 = 256 KiB */
  unsigned flush_ms;         /* longest a put waits to be batched; 0 = 2 */
  unsigned reconnect_max_ms; /* backoff ceiling; 0 = 5000 */
  const char *ca_file;       /* wss://: PEM trust anchors (the node's certificate will do); NULL = the system's */
} sn_worker_opts;

typedef struct sn_worker_stats {
  uint64_t sent;       /* items handed to the connection */
  uint64_t buffered;   /* items waiting to be sent */
  uint64_t dropped;    /* items dropped because the buffer was full */
  uint64_t reconnects; /* connections made after the first */
  size_t write_queue;  /* bytes written but not yet taken by the kernel */
  int connected;       /* welcomed by the node */
} sn_worker_stats;

/* data/payload are the JSON text of the member, not NUL-terminated beyond len. */
typedef void (*sn_worker_cmd_cb)(sn_worker *w, const char *data, size_t len, void *ud);
typedef void (*sn_worker_job_cb)(sn_worker *w, const char *job_id, const char *payload, size_t len,
                                 void *ud);
typedef void (*sn_worker_event_cb)(sn_worker *w, void *ud);
typedef void (*sn_worker_cancel_cb)(sn_worker *w, const char *job_id, void *ud);

sn_worker *sn_worker_new(const sn_worker_opts *opts, int *err);
/* Reads SUPERNODE_URL, SUPERNODE_TASK_ID, SUPERNODE_TOKEN, SUPERNODE_START_PARAMS, SUPERNODE_CA_FILE. */
sn_worker *sn_worker_from_env(int *err);
/* Frees a worker that is not attached, or whose on_closed came. NULL is fine. */
int sn_worker_free(sn_worker *w);

/* Starts connecting on loop (the caller runs it). */
int sn_worker_attach(sn_worker *w, uv_loop_t *loop);
/* Runs the worker on a loop of its own until sn_worker_stop(). */
int sn_worker_run(sn_worker *w);
/* Sends what is buffered if connected, closes, stops reconnecting. */
int sn_worker_stop(sn_worker *w);
/* Like stop, but first waits to be connected and sends everything buffered. */
int sn_worker_finish(sn_worker *w);

/* Puts one item: JSON text (the caller's bytes are sent as they are), a
 * jansson value (borrowed), or raw bytes (a binary item). Buffered when
 * disconnected; the oldest is dropped and counted when the buffer is full. */
int sn_worker_put_json(sn_worker *w, const char *json, size_t len);
int sn_worker_put_value(sn_worker *w, const json_t *value);
int sn_worker_put_bytes(sn_worker *w, const void *buf, size_t len);
/* Sends the buffered puts now instead of waiting for the batch timer. */
int sn_worker_flush(sn_worker *w);

void sn_worker_on_cmd(sn_worker *w, sn_worker_cmd_cb cb, void *ud);
void sn_worker_on_job(sn_worker *w, sn_worker_job_cb cb, void *ud);
void sn_worker_on_stop(sn_worker *w, sn_worker_event_cb cb, void *ud);      /* the node said stop */
void sn_worker_on_connect(sn_worker *w, sn_worker_event_cb cb, void *ud);   /* welcomed */
void sn_worker_on_closed(sn_worker *w, sn_worker_event_cb cb, void *ud);    /* after stop: all closed */
void sn_worker_on_cancel(sn_worker *w, sn_worker_cancel_cb cb, void *ud);   /* a job timed out */
/* How many jobs the node may hand this worker at once (1 to 1024; 1 by default):
 * say more when the handler finishes jobs later, with sn_worker_job_done, or
 * when jobs are short enough that taking several per read pays. Told to the node
 * in the next hello. SN_WORKER_EINVAL when n is out of range. */
int sn_worker_set_max_jobs(sn_worker *w, unsigned n);

/* Ends a job: output_json is the JSON text of the output when ok, error the message when not. */
int sn_worker_job_done(sn_worker *w, const char *job_id, int ok, const char *output_json, const char *error);
/* A streamed part of a job's output (e.g. tokens). */
int sn_worker_job_partial(sn_worker *w, const char *job_id, const char *data_json);
/* A log line for the node's log. level: "error", "warn", "info", "debug". */
int sn_worker_log(sn_worker *w, const char *level, const char *msg);

void sn_worker_stats_get(const sn_worker *w, sn_worker_stats *out);
const char *sn_worker_start_params(const sn_worker *w);
const char *sn_worker_task_id(const sn_worker *w);
/* The node's last refusal (code and message), or NULL. */
const char *sn_worker_last_error(const sn_worker *w);
const char *sn_worker_strerror(int err);

/* For `worker --health-check`: connects with the environment, says hello and
 * returns 0 if the node confirms the task (welcome, or "already has a worker",
 * which means it is connected), 1 otherwise; timeout_ms bounds the whole check. */
int sn_worker_health_check(unsigned timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
