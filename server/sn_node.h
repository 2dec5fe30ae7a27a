/* The node's internal types: node, task, connection, process, pending request.
 * One header for the parts that cooperate on them (like Redis's server.h);
 * each part's functions live in its own file and header section below. */
#ifndef SN_NODE_H
#define SN_NODE_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

#include "sn_buf.h"
#include "sn_config.h"
#include "sn_err.h"
#include "sn_list.h"
#include "sn_map.h"
#include "sn_mirror.h"
#include "sn_pool.h"
#include "sn_prom.h"
#include "sn_zinit.h"
#include "sn_policy.h"
#include "sn_proctree.h"
#include "sn_qlog.h"
#include "sn_queue.h"
#include "sn_taskconf.h"
#include "sn_wmsg.h"

typedef struct sn_node sn_node;
typedef struct sn_task sn_task;
typedef struct sn_conn sn_conn;
typedef struct sn_proc sn_proc;
typedef struct sn_req sn_req;
typedef struct sn_health sn_health;
typedef struct sn_job sn_job;

#define SN_LOG_KEEP 200 /* worker output lines kept per task for `logs` */

typedef struct sn_logline {
  uint64_t ts_ms;
  int stream; /* 0 stdout, 1 stderr */
  char *line; /* owned */
} sn_logline;

enum sn_state {
  SN_ST_BLOCKED, SN_ST_STARTING, SN_ST_RUNNING, SN_ST_WAITING,
  SN_ST_STOPPING, SN_ST_STOPPED, SN_ST_BACKOFF, SN_ST_FAILED
};

/* Why a run ended, as last_exit.reason. */
enum sn_reason {
  SN_RS_EXIT, SN_RS_SIGNAL, SN_RS_MEMORY, SN_RS_TIMEOUT, SN_RS_HEARTBEAT,
  SN_RS_HEALTH, SN_RS_PING, SN_RS_ERRORS, SN_RS_COMMAND
};
#define SN_RS_COUNT (SN_RS_COMMAND + 1)

/* ---- proc: one spawned worker process and its output pipes ---- */
struct sn_proc {
  uv_process_t process;
  uv_pipe_t pipes[2];       /* stdout, stderr */
  sn_buf lines[2];          /* partial line per pipe */
  sn_task *task;            /* NULL once the task no longer waits for it */
  sn_node *node;
  sn_list link;             /* in node->procs */
  char task_id[129];        /* for log lines after the task is gone */
  int pid;
  int open;                 /* handles not yet closed */
  int exited;
};

int sn_proc_spawn(sn_task *t, sn_error *err);
/* Signals the process group; 0 or a negative errno. */
int sn_proc_kill(sn_proc *p, int sig);
/* Closes the output pipes even if the group still holds them open. */
void sn_proc_close_pipes(sn_proc *p);
/* The worker environment (the node's, the task's env, SUPERNODE_*); free
 * with sn_proc_free_strv. Health checks get it too, to probe /w/ch. */
char **sn_proc_env(sn_task *t);
void sn_proc_free_strv(char **v);
/* The shim's argv for cmd run as the task's worker would be (user, limits). */
char **sn_proc_shim_argv(sn_task *t, const json_t *cmd);
/* Marks every descriptor above 2 close-on-exec (hiredis and others open
 * theirs without it), so that no spawned process inherits the node's sockets. */
void sn_proc_cloexec_all(void);
/* Stops watching a process that would not die (shutdown deadline). */
void sn_proc_abandon(sn_proc *p);

/* ---- req: a command waiting for its reply ---- */
struct sn_req {
  sn_conn *conn;       /* holds a reference; conn->wsi is NULL if it went away */
  json_t *id;          /* echoed id, owned, may be NULL */
  sn_list link;        /* in the task's waiters while pending */
  int action;          /* what to do when the task's process exits */
};

enum sn_req_action { SN_REQ_STOP, SN_REQ_RESTART, SN_REQ_REMOVE };

sn_req *sn_req_new(sn_conn *conn, const json_t *id);
/* The reply will come later: keep an HTTP request open past lws's timeout. */
void sn_req_hold(sn_req *req);
/* Sends {"ok":true,...members} and frees req; steals members (may be NULL). */
void sn_req_ok(sn_req *req, json_t *members);
/* Sends {"ok":true,key:value} and frees req; steals value. A NULL value
 * (a builder that failed) gives an "internal" error reply instead. */
