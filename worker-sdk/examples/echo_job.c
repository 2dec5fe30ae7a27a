/* echo_job: takes jobs and returns their payload as the output. A payload
 * {"parts":[...]} is streamed back part by part (partial frames) first, the
 * way an LLM worker streams tokens. {"fail":"text"} ends the job with an error.
 *   exec: the node's environment; net: echo_job --url URL --task ID [--kind K]
 *   --max-jobs N: the node may send N jobs at once (each is still answered in turn). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supernode/worker.h"

static void on_job(sn_worker *w, const char *id, const char *payload, size_t len, void *ud) {
  json_t *p = json_loadb(payload, len, JSON_DECODE_ANY, NULL);
  json_t *parts = json_object_get(p, "parts"), *part;
  const char *fail = json_string_value(json_object_get(p, "fail"));
  size_t i;
  char *text = strndup(payload, len);
  (void)ud;
  json_array_foreach(parts, i, part) {
    char *s = json_dumps(part, JSON_COMPACT | JSON_ENCODE_ANY);
    sn_worker_job_partial(w, id, s);
    free(s);
  }
  if (fail)
    sn_worker_job_done(w, id, 0, NULL, fail);
  else
    sn_worker_job_done(w, id, 1, text, NULL);
  free(text);
  json_decref(p);
}

static void on_stop(sn_worker *w, void *ud) {
  (void)ud;
  sn_worker_stop(w);
}

int main(int argc, char **argv) {
  sn_worker_opts o = {0};
  int err = 0;
  unsigned max_jobs = 1;
  sn_worker *w;
  if (argc > 1 && strcmp(argv[1], "--health-check") == 0)
    return sn_worker_health_check(3000);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--url") == 0) o.url = argv[i + 1];
    else if (strcmp(argv[i], "--task") == 0) o.task_id = argv[i + 1];
    else if (strcmp(argv[i], "--token") == 0) o.token = argv[i + 1];
    else if (strcmp(argv[i], "--kind") == 0) o.kind = argv[i + 1];
    else if (strcmp(argv[i], "--max-jobs") == 0) max_jobs = (unsigned)atoi(argv[i + 1]);
  }
  o.accept_tasks = 1;
  w = o.url ? sn_worker_new(&o, &err) : sn_worker_from_env(&err);
  if (w == NULL) {
    fprintf(stderr, "echo_job: %s\n", sn_worker_strerror(err));
    return 2;
  }
  if (sn_worker_set_max_jobs(w, max_jobs) != 0) {
    fprintf(stderr, "echo_job: --max-jobs must be 1 to 1024\n");
    sn_worker_free(w);
    return 2;
  }
  sn_worker_on_job(w, on_job, NULL);
  sn_worker_on_stop(w, on_stop, NULL);
  sn_worker_run(w);
  sn_worker_free(w);
  return 0;
}
