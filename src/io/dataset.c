/*
 * dataset.c — labelled datasets: CSV / JSON Lines loading with checks, label
 * sets, class counts and summaries, subsets and the stratified split.
 *
 * Formats, checks and the label order are specified in dataset.h. CSV parsing
 * itself is tcf_csv_read (src/io/csv.c); JSON values are parsed by cJSON, one
 * line at a time. This file does not tokenize, truncate or warn: single-example
 * classes and over-long texts are for the trainer to report.
 */
#include "io/dataset.h"

#include "base/base.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tcf_labels {
    int n;
    char **names;  /* (n) each its own allocation */
    struct name_idx *by_name; /* (n) names[idx] sorted by strcmp, for lookups */
};

struct name_idx {
    const char *name; /* = names[idx] */
    int idx;
};

struct tcf_dataset {
    int n;
    char *path;
    char *arena;        /* all texts, each NUL-terminated */
    const char **text;  /* (n) pointers into arena */
    size_t *len;        /* (n) */
    int32_t *label;     /* (n) */
    int32_t *line;      /* (n) */
    tcf_labels *labels;
};

/* One example as read, before its label is resolved. Pointers belong to the
 * reader (table cells or a JSONL scratch copy). */
typedef struct {
    const char *text, *label;
    size_t text_len;
    int line;
} raw_row;

/* ---- small helpers --------------------------------------------------------- */


static int is_blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* Labels quoted in error messages are cut to this many bytes. */
#define QUOTE_MAX 120

/* ---- label sets ------------------------------------------------------------ */

static int cmp_name_idx(const void *a, const void *b) {
    return strcmp(((const struct name_idx *)a)->name, ((const struct name_idx *)b)->name);
}

void tcf_labels_free(tcf_labels *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    free(l->by_name);
    free(l);
}

/* Copies names (n >= 1, already checked non-empty and valid) and builds the
 * lookup index; duplicates are reported as TCF_ERR_ARG. */
static tcf_status labels_make(const char *const *names, int n, tcf_labels **out) {
    *out = NULL;
    tcf_labels *l = calloc(1, sizeof *l);
    if (!l) return tcf_fail(TCF_ERR_NOMEM, "label set: out of memory");
    l->names = calloc((size_t)n, sizeof *l->names);
    l->by_name = malloc(sizeof *l->by_name * (size_t)n);
    if (!l->names || !l->by_name) {
        tcf_labels_free(l);
        return tcf_fail(TCF_ERR_NOMEM, "label set: out of memory");
    }
    for (int i = 0; i < n; i++) {
        l->names[i] = strdup(names[i]);
        l->n = i + 1;
        if (!l->names[i]) {
            tcf_labels_free(l);
            return tcf_fail(TCF_ERR_NOMEM, "label set: out of memory");
        }
        l->by_name[i] = (struct name_idx){l->names[i], i};
    }
    qsort(l->by_name, (size_t)n, sizeof *l->by_name, cmp_name_idx);
    for (int i = 1; i < n; i++)
        if (!strcmp(l->by_name[i].name, l->by_name[i - 1].name)) {
            tcf_status st = tcf_fail(TCF_ERR_ARG, "label set: label \"%.*s\" appears twice", QUOTE_MAX,
                                     l->by_name[i].name);
            tcf_labels_free(l);
            return st;
        }
    *out = l;
    return TCF_OK;
}

tcf_status tcf_labels_from_names(const char *const *names, int n, tcf_labels **out) {
    *out = NULL;
    if (n < 1 || !names) return tcf_fail(TCF_ERR_ARG, "label set: needs at least one label (got %d)", n);
    for (int i = 0; i < n; i++) {
        if (!names[i] || is_blank(names[i]))
            return tcf_fail(TCF_ERR_ARG, "label set: label %d is empty", i);
        if (tcf_utf8_invalid_at(names[i], strlen(names[i])) >= 0)
            return tcf_fail(TCF_ERR_ARG, "label set: label %d is not valid UTF-8", i);
    }
    return labels_make(names, n, out);
}

