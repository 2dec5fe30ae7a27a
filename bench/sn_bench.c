/* sn-bench: worker -> node -> fetcher throughput and latency, next to Redis
 * LPUSH -> BRPOP through hiredis, measured in the same run on the same machine.
 *
 * A producer thread plays the worker (put frames on /w/ch), a consumer thread the
 * fetcher (/m/fetch/<task>?batch=N). Every item carries its send time; the consumer
 * takes the latency when it parses the item. The websocket client is a minimal
 * blocking one: it exists for this tool only (the node itself never blocks). */
#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_opts {
  int port, redis_port;
  long items;
  int size, put_batch, fetch_batch;
  long rate; /* items/s the producer keeps to, 0 = as fast as it can */
  int streams; /* the Redis anchor: pipelined XADD -> XREAD COUNT (1), or LPUSH -> RPOP/BRPOP (0) */
  long queue_len; /* the task's queue_len; 0 = as many as the items (nothing dropped) */
  const char *label; /* the row's name, when not the default */
  double stall_ms; /* > 0: print each run of items later than this (--stalls) */
} bench_opts;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int tcp_connect(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    perror("connect");
    exit(1);
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

static void write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      perror("write");
      exit(1);
    }
    c += w;
    n -= (size_t)w;
  }
}

/* Reads the HTTP response head; returns the status and leaves extra bytes in buf. */
typedef struct wsconn {
  int fd;
  char *buf;
  size_t off, len, cap; /* the unread bytes are buf[off, len) */
} wsconn;

/* The bytes left of the frames already read move to the front once per read,
 * not once per frame: a read holds a dozen frames of the batched rows. */
static void rd_more(wsconn *c) {
  if (c->off) {
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
  }
  if (c->cap - c->len < 65536) {
    c->cap = c->cap * 2 + 131072;
    c->buf = realloc(c->buf, c->cap);
  }
  ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
  if (r <= 0) {
    fprintf(stderr, "sn-bench: connection closed\n");
    exit(1);
  }
  c->len += (size_t)r;
}

static void consume(wsconn *c, size_t n) {
  c->off += n;
}

static int http_head(wsconn *c) {
  char *end;
  int status;
  while ((end = c->buf ? memmem(c->buf + c->off, c->len - c->off, "\r\n\r\n", 4) : NULL) == NULL) /* buf is NULL before the first read */
    rd_more(c);
  status = atoi(c->buf + c->off + 9);
  consume(c, (size_t)(end + 4 - (c->buf + c->off)));
  return status;
}

/* SN_BENCH_TOKEN: the operator token of a node that has one (bench/hosts.py). */
static wsconn ws_open(int port, const char *path) {
  wsconn c = {tcp_connect(port), NULL, 0, 0, 0};
  char req[1024], auth[600] = "";
  const char *tok = getenv("SN_BENCH_TOKEN");
  if (tok && strlen(tok) < 500)
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", tok);
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, auth);
  write_all(c.fd, req, (size_t)n);
  if (http_head(&c) != 101) {
    fprintf(stderr, "sn-bench: upgrade of %s refused\n", path);
    exit(1);
  }
  return c;
}