void sn_req_ok_with(sn_req *req, const char *key, json_t *value);
/* Sends the error reply and frees req. */
void sn_req_fail(sn_req *req, int code, const char *msg);

/* ---- task ---- */
struct sn_task {
  sn_node *node;
  sn_list link;             /* in node->tasks */
  sn_taskconf conf;
  int state;
  sn_queue queue;
  sn_qlog qlog;             /* the queue on disk (state_dir), fd -1 when off */
  sn_policy policy;
  sn_proc *proc;            /* current process, NULL when none */
  int pid;
  unsigned long long pid_start; /* start time of pid (zinit runs): tells a reused pid apart */
  char secret[65];          /* per-spawn token of exec tasks */
  uv_timer_t timer;         /* next start (backoff, periodic) */
  uv_timer_t kill_timer;    /* stop escalation */
  int open_handles;
  sn_conn *worker;          /* connected worker, borrowed */
  sn_list fetchers;         /* sn_conn.fetch_link */
  sn_list waiters;          /* sn_req.link */
  int stopping_reason;      /* reason recorded when the current run ends */
  char failed_why[160];     /* why the task is `failed`, for /m/stat */
  int removing;
  int restart_asked;        /* a restart without a waiting request (claim_recycle): start again once stopped */
  int shutdown_asked;       /* node shutdown has stopped it (dependency order) */
  /* zinit backend */
  int zinit;                /* this task's runs are a zinit service */
  int zrun;                 /* a run is in progress under zinit */
  int zcreated, zsaw_pid, zpolling, zpending, zretried;
  int zadopt;               /* restored from the state file: adopt the running service if there is one */
  char zinit_state[96];
  uint64_t restarts, runs, started_at_ms, msgs_in, msgs_out;
  uint64_t restarts_by[SN_RS_COUNT]; /* restarts by the reason of the run that ended (metrics) */
  uint64_t mem_kb;          /* resident memory of the worker's tree, last watch tick */
  uint64_t cpu_ticks, cpu_at_ms; /* CPU time of the tree at the last watch tick, and when */
  double cpu_pct;           /* CPU use between the last two ticks, % of one core */
  /* idle ping */
  char ping_id[40];         /* outstanding ping, "" when none */
  uint64_t ping_sent_ms;
  int ping_failures;
  uint64_t last_activity_ms; /* connect, job or pong: the idle clock */
  /* health check */
  uv_timer_t health_timer;
  sn_health *health;        /* the check running now, or NULL */
  int health_fails;
  /* jobs */
  sn_list running;          /* jobs the worker runs now (sn_job.qlink), borrowed */
  unsigned nrunning;        /* their count: busy when > 0 */
  unsigned max_jobs;        /* jobs the worker takes at once (its hello's max_jobs) */
  sn_pool *pool;            /* the pool this task is an instance of, or NULL */
  sn_conn *claimed_by;      /* the client holding this worker (claim), borrowed */
  uint64_t jobs_done, jobs_failed; /* failed: ended in error or timeout */
  unsigned wq_pushes;       /* ids pushed to its hero:work_queue:{worker_id} (trimmed every 16th) */
  uint64_t err_times[16];   /* recent job errors, for the err_kill budget */
  size_t err_n;
  /* worker output kept for `logs` */
  sn_logline logs[SN_LOG_KEEP];
  size_t logs_head, logs_n;
  uint64_t last_run_ms, last_duration_ms;
  struct {
    int valid;
    int code;               /* -1 when killed by a signal */
    int signal;
    int reason;
    uint64_t at_ms;
  } last_exit;
};

sn_task *sn_task_new(sn_node *n, sn_taskconf *conf); /* steals conf */
/* Starts an exec task's first run or puts a net task in waiting. */
int sn_task_start(sn_task *t, sn_error *err);
/* Stops the worker; req (may be NULL) is answered when it is gone. */
void sn_task_stop(sn_task *t, sn_req *req, int action);
void sn_task_set_state(sn_task *t, int state);
void sn_task_on_exit(sn_task *t, int64_t status, int term_signal);
/* Applies a validated new configuration (steals conf). */
int sn_task_update(sn_task *t, sn_taskconf *conf, sn_error *err);
json_t *sn_task_to_json(const sn_task *t);
/* Releases the task once it has no process; frees it after its timers close. */
void sn_task_destroy(sn_task *t);
const char *sn_state_name(int state);
const char *sn_reason_name(int reason);
/* Wakes every fetcher of the task (new items or removal). */
void sn_task_wake_fetchers(sn_task *t);
/* A run has begun: counts it and resets its clocks. */
void sn_task_began(sn_task *t);
/* ... and sets the state: running, or starting until its health check passes
 * (under zinit, also until zinit reports its pid). */