int tcf_labels_count(const tcf_labels *l) { return l->n; }
const char *tcf_labels_name(const tcf_labels *l, int i) { return l->names[i]; }
const char *const *tcf_labels_names(const tcf_labels *l) { return (const char *const *)l->names; }

int tcf_labels_index(const tcf_labels *l, const char *name) {
    int lo = 0, hi = l->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(l->by_name[mid].name, name);
        if (c == 0) return l->by_name[mid].idx;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Canonical decimal integer: -?(0|[1-9][0-9]{0,17}), not "-0". */
static int canonical_int(const char *s, long long *v) {
    const char *p = s + (*s == '-');
    size_t nd = strlen(p);
    if (nd == 0 || nd > 18) return 0;
    for (size_t i = 0; i < nd; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    if (p[0] == '0' && (nd > 1 || p != s)) return 0;
    *v = strtoll(s, NULL, 10);
    return 1;
}

typedef struct {
    const char *name;
    long long num;
} label_key;

static int cmp_key_str(const void *a, const void *b) {
    return strcmp(((const label_key *)a)->name, ((const label_key *)b)->name);
}

static int cmp_key_num(const void *a, const void *b) {
    long long x = ((const label_key *)a)->num, y = ((const label_key *)b)->num;
    return (x > y) - (x < y);
}

/* The label set of a training set: the distinct labels of rows, sorted as
 * dataset.h specifies. */
static tcf_status labels_from_rows(const char *path, const raw_row *rows, int n, tcf_labels **out) {
    *out = NULL;
    label_key *keys = malloc(sizeof *keys * (size_t)n);
    const char **names = malloc(sizeof *names * (size_t)n);
    if (!keys || !names) {
        free(keys), free(names);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) keys[i].name = rows[i].label;
    qsort(keys, (size_t)n, sizeof *keys, cmp_key_str);
    int k = 0, all_int = 1;
    for (int i = 0; i < n; i++)
        if (k == 0 || strcmp(keys[k - 1].name, keys[i].name)) {
            keys[k] = keys[i];
            all_int &= canonical_int(keys[k].name, &keys[k].num);
            k++;
        }
    if (all_int) qsort(keys, (size_t)k, sizeof *keys, cmp_key_num);
    for (int i = 0; i < k; i++) names[i] = keys[i].name;
    tcf_status st = labels_make(names, k, out);
    free(keys), free(names);
    return st;
}

/* ---- datasets -------------------------------------------------------------- */

void tcf_dataset_free(tcf_dataset *ds) {
    if (!ds) return;
    free(ds->path);
    free(ds->arena);
    free(ds->text);
    free(ds->len);
    free(ds->label);
    free(ds->line);
    tcf_labels_free(ds->labels);
    free(ds);
}

/* A dataset owning copies of texts[i] (lens[i] bytes), with labels label[i],
 * lines line[i] and a copy of `labels`. */
static tcf_status dataset_make(const char *path, int n, const char *const *texts, const size_t *lens,
                               const int32_t *label, const int32_t *line, const tcf_labels *labels,
                               tcf_dataset **out) {
    *out = NULL;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (__builtin_add_overflow(total, lens[i] + 1, &total))
            return tcf_fail(TCF_ERR_NOMEM, "%s: texts too large", path);
    tcf_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    size_t m = n > 0 ? (size_t)n : 1;
    ds->n = n;
    ds->path = strdup(path);
    ds->arena = malloc(total ? total : 1);
    ds->text = malloc(sizeof *ds->text * m);
    ds->len = malloc(sizeof *ds->len * m);
    ds->label = malloc(sizeof *ds->label * m);
    ds->line = malloc(sizeof *ds->line * m);
    if (!ds->path || !ds->arena || !ds->text || !ds->len || !ds->label || !ds->line) {
        tcf_dataset_free(ds);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    tcf_status st = labels_make(tcf_labels_names(labels), labels->n, &ds->labels);
    if (st) {
        tcf_dataset_free(ds);
        return st;
    }
    char *p = ds->arena;
    for (int i = 0; i < n; i++) {
        memcpy(p, texts[i], lens[i]);
        p[lens[i]] = '\0';
        ds->text[i] = p;
        ds->len[i] = lens[i];
        ds->label[i] = label[i];
        ds->line[i] = line[i];
        p += lens[i] + 1;
    }
    *out = ds;
    return TCF_OK;
}

/* Common tail of both readers: check texts and labels, resolve labels against
 * `given` (or build the label set), and build the dataset. */
static tcf_status dataset_from_rows(const char *path, const raw_row *rows, int n, const tcf_labels *given,
                                    tcf_dataset **out) {
    *out = NULL;
    if (n == 0) return tcf_fail(TCF_ERR_FORMAT, "%s: no examples (the file holds only a header)", path);
    for (int i = 0; i < n; i++) {
        if (is_blank(rows[i].text))
            return tcf_fail(TCF_ERR_FORMAT, "%s:%d: text is empty%s", path, rows[i].line,
                            rows[i].text[0] ? " (only white space)" : "");
        if (is_blank(rows[i].label))
            return tcf_fail(TCF_ERR_FORMAT, "%s:%d: label is empty%s", path, rows[i].line,
                            rows[i].label[0] ? " (only white space)" : "");
    }
    tcf_labels *built = NULL;
    const tcf_labels *labels = given;
    if (!given) {
        tcf_status st = labels_from_rows(path, rows, n, &built);
        if (st) return st;
        if (built->n < 2) {
            st = tcf_fail(TCF_ERR_FORMAT,
                          "%s: every one of the %d examples has the label \"%.*s\": a classifier needs at least 2 classes",
                          path, n, QUOTE_MAX, built->names[0]);
            tcf_labels_free(built);
            return st;
        }
        labels = built;
    }
    const char **texts = malloc(sizeof *texts * (size_t)n);
    size_t *lens = malloc(sizeof *lens * (size_t)n);
    int32_t *lab = malloc(sizeof *lab * (size_t)n), *line = malloc(sizeof *line * (size_t)n);
    tcf_status st = TCF_OK;
    if (!texts || !lens || !lab || !line) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        int k = tcf_labels_index(labels, rows[i].label);
        if (k < 0) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: label \"%.*s\" is not one of the %d training labels", path,
                          rows[i].line, QUOTE_MAX, rows[i].label, labels->n);
            goto done;
        }
        texts[i] = rows[i].text;
        lens[i] = rows[i].text_len;
        lab[i] = k;
        line[i] = rows[i].line;
    }
    st = dataset_make(path, n, texts, lens, lab, line, labels, out);
done:
    free(texts), free(lens), free(lab), free(line);
    tcf_labels_free(built);
    return st;
}

