/* sn-misbehave: small misbehaving processes for the supervision tests.
 *   alloc KB        allocate and touch KB kilobytes every 50 ms, forever
 *   hang            sleep forever
 *   ignore-term     ignore SIGTERM, sleep forever
 *   exit CODE       exit with CODE at once
 *   forktree FILE   fork two children in the group, and a double-forked grandchild
 *                   that calls setsid; write every pid to FILE; sleep forever
 *   health FILE     a health check: exit 1 if FILE exists, else 0
 *   stamp FILE      append "start <monotonic ns>" to FILE, then exit 1 (crash loop bench) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void forever(void) {
  for (;;)
    pause();
}

static void write_pid(const char *file) {
  FILE *f = fopen(file, "a");
  if (f) {
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  const char *arg = argc > 2 ? argv[2] : "";
  setvbuf(stdout, NULL, _IONBF, 0);
  if (strcmp(mode, "alloc") == 0) {
    long kb = atol(arg);
    for (;;) {
      char *p = malloc((size_t)kb * 1024);
      if (p)
        memset(p, 1, (size_t)kb * 1024);
      usleep(50000);
    }
  }
  if (strcmp(mode, "hang") == 0)
    forever();
  if (strcmp(mode, "ignore-term") == 0) {
    signal(SIGTERM, SIG_IGN);
    printf("ignoring SIGTERM\n");
    forever();
  }
  if (strcmp(mode, "exit") == 0)
    return atoi(arg);
  if (strcmp(mode, "forktree") == 0) {
    write_pid(arg);
    for (int i = 0; i < 2; i++)
      if (fork() == 0) {
        write_pid(arg);
        forever();
      }
    if (fork() == 0) {
      if (fork() == 0) {
        setsid();
        write_pid(arg);
        forever();
      }
      _exit(0); /* the grandchild is orphaned: a double fork */
    }
    forever();
  }
  if (strcmp(mode, "health") == 0)
    return access(arg, F_OK) == 0 ? 1 : 0;
  if (strcmp(mode, "stamp") == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    FILE *f = fopen(arg, "a");
    if (f) {
      fprintf(f, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
      fclose(f);
    }
    return 1;
  }
  fprintf(stderr, "usage: sn-misbehave alloc KB|hang|ignore-term|exit CODE|forktree FILE|health FILE|stamp FILE\n");
  return 2;
}