void sn_task_ran(sn_task *t);
/* A run is in progress (our process, or a zinit service). */
int sn_task_has_run(const sn_task *t);
/* Appends items and wakes fetchers (used by the worker channel). */
int sn_task_push(sn_task *t, const void *data, size_t len, int bin, uint64_t ts_ms);
/* A supervision rule fired: stop the worker with escalation and let the
 * restart policy decide (exec), or drop the connection (net). */
void sn_task_fault(sn_task *t, int reason);
/* Keeps one line of worker output for `logs`. */
void sn_task_keep_line(sn_task *t, int stream, const char *line, size_t len);
void sn_task_pong(sn_task *t, const char *job_id);
/* The health check's verdict. */
void sn_task_health_result(sn_task *t, int ok);

/* ---- jobs ---- */
enum sn_jstatus { SN_J_CREATED, SN_J_QUEUED, SN_J_DISPATCHED, SN_J_STARTED, SN_J_FINISHED, SN_J_ERROR, SN_J_TIMEOUT };

struct sn_job {
  sn_node *node;
  char id[40];
  char kind[129];
  char want_task[129];      /* asked for this task; "" = any worker of the kind */
  sn_task *task;            /* the task running it now, borrowed; NULL otherwise (never kept past the run) */
  char ran_on[129];         /* the task that ran it last, "" if none: tasks may go, ids stay */
  json_t *payload, *output; /* owned; output NULL until it ends */
  char *error, *caller_id, *context_id; /* owned, may be NULL */
  int status;
  int retries_left;
  uint64_t timeout_ms, created_ms, updated_ms;
  uv_timer_t timer;         /* timeout */
  sn_list link;             /* node->jobs, oldest first */
  sn_list qlink;            /* node->jobq while queued, task->running while it runs */
  sn_list waiters;          /* sn_req waiting for the end */
  sn_conn *stream;          /* websocket client that wants partials (a reference) */
  uint64_t partials_dropped; /* partials the stream client was too slow for */
  size_t bytes;             /* payload and output as JSON, for the ended jobs' byte cap */
  int remote;               /* in Redis's shared queue or run by another node: we only wait */
  int from_queue;           /* taken from a shared queue: its id is in our processing list until it ends */
  int end_from_redis;       /* its end was read from its hash (another node ran it and wrote it) */
};

void sn_jobs_init(sn_node *n);
void sn_jobs_cmd_job(sn_node *n, json_t *req, sn_req *r);
void sn_jobs_cmd_start(sn_node *n, json_t *req, sn_req *r);
void sn_jobs_cmd_status(sn_node *n, json_t *req, sn_req *r);
/* Sends queued jobs to free workers. */
void sn_jobs_pump(sn_node *n);
/* The task's worker went away mid-job: fail over once, then error. */
void sn_jobs_worker_gone(sn_task *t);
void sn_jobs_frame(sn_task *t, const char *msg, size_t len, const sn_wmsg *m);
void sn_jobs_conn_closed(sn_conn *c);
json_t *sn_jobs_stat(sn_node *n);
/* The task is going away: no job may keep pointing at it. */
void sn_jobs_task_gone(sn_task *t);
/* Ends every job (node shutdown) and releases them. */
void sn_jobs_close(sn_node *n);
json_t *sn_job_to_json(const sn_job *j);
int sn_jobs_free_worker(const sn_task *t);
/* How many more jobs the task's worker takes now (0 when none, or no worker). */
unsigned sn_jobs_free_slots(const sn_task *t);
/* A hero:job hash read from Redis: adopt it to run here (popped from a shared
 * queue), or learn the end of a job we wait for. */
/* adopt: 0 when it runs here, -1 when there is nothing to run, 1 when no
 * worker here can run its kind (the caller gives it back to its queue). */
int sn_jobs_from_redis(sn_node *n, json_t *hash, int adopt);
int sn_jobs_waits_remote(sn_node *n, const char *id);