/* ---- CSV --------------------------------------------------------------------- */

/* "a, b, c" (truncated) for the header error. */
static void header_list(const tcf_table *t, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < tcf_table_cols(t) && used + 1 < cap; c++) {
        int k = snprintf(buf + used, cap - used, "%s\"%s\"", c ? ", " : "", tcf_table_header(t, c));
        if (k < 0) break;
        used += (size_t)k;
    }
    if (used >= cap && cap > 4) strcpy(buf + cap - 4, "...");
}

static int has_column_ci(const tcf_table *t, const char *name) {
    for (int c = 0; c < tcf_table_cols(t); c++)
        if (!strcasecmp(tcf_table_header(t, c), name)) return 1;
    return 0;
}

static tcf_status load_csv(const char *path, const tcf_labels *given, tcf_dataset **out) {
    tcf_table *t = NULL;
    tcf_status st = tcf_csv_read(path, &t);
    if (st) return st;
    int ct = tcf_table_column(t, "text"), cl = tcf_table_column(t, "label");
    if (ct < 0 || cl < 0) {
        char found[512];
        header_list(t, found, sizeof found);
        const char *missing = ct < 0 && cl < 0 ? "columns \"text\" and \"label\"" : ct < 0 ? "column \"text\"" : "column \"label\"";
        int ci = (ct < 0 && has_column_ci(t, "text")) || (cl < 0 && has_column_ci(t, "label"));
        st = tcf_fail(TCF_ERR_FORMAT,
                      "%s:1: the header has no %s (found %s; expected \"text\" and \"label\"%s, other columns are ignored)",
                      path, missing, found, ci ? ", names are case-sensitive" : "");
        tcf_table_free(t);
        return st;
    }
    int n = tcf_table_rows(t);
    raw_row *rows = malloc(sizeof *rows * (size_t)(n > 0 ? n : 1));
    if (!rows) {
        tcf_table_free(t);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) {
        rows[i].text = tcf_table_cell(t, i, ct);
        rows[i].text_len = strlen(rows[i].text);
        rows[i].label = tcf_table_cell(t, i, cl);
        rows[i].line = tcf_table_line(t, i);
    }
    st = dataset_from_rows(path, rows, n, given, out);
    free(rows);
    tcf_table_free(t);
    return st;
}