/* Sends one masked text frame; the mask is zero (allowed), so no XOR is needed. */
static void ws_send(wsconn *c, const char *p, size_t n) {
  unsigned char h[14];
  size_t hl = 2;
  h[0] = 0x81;
  if (n < 126) {
    h[1] = (unsigned char)(0x80 | n);
  } else if (n < 65536) {
    h[1] = 0x80 | 126;
    h[2] = (unsigned char)(n >> 8);
    h[3] = (unsigned char)n;
    hl = 4;
  } else {
    h[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
      h[2 + i] = (unsigned char)(n >> (56 - 8 * i));
    hl = 10;
  }
  memset(h + hl, 0, 4);
  /* Head and payload in one write: two would be two segments (TCP_NODELAY),
   * and the node would wake for the 6-byte head alone. */
  struct iovec iov[2] = {{h, hl + 4}, {(void *)p, n}};
  ssize_t w;
  while ((w = writev(c->fd, iov, 2)) < 0 && errno == EINTR)
    ;
  if (w < 0) {
    perror("writev");
    exit(1);
  }
  if ((size_t)w < hl + 4) {
    write_all(c->fd, h + w, hl + 4 - (size_t)w);
    write_all(c->fd, p, n);
  } else {
    write_all(c->fd, p + ((size_t)w - hl - 4), n - ((size_t)w - hl - 4));
  }
}

/* Returns the payload of the next frame (valid until the next call) and its length. */
static char *ws_recv(wsconn *c, size_t *plen, size_t *consumed) {
  for (;;) {
    size_t have = c->len - c->off;
    if (have >= 2) {
      unsigned char *b = (unsigned char *)c->buf + c->off;
      size_t n = b[1] & 0x7f, hl = 2;
      if (n == 126 && have >= 4) {
        n = ((size_t)b[2] << 8) | b[3];
        hl = 4;
      } else if (n == 127 && have >= 10) {
        n = 0;
        for (int i = 0; i < 8; i++)
          n = (n << 8) | b[2 + i];
        hl = 10;
      } else if (n >= 126) {
        rd_more(c);
        continue;
      }
      if (have >= hl + n) {
        *plen = n;
        *consumed = hl + n;
        return (char *)b + hl;
      }
    }
    rd_more(c);
  }
}

static void http_post(int port, const char *body) {
  wsconn c = {tcp_connect(port), NULL, 0, 0, 0};
  char req[1024];
  int n = snprintf(req, sizeof(req), "POST /m/cmd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
  write_all(c.fd, req, (size_t)n);
  http_head(&c);
  close(c.fd);
  free(c.buf);
}

/* ---- shared measurement ---- */

typedef struct run {
  const bench_opts *o;
  uint64_t *lat;   /* ns per received item */
  uint64_t *sent;  /* send time per received item, with --stalls */
  long received, lost;
  uint64_t t_start, t_end;
  wsconn fetch, worker;
  redisContext *rp, *rc;
  const char *key;
} run;

/* Keeps the producer at o->rate items/s (latency is measured unloaded this way). */
static void pace(const bench_opts *o, uint64_t t0, long sent) {
  if (o->rate <= 0)
    return;
  uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / (double)o->rate);
  uint64_t now = now_ns();
  if (due > now) {
    struct timespec ts = {(time_t)((due - now) / 1000000000u), (long)((due - now) % 1000000000u)};
    nanosleep(&ts, NULL);
  }
}

/* Decimal digits of v at out; returns how many. */
static int put_u64(char *out, uint64_t v) {
  char tmp[20];
  int i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  memcpy(out, tmp + i, sizeof(tmp) - (size_t)i);
  return (int)sizeof(tmp) - i;
}

/* Builds one item of about o->size bytes carrying its send time. The client
 * is on the same two cores as what it measures, so it builds and scans items
 * without printf and strtoull (both rows, the node's and Redis's, use these). */
static int make_item(char *out, int size, uint64_t t) {
  int n = 5;
  memcpy(out, "{\"t\":", 5);
  n += put_u64(out + n, t);
  memcpy(out + n, ",\"p\":\"", 6);
  n += 6;
  int pad = size - n - 2;
  if (pad < 0)
    pad = 0;
  memset(out + n, 'x', (size_t)pad);
  n += pad;
  out[n++] = '"';
  out[n++] = '}';
  return n;
}

/* The next {"t": from p: memchr for the brace is a vector scan, where memmem
 * for the five bytes cost the reader more than the node spent on the item. */
static const char *find_item(const char *p, const char *end) {
  while (end - p >= 5) {
    const char *b = memchr(p, '{', (size_t)(end - p) - 4);
    if (b == NULL)
      return NULL;
    if (memcmp(b + 1, "\"t\":", 4) == 0)
      return b;
    p = b + 1;
  }
  return NULL;
}

/* Finds every "t":N in a received frame and records the latencies. An item
 * is at least `size` bytes long (make_item), so the search for the next one
 * starts that far on. */
static void scan_times(run *r, const char *p, size_t n, uint64_t now) {
  const char *end = p + n;
  size_t skip = r->o->size > 5 ? (size_t)r->o->size : 5;
  while (p < end && (p = find_item(p, end)) != NULL) {
    uint64_t t = 0;
    const char *d = p + 5;
    while (d < end && *d >= '0' && *d <= '9')
      t = t * 10 + (uint64_t)(*d++ - '0');
    if (r->received < r->o->items) {
      if (r->sent)
        r->sent[r->received] = t;
      r->lat[r->received++] = now - t;
    }
    p += skip;
  }
}

static void *sn_producer(void *arg) {
  run *r = arg;
  const bench_opts *o = r->o;
  size_t cap = (size_t)o->put_batch * ((size_t)o->size + 40) + 64;
  char *frame = malloc(cap);
  r->t_start = now_ns();
  for (long i = 0; i < o->items;) {
    pace(o, r->t_start, i);
    size_t n = (size_t)sprintf(frame, "{\"type\":\"put\",\"items\":[");
    /* The items of a frame are sent at the same time, so they are the same
     * item: built once, copied (the producer shares the two cores with the node). */
    size_t one = (size_t)make_item(frame + n, o->size, now_ns());
    const char *first = frame + n;
    n += one;
    i++;
    for (int k = 1; k < o->put_batch && i < o->items; k++, i++) {
      frame[n++] = ',';
      memcpy(frame + n, first, one);
      n += one;
    }
    frame[n++] = ']';
    frame[n++] = '}';
    ws_send(&r->worker, frame, n);
  }
  free(frame);
  return NULL;
}

static void *sn_consumer(void *arg) {
  run *r = arg;
  while (r->received + r->lost < r->o->items) {
    size_t n, used;
    char *p = ws_recv(&r->fetch, &n, &used);
    uint64_t now = now_ns();
    if (n > 12 && memcmp(p, "{\"type\":\"gap", 12) == 0) {
      const char *f = memmem(p, n, "\"from\":", 7), *t = memmem(p, n, "\"to\":", 5);
      if (f && t)
        r->lost += atol(t + 5) - atol(f + 7);
    } else {
      scan_times(r, p, n, now);
    }
    consume(&r->fetch, used);
  }
  r->t_end = now_ns();
  return NULL;
}

/* Reads replies of pipelined commands until at most `keep` are in flight;
 * returns how many are. */
static long drain(redisContext *c, long pending, long keep) {
  for (; pending > keep; pending--) {
    redisReply *rep;
    if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
      fprintf(stderr, "redis: %s\n", c->errstr);
      exit(1);
    }
    freeReplyObject(rep);
  }
  return pending;
}