/* ---- deps: `after` ---- */
int sn_deps_check(sn_node *n, const sn_taskconf *conf, sn_error *err);
int sn_deps_ready(const sn_task *t);
/* Starts blocked tasks whose dependencies now run. */
void sn_deps_unblock(sn_node *n);
/* Node shutdown: stops every task no running task depends on (again after each exit). */
void sn_deps_shutdown_step(sn_node *n);

/* ---- zsvc: the zinit backend ---- */
/* Starts a run as the zinit service; from_command: answer unavailable when
 * zinit is down (else the run waits for zinit). */
int sn_zsvc_run(sn_task *t, int from_command, sn_error *err);
int sn_zsvc_kill(sn_task *t, int sig);
void sn_zsvc_stopped(sn_task *t);
void sn_zsvc_remove(sn_task *t);
void sn_zsvc_logs(sn_task *t, size_t lines, sn_req *r);
void sn_zinit_poll(sn_node *n);
void sn_zinit_reconnected(sn_node *n);

/* ---- state: the state file ---- */
void sn_state_changed(sn_node *n);
int sn_state_restore(sn_node *n, json_t **restored);
/* Shutdown begins: the state as it is now is the one the file keeps. */
void sn_state_final(sn_node *n);
/* Makes state_dir when it is missing; 0 or an error (the node does not start). */
int sn_state_prepare(sn_node *n, sn_error *err);

/* ---- health: the task's health_check command ---- */
void sn_health_start(sn_task *t);
void sn_health_stop(sn_task *t);
/* The pids of the health checks libuv spawned (and will reap), one per entry
 * of n->checks, into out; returns how many. */
size_t sn_health_pids(sn_node *n, pid_t *out);

/* ---- watch: memory, timeouts, heartbeats, idle pings, orphans ---- */
void sn_watch_start(sn_node *n);
void sn_watch_tick(sn_node *n);

/* ---- conn: one HTTP or websocket connection ---- */
enum sn_role {
  SN_ROLE_NONE, SN_ROLE_HTTP, SN_ROLE_WS_CMD, SN_ROLE_WS_STAT, SN_ROLE_WS_FETCH,
  SN_ROLE_WS_FETCH_ALL, SN_ROLE_WS_WCH
};

typedef struct sn_frame {
  sn_list link;
  size_t len;
  int binary;
  unsigned char buf[]; /* LWS_PRE headroom, then len bytes */
} sn_frame;

struct sn_conn {
  sn_node *node;
  struct lws *wsi;          /* NULL once lws closed the connection */
  sn_list link;             /* in node->conns */
  int refs;
  int role;
  sn_buf rx;                /* message or body being assembled */
  int rx_binary;
  int rx_skip;              /* discarding the rest of an oversized message */
  uint64_t wake_turn;       /* the loop turn writable was asked in (0: served since) */
  sn_list flush_link;       /* in node->flushq: written at the end of this loop turn */
  sn_list outq;             /* sn_frame */
  size_t outq_bytes;
  int rx_paused;
  int fair_paused;          /* a worker not read until its fetchers catch up (sn_fair.c) */
  int close_code;           /* close after outq drains, when nonzero */
  int close_sent;
  /* HTTP */
  int http_method;          /* 'G' or 'P' */
  char http_path[256];
  int64_t http_clen;
  sn_buf http_resp;         /* full response with headers, waiting for WRITEABLE */
  int http_resp_ready;
  int http_waiting;         /* a long poll is held */
  uint64_t poll_from, poll_limit;
  /* fetch */
  sn_task *task;            /* fetched task or worker's task, borrowed */
  sn_list fetch_link;       /* in task->fetchers or node->all_fetchers */
  uint64_t cursor;
  int consume;
  int ack;                  /* consume with ?ack=1: the reader confirms with {"type":"ack","seq":N} */
  size_t window;            /* with ack: most items sent and not yet confirmed */
  uint64_t *leases;         /* consume: seqs sent, not yet confirmed, ascending; owned */
  size_t nleases, leases_cap;
  int batch;
  json_t *cursors;          /* all-tasks stream: task_id -> next seq */
  sn_buf frame;             /* the one frame being written, LWS_PRE headroom */
  int bin_pending;          /* frame holds a binary item's bytes to send next */
  /* stat stream */
  uint64_t stat_interval_ms;
  /* worker channel */
  int hello_done;
  char *upgrade_token;      /* token given on the upgrade, owned */
  uint64_t last_rx_ms;      /* last frame from the peer (heartbeat rule) */
};