/* ---- JSON Lines ---------------------------------------------------------- */

/* The child named `key`; sets *dup when it appears more than once. */
static const cJSON *json_key(const cJSON *obj, const char *key, int *dup) {
    const cJSON *found = NULL;
    *dup = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && !strcmp(c->string, key)) {
            if (found) *dup = 1;
            found = c;
        }
    return found;
}

/* True if the line holds the escape \u0000 (outside of an escaped backslash). */
static int has_nul_escape(const char *s) {
    for (; *s; s++)
        if (*s == '\\') {
            if (s[1] == 'u' && !strncmp(s + 2, "0000", 4)) return 1;
            if (s[1]) s++;
        }
    return 0;
}

/* Parse one non-blank line into row (text and label strdup'ed into *text,
 * *label). */
static tcf_status jsonl_line(const char *path, int lineno, const char *line, char **text, char **label) {
    *text = *label = NULL;
    if (has_nul_escape(line))
        return tcf_fail(TCF_ERR_FORMAT, "%s:%d: the escape \\u0000 is not allowed", path, lineno);
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithOpts(line, &end, 1);
    if (!obj) {
        long col = end && end >= line ? (long)(end - line) + 1 : 1;
        return tcf_fail(TCF_ERR_FORMAT, "%s:%d: invalid JSON (column %ld); expected {\"text\": ..., \"label\": ...}",
                        path, lineno, col);
    }
    tcf_status st = TCF_OK;
    int dup_t = 0, dup_l = 0;
    const cJSON *t = cJSON_IsObject(obj) ? json_key(obj, "text", &dup_t) : NULL;
    const cJSON *l = cJSON_IsObject(obj) ? json_key(obj, "label", &dup_l) : NULL;
    if (!cJSON_IsObject(obj)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: expected a JSON object {\"text\": ..., \"label\": ...}", path, lineno);
    } else if (!t || !l) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: missing key \"%s\"", path, lineno, !t ? "text" : "label");
    } else if (dup_t || dup_l) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: key \"%s\" appears twice", path, lineno, dup_t ? "text" : "label");
    } else if (!cJSON_IsString(t)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: \"text\" must be a string", path, lineno);
    } else if (cJSON_IsString(l)) {
        *label = strdup(l->valuestring);
    } else if (cJSON_IsNumber(l)) {
        double v = l->valuedouble;
        if (!(fabs(v) < 9007199254740992.0) || v != floor(v)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: \"label\" is a number but not an integer below 2^53: %g", path,
                          lineno, v);
        } else {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)v);
            *label = strdup(num);
        }
    } else {
        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: \"label\" must be a string or an integer", path, lineno);
    }
    if (!st) {
        *text = strdup(t->valuestring);
        if (!*text || !*label) st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        /* cJSON decodes \u escapes without checking what they make. */
        else if (tcf_utf8_invalid_at(*text, strlen(*text)) >= 0 || tcf_utf8_invalid_at(*label, strlen(*label)) >= 0)
            st = tcf_fail(TCF_ERR_UTF8, "%s:%d: a \\u escape gives invalid UTF-8", path, lineno);
    }
    if (st) {
        free(*text), free(*label);
        *text = *label = NULL;
    }
    cJSON_Delete(obj);
    return st;
}