static void *redis_producer(void *arg) {
  run *r = arg;
  const bench_opts *o = r->o;
  const char **argv = malloc(sizeof(char *) * ((size_t)o->put_batch + 2));
  size_t *argl = malloc(sizeof(size_t) * ((size_t)o->put_batch + 2));
  char *items = malloc((size_t)o->put_batch * ((size_t)o->size + 40));
  long pending = 0;
  /* Commands are pipelined (up to 100 in flight), as a worker's frames are. */
  r->t_start = now_ns();
  for (long i = 0; i < o->items;) {
    int k = 0;
    size_t off = 0;
    pace(o, r->t_start, i);
    uint64_t t = now_ns();
    argv[0] = "LPUSH";
    argl[0] = 5;
    argv[1] = r->key;
    argl[1] = strlen(r->key);
    for (; k < o->put_batch && i < o->items; k++, i++) {
      int n = make_item(items + off, o->size, t);
      argv[2 + k] = items + off;
      argl[2 + k] = (size_t)n;
      off += (size_t)n;
    }
    redisAppendCommandArgv(r->rp, 2 + k, argv, argl);
    pending++;
    pending = drain(r->rp, pending, i >= o->items || o->rate > 0 ? 0 : 99); /* up to 100 in flight */
  }
  free(argv);
  free(argl);
  free(items);
  return NULL;
}

