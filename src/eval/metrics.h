/*
 * metrics.h — classification metrics from true and predicted labels:
 * accuracy, per-class precision / recall / F1 / support, macro-F1, confusion
 * matrix. Definitions as scikit-learn's (zero_division = 0); macro averages
 * run over the classes that occur in y_true or y_pred, as sklearn's
 * f1_score(average="macro") does without an explicit label list.
 */
#ifndef TCF_METRICS_H
#define TCF_METRICS_H

#include "tcf.h"

#include <stdint.h>
#include <stdio.h>

typedef struct {
    int n_classes;
    int64_t n;
    double accuracy, macro_precision, macro_recall, macro_f1;
    double *precision, *recall, *f1; /* (n_classes) */
    int64_t *support;                /* (n_classes) true count */
    int64_t *confusion;              /* (n_classes, n_classes): [true][pred] */
} tcf_metrics;

/* Caller frees *out with tcf_metrics_free. Labels must be in [0, n_classes). */
tcf_status tcf_metrics_compute(int64_t n, const int32_t *y_true, const int32_t *y_pred, int n_classes,
                               tcf_metrics **out);
void tcf_metrics_free(tcf_metrics *m);
/* Write the metrics as a JSON object (class names given) to f. */
void tcf_metrics_write_json(const tcf_metrics *m, const char *const *names, FILE *f);

#endif