static tcf_status load_jsonl(const char *path, const tcf_labels *given, tcf_dataset **out) {
    char *buf;
    size_t len;
    tcf_status st = tcf_read_file(path, &buf, &len);
    if (st) return st;
    size_t start = (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) ? 3 : 0;
    /* Whole-file byte checks first, so their line numbers are exact. */
    int lineno = 1;
    for (size_t i = start; i < len; i++) {
        if (buf[i] == '\0') {
            free(buf);
            return tcf_fail(TCF_ERR_FORMAT, "%s:%d: NUL byte", path, lineno);
        }
        lineno += buf[i] == '\n';
    }
    int64_t bad = tcf_utf8_invalid_at(buf + start, len - start);
    if (bad >= 0) {
        lineno = 1;
        for (size_t i = start; i < start + (size_t)bad; i++) lineno += buf[i] == '\n';
        free(buf);
        return tcf_fail(TCF_ERR_UTF8, "%s:%d: invalid UTF-8 (byte offset %lld)", path, lineno,
                        (long long)(bad + (int64_t)start));
    }
    /* Split into lines in place; find the last non-blank one. */
    size_t n_lines = 1;
    for (size_t i = start; i < len; i++) n_lines += buf[i] == '\n';
    if (n_lines > INT32_MAX) {
        free(buf);
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: more than %d lines", path, INT32_MAX);
    }
    char **line = malloc(sizeof *line * n_lines);
    raw_row *rows = malloc(sizeof *rows * n_lines);
    if (!line || !rows) {
        free(line), free(rows), free(buf);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t k = 0;
    line[k++] = buf + start;
    for (size_t i = start; i < len; i++)
        if (buf[i] == '\n') {
            buf[i] = '\0';
            if (i > start && buf[i - 1] == '\r') buf[i - 1] = '\0';
            line[k++] = buf + i + 1;
        }
    if (len > start && buf[len - 1] == '\r') buf[len - 1] = '\0';
    int last = (int)n_lines - 1;
    while (last >= 0 && is_blank(line[last])) last--;
    int n = 0;
    if (last < 0) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: empty file (no examples)", path);
        goto done;
    }
    for (int i = 0; i <= last; i++) {
        if (is_blank(line[i])) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: blank line (allowed only at the end of the file)", path, i + 1);
            goto done;
        }
        char *text, *label;
        st = jsonl_line(path, i + 1, line[i], &text, &label);
        if (st) goto done;
        rows[n].text = text;
        rows[n].text_len = strlen(text);
        rows[n].label = label;
        rows[n].line = i + 1;
        n++;
    }
    st = dataset_from_rows(path, rows, n, given, out);
done:
    for (int i = 0; i < n; i++) free((char *)rows[i].text), free((char *)rows[i].label);
    free(rows), free(line), free(buf);
    return st;
}

/* ---- format choice and load ----------------------------------------------- */

typedef enum { FMT_CSV, FMT_JSONL, FMT_JSON_ARRAY } file_format;