/* Redis Streams, as the anchor: one XADD per item, pipelined (100
 * commands in flight, like the list producer), and XREAD COUNT batch BLOCK. */
static void *stream_producer(void *arg) {
  run *r = arg;
  const bench_opts *o = r->o;
  char *item = malloc((size_t)o->size + 64);
  long pending = 0;
  r->t_start = now_ns();
  for (long i = 0; i < o->items; i++) {
    pace(o, r->t_start, i);
    int n = make_item(item, o->size, now_ns());
    const char *argv[5] = {"XADD", r->key, "*", "d", item};
    size_t argl[5] = {4, strlen(r->key), 1, 1, (size_t)n};
    redisAppendCommandArgv(r->rp, 5, argv, argl);
    pending++;
    pending = drain(r->rp, pending, i + 1 >= o->items || o->rate > 0 ? 0 : 99);
  }
  free(item);
  return NULL;
}

static void *stream_consumer(void *arg) {
  run *r = arg;
  char last[64] = "0";
  while (r->received < r->o->items) {
    redisReply *rep = redisCommand(r->rc, "XREAD COUNT %d BLOCK 5000 STREAMS %s %s", r->o->fetch_batch, r->key, last);
    uint64_t now = now_ns();
    if (rep == NULL) {
      fprintf(stderr, "redis: %s\n", r->rc->errstr);
      exit(1);
    }
    /* [[key, [[id, [field, value]], ...]]] */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->elements == 2) {
      redisReply *entries = rep->element[0]->element[1];
      for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->elements == 2 && e->element[1]->elements == 2)
          scan_times(r, e->element[1]->element[1]->str, e->element[1]->element[1]->len, now);
        if (i + 1 == entries->elements)
          snprintf(last, sizeof(last), "%s", e->element[0]->str);
      }
    }
    freeReplyObject(rep);
  }
  r->t_end = now_ns();
  return NULL;
}

static void *redis_consumer(void *arg) {
  run *r = arg;
  while (r->received < r->o->items) {
    redisReply *rep;
    if (r->o->fetch_batch > 1)
      rep = redisCommand(r->rc, "RPOP %s %d", r->key, r->o->fetch_batch);
    else
      rep = redisCommand(r->rc, "BRPOP %s 5", r->key);
    uint64_t now = now_ns();
    if (rep == NULL) {
      fprintf(stderr, "redis: %s\n", r->rc->errstr);
      exit(1);
    }
    if (rep->type == REDIS_REPLY_ARRAY && r->o->fetch_batch > 1) {
      for (size_t i = 0; i < rep->elements; i++)
        scan_times(r, rep->element[i]->str, rep->element[i]->len, now);
    } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
      scan_times(r, rep->element[1]->str, rep->element[1]->len, now);
    } else if (rep->type == REDIS_REPLY_NIL && r->o->fetch_batch > 1) {
      freeReplyObject(rep);
      rep = redisCommand(r->rc, "BRPOP %s 5", r->key); /* wait for more, like the fetcher does */
      now = now_ns();
      if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
        scan_times(r, rep->element[1]->str, rep->element[1]->len, now);
    }
    freeReplyObject(rep);
  }
  r->t_end = now_ns();
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Each run of items later than o->stall_ms, in the order they arrived: when
 * its first item was sent (ms from the start), how many, the latest. */
