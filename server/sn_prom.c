#include "sn_prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double sn__bounds[SN_HISTO_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,   0.5,   1,      2.5,   5,    10,    60,    300};

void sn_histo_observe(sn_histo *h, double v) {
  size_t i = 0;
  while (i < SN_HISTO_BUCKETS && v > sn__bounds[i])
    i++;
  h->counts[i]++;
  h->n++;
  h->sum += v;
}

void sn_prom_family(sn_buf *b, const char *name, const char *type, const char *help) {
  sn_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sn_prom_label_value(sn_buf *b, const char *s) {
  const char *run = s;
  for (; *s; s++) {
    const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
    if (esc == NULL)
      continue;
    sn_buf_append(b, run, (size_t)(s - run));
    sn_buf_puts(b, esc);
    run = s + 1;
  }
  sn_buf_append(b, run, (size_t)(s - run));
}

void sn_prom_double(sn_buf *b, double v) {
  if (isnan(v))
    sn_buf_puts(b, "NaN");
  else if (isinf(v))
    sn_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 9e15)
    sn_buf_printf(b, "%.0f", v);
  else
    sn_buf_printf(b, "%.15g", v); /* enough for a time in seconds to the microsecond */
}

static void sn__histo_line(sn_buf *b, const char *name, const char *labels, const char *le, uint64_t v) {
  sn_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} ", name, labels, labels[0] ? "," : "", le);
  sn_buf_u64(b, v);
  sn_buf_puts(b, "\n");
}

void sn_prom_histo(sn_buf *b, const char *name, const char *labels, const sn_histo *h) {
  uint64_t cum = 0;
  char le[32];
  for (size_t i = 0; i < SN_HISTO_BUCKETS; i++) {
    cum += h->counts[i];
    snprintf(le, sizeof(le), "%g", sn__bounds[i]);
    sn__histo_line(b, name, labels, le, cum);
  }
  sn__histo_line(b, name, labels, "+Inf", h->n);
  sn_buf_printf(b, "%s_sum%s%s%s ", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "");
  sn_prom_double(b, h->sum);
  sn_buf_printf(b, "\n%s_count%s%s%s ", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "");
  sn_buf_u64(b, h->n);
  sn_buf_puts(b, "\n");
}