static file_format sniff(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        if (!strcasecmp(dot, ".csv")) return FMT_CSV;
        if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".ndjson") || !strcasecmp(dot, ".json-lines"))
            return FMT_JSONL;
    }
    /* Unknown extension: look at the first meaningful byte. A file that cannot
     * be opened goes to the CSV reader, which reports why. */
    FILE *f = fopen(path, "rb");
    if (!f) return FMT_CSV;
    unsigned char head[4096];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    size_t i = got >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < got && isspace(head[i])) i++;
    if (i < got && head[i] == '{') return FMT_JSONL;
    if (i < got && head[i] == '[') return FMT_JSON_ARRAY;
    return FMT_CSV;
}

tcf_status tcf_dataset_load(const char *path, const tcf_labels *labels, tcf_dataset **out) {
    *out = NULL;
    if (!path) return tcf_fail(TCF_ERR_ARG, "dataset: path is NULL");
    switch (sniff(path)) {
    case FMT_JSONL: return load_jsonl(path, labels, out);
    case FMT_JSON_ARRAY:
        return tcf_fail(TCF_ERR_UNSUPPORTED,
                        "%s:1: starts with '[': a JSON array is not supported; write one {\"text\": ..., \"label\": ...} object per line (JSON Lines)",
                        path);
    case FMT_CSV: break;
    }
    return load_csv(path, labels, out);
}

/* ---- accessors ---------------------------------------------------------------- */

int tcf_dataset_count(const tcf_dataset *ds) { return ds->n; }
const tcf_labels *tcf_dataset_labels(const tcf_dataset *ds) { return ds->labels; }
const char *tcf_dataset_path(const tcf_dataset *ds) { return ds->path; }
const char *tcf_dataset_text(const tcf_dataset *ds, int i) { return ds->text[i]; }
size_t tcf_dataset_text_len(const tcf_dataset *ds, int i) { return ds->len[i]; }
int tcf_dataset_label(const tcf_dataset *ds, int i) { return ds->label[i]; }
int tcf_dataset_line(const tcf_dataset *ds, int i) { return ds->line[i]; }
const char *const *tcf_dataset_texts(const tcf_dataset *ds) { return ds->text; }
const size_t *tcf_dataset_text_lens(const tcf_dataset *ds) { return ds->len; }
const int32_t *tcf_dataset_label_ids(const tcf_dataset *ds) { return ds->label; }

void tcf_dataset_class_counts(const tcf_dataset *ds, int *counts) {
    memset(counts, 0, sizeof(int) * (size_t)ds->labels->n);
    for (int i = 0; i < ds->n; i++) counts[ds->label[i]]++;
}

/* ---- summary ------------------------------------------------------------------ */

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

typedef struct {
    int count, idx;
} class_count;