static void print_stalls(const run *r) {
  uint64_t lim = (uint64_t)(r->o->stall_ms * 1e6);
  for (long i = 0; i < r->received;) {
    if (r->lat[i] <= lim) {
      i++;
      continue;
    }
    long j = i;
    uint64_t worst = 0;
    for (; j < r->received && r->lat[j] > lim; j++)
      worst = r->lat[j] > worst ? r->lat[j] : worst;
    /* the producer's longest pause between frames just before and in it: a
     * producer that fell behind its pace sends what it owes at once */
    uint64_t gap = 0;
    for (long k = i > 2000 ? i - 2000 : 1; k < j; k++)
      gap = r->sent[k] - r->sent[k - 1] > gap ? r->sent[k] - r->sent[k - 1] : gap;
    fprintf(stderr, "stall at %.3f ms: %ld items, up to %.3f ms late; producer paused up to %.3f ms\n",
            (double)(r->sent[i] - r->t_start) / 1e6, j - i, (double)worst / 1e6, (double)gap / 1e6);
    i = j;
  }
}

static void report(const char *name, run *r) {
  double secs = (double)(r->t_end - r->t_start) / 1e9;
  if (r->sent)
    print_stalls(r);
  qsort(r->lat, (size_t)r->received, sizeof(uint64_t), cmp_u64);
  double p50 = r->received ? (double)r->lat[r->received / 2] / 1e6 : 0;
  double p99 = r->received ? (double)r->lat[(size_t)((double)r->received * 0.99)] / 1e6 : 0;
  printf("%-44s %12.0f %10.3f %10.3f %8ld\n", name, (double)(r->received + r->lost) / secs, p50, p99, r->lost);
  fflush(stdout);
}

static void run_supernode(const bench_opts *o) {
  run r = {.o = o, .lat = calloc((size_t)o->items, sizeof(uint64_t))};
  char body[256], path[128], name[128], hello[128];
  if (o->stall_ms > 0)
    r.sent = calloc((size_t)o->items, sizeof(uint64_t));
  static int round;
  size_t n, used;
  snprintf(body, sizeof(body), "{\"cmd\":\"start\",\"task_id\":\"bench%d\",\"mode\":\"net\",\"queue_len\":%ld}",
           ++round, o->queue_len ? o->queue_len : o->items < 1000000 ? o->items : 1000000);
  http_post(o->port, body);
  snprintf(path, sizeof(path), "/m/fetch/bench%d?from=new&batch=%d", round, o->fetch_batch);
  r.fetch = ws_open(o->port, path);
  r.worker = ws_open(o->port, "/w/ch");
  n = (size_t)snprintf(hello, sizeof(hello), "{\"type\":\"hello\",\"task_id\":\"bench%d\"}", round);
  ws_send(&r.worker, hello, n);
  ws_recv(&r.worker, &n, &used); /* welcome */
  consume(&r.worker, used);
  pthread_t a, b;
  pthread_create(&b, NULL, sn_consumer, &r);
  pthread_create(&a, NULL, sn_producer, &r);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  if (o->label)
    snprintf(name, sizeof(name), "%s", o->label);
  else
    snprintf(name, sizeof(name), "supernode put x%d -> fetch batch=%d%s", o->put_batch, o->fetch_batch,
             o->rate ? " (paced)" : "");
  report(name, &r);
  snprintf(body, sizeof(body), "{\"cmd\":\"remove\",\"task_id\":\"bench%d\"}", round);
  http_post(o->port, body);
  close(r.fetch.fd);
  close(r.worker.fd);
  free(r.fetch.buf);
  free(r.worker.buf);
  free(r.lat);
  free(r.sent);
}

