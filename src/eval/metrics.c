/*
 * metrics.c — see metrics.h.
 */
#include "eval/metrics.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

tcf_status tcf_metrics_compute(int64_t n, const int32_t *y_true, const int32_t *y_pred, int K,
                               tcf_metrics **out) {
    *out = NULL;
    if (K <= 0 || n < 0) return tcf_fail(TCF_ERR_ARG, "metrics: %d classes, %lld examples", K, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (y_true[i] < 0 || y_true[i] >= K || y_pred[i] < 0 || y_pred[i] >= K)
            return tcf_fail(TCF_ERR_ARG, "metrics: label out of range at %lld", (long long)i);
    tcf_metrics *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "metrics: out of memory");
    m->n_classes = K, m->n = n;
    m->precision = calloc((size_t)K, sizeof(double));
    m->recall = calloc((size_t)K, sizeof(double));
    m->f1 = calloc((size_t)K, sizeof(double));
    m->support = calloc((size_t)K, sizeof(int64_t));
    m->confusion = calloc((size_t)K * K, sizeof(int64_t));
    int64_t *pred_count = calloc((size_t)K, sizeof(int64_t));
    if (!m->precision || !m->recall || !m->f1 || !m->support || !m->confusion || !pred_count) {
        free(pred_count);
        tcf_metrics_free(m);
        return tcf_fail(TCF_ERR_NOMEM, "metrics: out of memory");
    }
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        m->confusion[(int64_t)y_true[i] * K + y_pred[i]]++;
        m->support[y_true[i]]++;
        pred_count[y_pred[i]]++;
        correct += y_true[i] == y_pred[i];
    }
    m->accuracy = n ? (double)correct / (double)n : 0.0;
    int present = 0;
    for (int c = 0; c < K; c++) {
        int64_t tp = m->confusion[(int64_t)c * K + c];
        m->precision[c] = pred_count[c] ? (double)tp / (double)pred_count[c] : 0.0;
        m->recall[c] = m->support[c] ? (double)tp / (double)m->support[c] : 0.0;
        double s = m->precision[c] + m->recall[c];
        m->f1[c] = s > 0 ? 2.0 * m->precision[c] * m->recall[c] / s : 0.0;
        if (m->support[c] || pred_count[c]) {
            present++;
            m->macro_precision += m->precision[c];
            m->macro_recall += m->recall[c];
            m->macro_f1 += m->f1[c];
        }
    }
    if (present) m->macro_precision /= present, m->macro_recall /= present, m->macro_f1 /= present;
    free(pred_count);
    *out = m;
    return TCF_OK;
}

void tcf_metrics_free(tcf_metrics *m) {
    if (!m) return;
    free(m->precision), free(m->recall), free(m->f1), free(m->support), free(m->confusion);
    free(m);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void tcf_metrics_write_json(const tcf_metrics *m, const char *const *names, FILE *f) {
    const int K = m->n_classes;
    fprintf(f, "{\n  \"examples\": %lld,\n  \"accuracy\": %.6f,\n  \"macro_precision\": %.6f,\n"
               "  \"macro_recall\": %.6f,\n  \"macro_f1\": %.6f,\n  \"per_class\": {\n",
            (long long)m->n, m->accuracy, m->macro_precision, m->macro_recall, m->macro_f1);
    for (int c = 0; c < K; c++) {
        fputs("    ", f);
        json_string(f, names[c]);
        fprintf(f, ": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %lld}%s\n",
                m->precision[c], m->recall[c], m->f1[c], (long long)m->support[c], c + 1 < K ? "," : "");
    }
    fputs("  },\n  \"labels\": [", f);
    for (int c = 0; c < K; c++) {
        if (c) fputs(", ", f);
        json_string(f, names[c]);
    }
    fputs("],\n  \"confusion\": [\n", f);
    for (int r = 0; r < K; r++) {
        fputs("    [", f);
        for (int c = 0; c < K; c++) fprintf(f, "%s%lld", c ? ", " : "", (long long)m->confusion[(int64_t)r * K + c]);
        fprintf(f, "]%s\n", r + 1 < K ? "," : "");
    }
    fputs("  ]\n}\n", f);
}