/* Most examples first; ties in label order. */
static int cmp_count_desc(const void *a, const void *b) {
    const class_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

void tcf_dataset_summary(const tcf_dataset *ds, FILE *f) {
    int K = ds->labels->n;
    fprintf(f, "%s: %d examples, %d classes\n", ds->path, ds->n, K);
    size_t *lens = malloc(sizeof *lens * (size_t)(ds->n > 0 ? ds->n : 1));
    int *counts = malloc(sizeof(int) * (size_t)K);
    class_count *order = malloc(sizeof *order * (size_t)K);
    if (!lens || !counts || !order) {
        fprintf(f, "  (out of memory for the rest of the summary)\n");
        free(lens), free(counts), free(order);
        return;
    }
    if (ds->n > 0) {
        memcpy(lens, ds->len, sizeof *lens * (size_t)ds->n);
        qsort(lens, (size_t)ds->n, sizeof *lens, cmp_size);
        fprintf(f, "  text length (bytes): min %zu, median %zu, max %zu\n", lens[0], lens[(ds->n - 1) / 2],
                lens[ds->n - 1]);
    }
    tcf_dataset_class_counts(ds, counts);
    for (int k = 0; k < K; k++) order[k] = (class_count){counts[k], k};
    qsort(order, (size_t)K, sizeof *order, cmp_count_desc);
    fprintf(f, "  examples per class, most first:\n");
    for (int k = 0; k < K; k++) fprintf(f, "  %8d  %s\n", order[k].count, ds->labels->names[order[k].idx]);
    free(lens), free(counts), free(order);
}

/* ---- subsets and the stratified split --------------------------------------- */

tcf_status tcf_dataset_subset(const tcf_dataset *ds, const int *idx, int n, tcf_dataset **out) {
    *out = NULL;
    if (n < 0 || (n > 0 && !idx)) return tcf_fail(TCF_ERR_ARG, "%s: subset of %d examples", ds->path, n);
    size_t m = n > 0 ? (size_t)n : 1;
    const char **texts = malloc(sizeof *texts * m);
    size_t *lens = malloc(sizeof *lens * m);
    int32_t *lab = malloc(sizeof *lab * m), *line = malloc(sizeof *line * m);
    tcf_status st = TCF_OK;
    if (!texts || !lens || !lab || !line) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", ds->path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        int j = idx[i];
        if (j < 0 || j >= ds->n) {
            st = tcf_fail(TCF_ERR_ARG, "%s: subset index %d out of range [0, %d)", ds->path, j, ds->n);
            goto done;
        }
        texts[i] = ds->text[j];
        lens[i] = ds->len[j];
        lab[i] = ds->label[j];
        line[i] = ds->line[j];
    }
    st = dataset_make(ds->path, n, texts, lens, lab, line, ds->labels, out);
done:
    free(texts), free(lens), free(lab), free(line);
    return st;
}

tcf_status tcf_dataset_split_stratified(const tcf_dataset *ds, double fraction, uint64_t seed,
                                        tcf_dataset **train, tcf_dataset **valid) {
    *train = *valid = NULL;
    if (!(fraction > 0.0 && fraction < 1.0))
        return tcf_fail(TCF_ERR_ARG, "%s: split fraction %g is not in (0, 1)", ds->path, fraction);
    int K = ds->labels->n, n = ds->n;
    size_t m = n > 0 ? (size_t)n : 1;
    int *counts = calloc((size_t)K + 1, sizeof(int)), *start = calloc((size_t)K + 1, sizeof(int));
    int *byclass = malloc(sizeof(int) * m), *fill = calloc((size_t)K + 1, sizeof(int));
    unsigned char *to_valid = calloc(m, 1);
    int *ti = malloc(sizeof(int) * m), *vi = malloc(sizeof(int) * m);
    tcf_status st = TCF_OK;
    if (!counts || !start || !byclass || !fill || !to_valid || !ti || !vi) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", ds->path);
        goto done;
    }
    /* Bucket example indices by class, in file order: byclass[start[k] ..]. */
    tcf_dataset_class_counts(ds, counts);
    for (int k = 0; k < K; k++) start[k + 1] = start[k] + counts[k];
    for (int i = 0; i < n; i++) byclass[start[ds->label[i]] + fill[ds->label[i]]++] = i;
    uint64_t rng = seed;
    for (int k = 0; k < K; k++) {
        int c = counts[k];
        if (c < 2) continue;
        int v = (int)floor(fraction * c + 0.5);
        if (v < 1) v = 1;
        if (v > c - 1) v = c - 1;
        tcf_shuffle_int(byclass + start[k], c, &rng);
        for (int j = 0; j < v; j++) to_valid[byclass[start[k] + j]] = 1;
    }
    int nt = 0, nv = 0;
    for (int i = 0; i < n; i++) {
        if (to_valid[i]) vi[nv++] = i;
        else ti[nt++] = i;
    }
    st = tcf_dataset_subset(ds, ti, nt, train);
    if (!st) st = tcf_dataset_subset(ds, vi, nv, valid);
    if (st) {
        tcf_dataset_free(*train);
        *train = NULL;
    }
done:
    free(counts), free(start), free(byclass), free(fill), free(to_valid), free(ti), free(vi);
    return st;
}
