/* A /proc/<pid>/stat line, as the watch reads one for every process of the
 * system: the kernel writes it, but the command name in it is whatever a
 * process calls itself (prctl PR_SET_NAME, 15 bytes of anything but NUL), so a
 * worker chooses part of what the node parses. The input is the line. */
#include <stdlib.h>
#include <string.h>

#include "sn_proctree.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  char *line = malloc(size + 1);
  sn_pstat st;
  memcpy(line, data, size);
  line[size] = '\0'; /* the reader NUL-terminates what read() gave it */
  if (sn_pstat_parse(line, 4242, &st) == 0) {
    /* what it accepts has a ')' followed by a state and its pid is the one given */
    if (strrchr(line, ')') == NULL || st.pid != 4242 || st.state == '\0' || st.state == ' ')
      abort();
  }
  free(line);
  return 0;
}
