/* supernode-shim: the parent of one worker process.
 *
 * The node spawns `supernode-shim [--uid N --gid N --nofile N --nproc N --cpu N] -- argv...`.
 * The shim
 *   - becomes a child subreaper, so every descendant of the worker that is
 *     orphaned (double fork, setsid) is re-parented to it and stays findable;
 *   - asks the kernel for a signal when the node dies (PR_SET_PDEATHSIG), and
 *     then kills the worker's whole tree: workers never outlive a crashed node;
 *   - applies the task's identity and rlimits, then forks and execs the worker,
 *     which gets SIGKILL from the kernel if the shim dies first;
 *   - forwards signals to a worker that left the shim's process group;
 *   - when the worker ends, kills whatever of its tree is left and exits with
 *     the worker's status (the same code, or dies of the same signal).
 * It does not call into libuv or the node's code; it only shares sn_proctree. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sn_proctree.h"

#define SN_SHIM_PARENT_DIED (SIGRTMIN + 1)

typedef struct shim_opts {
  long uid, gid, nofile, nproc, cpu;
  char **argv;
} shim_opts;

static int parse(int argc, char **argv, shim_opts *o) {
  o->uid = o->gid = o->nofile = o->nproc = o->cpu = -1;
  for (int i = 1; i < argc; i += 2) { /* "--name value" pairs, then "--" */
    if (strcmp(argv[i], "--") == 0) {
      o->argv = argv + i + 1;
      return o->argv[0] ? 0 : -1;
    }
    if (i + 1 >= argc)
      return -1;
    long v = strtol(argv[i + 1], NULL, 10);
    if (strcmp(argv[i], "--uid") == 0) o->uid = v;
    else if (strcmp(argv[i], "--gid") == 0) o->gid = v;
    else if (strcmp(argv[i], "--nofile") == 0) o->nofile = v;
    else if (strcmp(argv[i], "--nproc") == 0) o->nproc = v;
    else if (strcmp(argv[i], "--cpu") == 0) o->cpu = v;
    else return -1;
  }
  return -1;
}

static int set_limit(int res, long v) {
  struct rlimit rl = {(rlim_t)v, (rlim_t)v};
  return v < 0 ? 0 : setrlimit(res, &rl);
}

/* In the child, between fork and exec: limits, identity, default signals. */
static void exec_worker(const shim_opts *o, const sigset_t *orig, pid_t shim) {
  if (set_limit(RLIMIT_NOFILE, o->nofile) || set_limit(RLIMIT_NPROC, o->nproc) ||
      set_limit(RLIMIT_CPU, o->cpu)) {
    fprintf(stderr, "supernode-shim: setrlimit: %s\n", strerror(errno));
    _exit(126);
  }
  if (o->gid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)o->gid) != 0)) {
    fprintf(stderr, "supernode-shim: setgid %ld: %s\n", o->gid, strerror(errno));
    _exit(126);
  }
  if (o->uid >= 0 && setuid((uid_t)o->uid) != 0) {
    fprintf(stderr, "supernode-shim: setuid %ld: %s\n", o->uid, strerror(errno));
    _exit(126);
  }
  /* The worker dies with the shim. When the shim is SIGKILLed, the node
   * kills the worker's group on SIGCHLD; but if the node dies in that same
   * moment, nobody would, and the worker would run on as init's child (an SDK
   * worker reconnects for ever). Set after setuid, which clears it. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != shim)
    _exit(137);
  sigprocmask(SIG_SETMASK, orig, NULL);
  /* The worker gets stdin, stdout and stderr, nothing else of the node's. */
  close_range(3, ~0U, 0);
  execvp(o->argv[0], o->argv);
  fprintf(stderr, "supernode-shim: cannot run %s: %s\n", o->argv[0], strerror(errno));
  _exit(127);
}

/* Kills every descendant and reaps them all, until none is left. */
static void end_tree(void) {
  for (int round = 0; round < 100; round++) {
    int st;
    size_t sent = sn_pkill_tree(getpid(), SIGKILL, 1);
    while (waitpid(-1, &st, WNOHANG) > 0)
      ;
    if (sent == 0 && waitpid(-1, &st, WNOHANG) <= 0)
      break;
    usleep(1000);
  }
}

static void exit_like(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    sigset_t s;
    signal(sig, SIG_DFL);
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

int main(int argc, char **argv) {
  shim_opts o;
  sigset_t all, orig;
  pid_t node = getppid(), self = getpid(), worker;

  if (parse(argc, argv, &o) != 0) {
    fprintf(stderr, "usage: supernode-shim [--uid N --gid N --nofile N --nproc N --cpu N] -- argv...\n");
    return 127;
  }
  close_range(3, ~0U, 0); /* nothing the node had open is ours to hold */
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &orig);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_PDEATHSIG, SN_SHIM_PARENT_DIED);
  if (getppid() != node) { /* the node died before the request took */
    return 137;
  }
  if ((worker = fork()) < 0) {
    fprintf(stderr, "supernode-shim: fork: %s\n", strerror(errno));
    return 127;
  }
  if (worker == 0)
    exec_worker(&o, &orig, self);

  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si), status;
    pid_t pid;
    if (sig < 0)
      continue;
    if (sig == SN_SHIM_PARENT_DIED) {
      end_tree();
      _exit(137);
    }
    if (sig == SIGCHLD) {
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == worker) {
          end_tree();
          exit_like(status);
        }
      }
      continue;
    }
    /* The node signals our whole group; a worker that made its own group
     * only hears it from us. */
    if (getpgid(worker) != getpgrp())
      kill(worker, sig);
  }
}
