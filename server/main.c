/* supernode: parse the command line, load the config, run the node. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "sn_log.h"
#include "sn_node.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: supernode [options]\n"
          "  -c, --config FILE      JSON config (see conf/supernode.json)\n"
          "  -l, --listen HOST:PORT listen address (default 127.0.0.1:7700; port 0 = any free)\n"
          "  -L, --log-level LEVEL  error|warn|info|debug (default info)\n"
          "  -V, --version          print the version and exit\n"
          "  -h, --help             this text\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"log-level", required_argument, NULL, 'L'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *config = NULL, *listen = NULL, *level = NULL;
  sn_config cfg;
  sn_node node;
  sn_error err = {0};
  uv_loop_t loop;
  int c, rc = 1;

  while ((c = getopt_long(argc, argv, "c:l:L:Vh", opts, NULL)) != -1) {
    switch (c) {
    case 'c': config = optarg; break;
    case 'l': listen = optarg; break;
    case 'L': level = optarg; break;
    case 'V': printf("supernode %s\n", SN_VERSION); return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }
  sn_config_init(&cfg);
  if ((config && sn_config_load_file(&cfg, config, &err)) || (listen && sn_config_set_listen(&cfg, listen, &err))) {
    fprintf(stderr, "supernode: %s\n", err.msg);
    sn_config_free(&cfg);
    return 2;
  }
  if (level && (cfg.log_level = sn_log_parse_level(level)) < 0) {
    fprintf(stderr, "supernode: --log-level must be error|warn|info|debug\n");
    sn_config_free(&cfg);
    return 2;
  }
  sn_log_set_level(cfg.log_level);
  uv_loop_init(&loop);
  if (sn_node_init(&node, &loop, &cfg, &err) == 0 && sn_node_listen(&node, &err) == 0 &&
      sn_node_boot_tasks(&node, &err) == 0) {
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = node.exit_code;
  } else {
    sn_log(SN_LOG_ERROR, NULL, "%s", err.msg);
    sn_node_shutdown(&node);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = 1;
  }
  sn_node_free(&node);
  if (uv_loop_close(&loop) != 0)
    sn_log(SN_LOG_WARN, NULL, "loop closed with handles still open");
  sn_config_free(&cfg);
  return rc;
}
