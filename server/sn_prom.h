/* Prometheus text exposition format 0.0.4, the pieces that need care:
 * family headers, escaped label values, and a fixed-bucket histogram.
 * Pure: no I/O, unit-tested alone. */
#ifndef SN_PROM_H
#define SN_PROM_H

#include <stdint.h>

#include "sn_buf.h"

/* Job durations from half a millisecond to five minutes. */
#define SN_HISTO_BUCKETS 16

typedef struct sn_histo {
  uint64_t counts[SN_HISTO_BUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
  uint64_t n;
  double sum;
} sn_histo;

void sn_histo_observe(sn_histo *h, double v);

/* "# HELP name help\n# TYPE name type\n" */
void sn_prom_family(sn_buf *b, const char *name, const char *type, const char *help);
/* A label value with \, " and newline escaped (without the quotes). */
void sn_prom_label_value(sn_buf *b, const char *s);
/* name_bucket{labels,le="..."} lines (cumulative), _sum and _count; labels
 * may be "" (no other labels) or 'a="x"' without braces. */
void sn_prom_histo(sn_buf *b, const char *name, const char *labels, const sn_histo *h);
/* A sample value: integers exactly, others with 15 significant digits. */
void sn_prom_double(sn_buf *b, double v);

#endif