sn_conn *sn_conn_new(sn_node *n, struct lws *wsi, int role);
void sn_conn_ref(sn_conn *c);
void sn_conn_unref(sn_conn *c);
/* lws is closing the connection: unlink it from everything. */
void sn_conn_detach(sn_conn *c);
/* Asks for a websocket connection to be written: at the end of this loop turn
 * (sn_conn_flush), or in its writable callback; asks within one loop turn are
 * one. (HTTP responses ask lws directly: their callback is another.) */
void sn_conn_want_write(sn_conn *c);
/* What a websocket connection's WRITEABLE callback does; -1 to close. */
int sn_conn_writeable(sn_conn *c);
/* Writes the connections asked for in this loop turn (node->flushq). */
void sn_conn_flush(sn_node *n);
/* Queues a text (or binary) frame and asks for a WRITEABLE callback. */
void sn_conn_send(sn_conn *c, const void *data, size_t len, int binary);
void sn_conn_send_json(sn_conn *c, json_t *obj); /* steals obj */
/* Sends {"type":"error",...}; closes with close_code afterwards when nonzero. */
void sn_conn_send_error(sn_conn *c, int code, const char *msg, int close_code);
/* Closes once queued frames are out. */
void sn_conn_close(sn_conn *c, int close_code);
/* A text message was not UTF-8: closes with 1007 (RFC 6455 8.1). */
void sn_conn_close_not_utf8(sn_conn *c);
/* Writes one queued frame; returns 1 if one was written, -1 to close, 0 if none. */
int sn_conn_write_queued(sn_conn *c);

/* ---- node ---- */
struct sn_node {
  uv_loop_t *loop;
  sn_config *cfg;           /* borrowed from main */
  struct lws_context *lws;
  struct lws_vhost *vhost;
  int port;
  char worker_url[300];
  char node_id[129];
  sn_list tasks;
  size_t ntasks;
  sn_list conns;
  size_t nconns;
  sn_list all_fetchers;
  sn_list procs;
  size_t nprocs;
  sn_list checks;           /* running health checks (sn_health) */
  sn_list jobs;             /* every job kept, oldest first */
  sn_list jobq;             /* jobs waiting for a worker, FIFO */
  sn_map jobs_by_id;
  size_t njobs, njobs_done_kept;
  size_t jobs_done_bytes;   /* bytes of the ended jobs kept */
  uint64_t jobs_done_total;
  uint64_t jobs_ended[3];   /* finished, error, timeout (metrics) */
  sn_histo job_seconds;     /* job durations, created to ended (metrics) */
  json_t *jobs_done_by_kind; /* kind -> count */
  struct sn_mirror *mirror;  /* Redis, or NULL */
  sn_list pools;             /* sn_pool, from the config's kinds */
  sn_zinit *zinit;           /* the zinit backend's client, or NULL */
  json_t *zext;              /* states of outside zinit services named in `after`, owned */
  int state_dirty, state_writing;
  char *state_final;        /* the state file's text taken at shutdown, owned until written */
  int jobs_closing;
  uint64_t gseq;
  uint64_t started_ms;
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t shutdown_timer; /* hard deadline for workers to exit */
  uv_timer_t poke_timer;     /* re-checks shutdown outside lws callbacks; client grace */
  uv_timer_t watch_timer;    /* supervision checks */
  uv_timer_t qsync_timer;    /* fsync of the queue logs (queue_fsync "every_ms") */
  uv_prepare_t turn_prep;    /* counts loop turns (turn), before each poll */
  uint64_t turn;
  uv_check_t flush_check;    /* after each poll: writes the connections in flushq */
  sn_list flushq;            /* sn_conn by flush_link, asked to write in this turn */
  sn_conn *flushing;         /* the connection sn_conn_flush is writing */
  int flush_more;            /* it asked to write again (more is ready) */
  uint64_t mem_mark, mem_busy_ms; /* sn_mem.c: activity seen, and when */
  int mem_trimmed;                /* free memory given back since the node went idle */
  char shim_path[4096];
  sn_ptab ptab;              /* process table of the last watch tick, owned */
  sn_buf wout;               /* scratch for coalesced frames (sn_wsout.h), owned */
  uint64_t watch_ticks;
  int scan_soon;             /* a worker exited: the next tick reads /proc (orphans) */
  int shutting_down;
  int grace_over;
  int finished;
  int exit_code;
};