static void run_redis(const bench_opts *o) {
  run r = {.o = o, .lat = calloc((size_t)o->items, sizeof(uint64_t)), .key = "sn-bench"};
  char name[128];
  r.rp = redisConnect("127.0.0.1", o->redis_port);
  r.rc = redisConnect("127.0.0.1", o->redis_port);
  if (!r.rp || r.rp->err || !r.rc || r.rc->err) {
    fprintf(stderr, "sn-bench: cannot connect to redis on port %d\n", o->redis_port);
    exit(1);
  }
  freeReplyObject(redisCommand(r.rp, "DEL %s", r.key));
  pthread_t a, b;
  pthread_create(&b, NULL, o->streams ? stream_consumer : redis_consumer, &r);
  pthread_create(&a, NULL, o->streams ? stream_producer : redis_producer, &r);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  if (o->streams)
    snprintf(name, sizeof(name), "redis XADD (pipelined) -> XREAD COUNT %d", o->fetch_batch);
  else
    snprintf(name, sizeof(name), "redis LPUSH x%d -> %s", o->put_batch, o->fetch_batch > 1 ? "RPOP count" : "BRPOP");
  if (!o->streams && o->fetch_batch > 1)
    snprintf(name + strlen(name), sizeof(name) - strlen(name), "=%d", o->fetch_batch);
  if (o->rate)
    snprintf(name + strlen(name), sizeof(name) - strlen(name), " (paced)");
  report(name, &r);
  redisFree(r.rp);
  redisFree(r.rc);
  free(r.lat);
}

/* Jobs over one /m/cmd websocket: `window` jobs with wait:true in flight,
 * each job's round trip from its command to its reply. */
static void run_jobs(int port, long jobs, int window, const char *label) {
  wsconn c = ws_open(port, "/m/cmd");
  uint64_t *sent = calloc((size_t)jobs, sizeof(uint64_t)), *lat = calloc((size_t)jobs, sizeof(uint64_t));
  long next = 0, got = 0, errors = 0;
  char cmd[256];
  uint64_t t0 = now_ns();
  while (got < jobs) {
    while (next < jobs && next - got < window) {
      int n = snprintf(cmd, sizeof(cmd), "{\"cmd\":\"job\",\"kind\":\"echo\",\"payload\":%ld,\"wait\":true,\"id\":%ld}", next, next);
      sent[next] = now_ns();
      ws_send(&c, cmd, (size_t)n);
      next++;
    }
    size_t n, used;
    char *p = ws_recv(&c, &n, &used);
    const char *id = memmem(p, n, "\"id\":", 5);
    static const char fin[] = "\"status\":\"finished\"";
    if (id && memmem(p, n, fin, sizeof(fin) - 1)) {
      long i = atol(id + 5);
      if (i >= 0 && i < jobs)
        lat[got] = now_ns() - sent[i];
    } else {
      errors++;
    }
    got++;
    consume(&c, used);
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  run r = {.lat = lat, .received = got - errors};
  qsort(r.lat, (size_t)r.received, sizeof(uint64_t), cmp_u64);
  printf("%-44s %12.0f %10.3f %10.3f %8ld\n", label, (double)jobs / secs,
         r.received ? (double)lat[r.received / 2] / 1e6 : 0, r.received ? (double)lat[(size_t)((double)r.received * 0.99)] / 1e6 : 0,
         errors);
  fflush(stdout);
  close(c.fd);
  free(c.buf);
  free(sent);
  free(lat);
}

int main(int argc, char **argv) {
  bench_opts o = {.port = 7700, .redis_port = 0, .items = 200000, .size = 100, .put_batch = 100, .fetch_batch = 100};
  if (argc >= 5 && strcmp(argv[1], "--jobs") == 0) { /* sn-bench --jobs PORT N LABEL [WINDOW] */
    run_jobs(atoi(argv[2]), atol(argv[3]), argc > 5 ? atoi(argv[5]) : 1, argv[4]);
    return 0;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) o.port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--redis-port")) o.redis_port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--items")) o.items = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--size")) o.size = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--put-batch")) o.put_batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--fetch-batch")) o.fetch_batch = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--rate")) o.rate = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--redis-streams")) o.streams = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--queue-len")) o.queue_len = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--stalls")) o.stall_ms = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--label")) o.label = argv[i + 1];
    else {
      fprintf(stderr, "usage: sn-bench --port P --redis-port R [--items N --size S --put-batch B --fetch-batch F --rate R --redis-streams 0|1 --queue-len Q --label NAME --stalls MS]\n");
      return 2;
    }
  }
  run_supernode(&o);
  if (o.redis_port)
    run_redis(&o);
  return 0;
}