int sn_node_init(sn_node *n, uv_loop_t *loop, sn_config *cfg, sn_error *err);
/* Binds and starts serving; prints "listening on HOST:PORT". */
int sn_node_listen(sn_node *n, sn_error *err);
int sn_node_boot_tasks(sn_node *n, sn_error *err);
sn_task *sn_node_find(sn_node *n, const char *task_id);
/* Resolves template and defaults under the request's fields, validates. */
int sn_node_build_conf(sn_node *n, const json_t *req, sn_taskconf *conf, sn_error *err);
int sn_node_add_task(sn_node *n, sn_taskconf *conf, sn_task **out, sn_error *err);
void sn_node_task_gone(sn_node *n, sn_task *t);
void sn_node_shutdown(sn_node *n);
/* After uv_run returned: the second lws_context_destroy and the rest. */
void sn_node_free(sn_node *n);
void sn_node_maybe_finish(sn_node *n);
/* Re-checks shutdown progress from the loop (safe inside lws callbacks). */
void sn_node_poke(sn_node *n);
json_t *sn_node_stat_json(sn_node *n);
size_t sn_node_count_role(sn_node *n, int role);

/* ---- http: the lws context and routing ---- */
int sn_http_start(sn_node *n, sn_error *err);
/* Reads the TLS certificate and key again (SIGHUP); the old ones stay on error. */
int sn_http_reload_tls(sn_node *n, sn_error *err);
/* Queues an HTTP response (status and JSON body) for the connection. */
void sn_http_respond(sn_conn *c, int status, const char *body, size_t len);
/* The same with a Content-Type other than JSON. */
void sn_http_respond_typed(sn_conn *c, int status, const char *ctype, const char *body, size_t len);
void sn_http_respond_error(sn_conn *c, int code, const char *msg);

/* ---- cmd: /m/cmd over HTTP and websocket ---- */
void sn_cmd_handle(sn_conn *c, const char *body, size_t len);

/* ---- wch: /w/ch ---- */
void sn_wch_established(sn_conn *c);
void sn_wch_receive(sn_conn *c, const char *msg, size_t len, int binary);
void sn_wch_hello_timeout(sn_conn *c);
void sn_wch_closed(sn_conn *c);

/* ---- fetch: /m/fetch ---- */
/* Sets up a websocket fetcher from the URL; 0 or an error (already answered). */
int sn_fetch_ws_open(sn_conn *c, const char *task_id);
int sn_fetch_writeable(sn_conn *c);
/* A frame from a fetcher: acks of a consumer, ignored otherwise. */
void sn_fetch_receive(sn_conn *c, const char *msg, size_t len, int binary);
void sn_fetch_closed(sn_conn *c);
/* Ends every fetch stream of a task with the given reason. */
void sn_fetch_end_task(sn_task *t, const char *reason);
void sn_fetch_http(sn_conn *c, const char *task_id);
void sn_fetch_http_timeout(sn_conn *c);
/* A held long poll on this task may now be answered. */
void sn_fetch_http_wake(sn_conn *c);

/* ---- stat ---- */
void sn_stat_http(sn_conn *c, const char *task_id);
void sn_stat_ws_tick(sn_conn *c);

/* ---- fair: a flooding worker waits for its ready fetchers ---- */
void sn_fair_after_put(sn_task *t);
void sn_fair_after_write(sn_task *t, const sn_conn *fetcher);

/* sn_mem.c: freed memory kept for reuse while busy, given back when idle. */
void sn_mem_init(void);
void sn_mem_tick(sn_node *n, uint64_t now_ms);
void sn_fair_resume(sn_conn *worker);

/* ---- metrics: GET /metrics (Prometheus text format) ---- */
void sn_metrics_render(sn_node *n, sn_buf *out);
void sn_metrics_http(sn_conn *c);

/* ---- URL query helpers (http.c) ---- */
/* Copies the value of query arg name into buf; 1 if present, 0 if not. */
int sn_http_query(sn_conn *c, const char *name, char *buf, size_t len);
int sn_http_query_wsi(struct lws *wsi, const char *name, char *buf, size_t len);

#endif
