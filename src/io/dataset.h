/*
 * dataset.h — labelled text datasets for training and evaluation (internal
 * API, used by the trainer and the CLI; not part of include/tcf.h yet).
 *
 * A tcf_dataset holds n examples, each a UTF-8 text (NUL-terminated, never
 * empty), a label index into the dataset's label set, and the 1-based line of
 * the source file it came from (for error messages). Every dataset owns its
 * texts and its own copy of its label set: nothing it returns points into
 * another object, so a validation set may outlive the training set whose
 * labels it was loaded with.
 *
 * File formats (chosen in this order):
 *   1. by extension, case-insensitively: ".csv" is CSV; ".jsonl", ".ndjson"
 *      and ".json-lines" are JSON Lines;
 *   2. otherwise by the first byte that is not a UTF-8 BOM or white space:
 *      '{' is JSON Lines, '[' is rejected (a JSON array is not JSON Lines),
 *      anything else is CSV.
 *
 * CSV: RFC 4180 as read by tcf_csv_read (BOM, CRLF/LF, quoted commas, quotes
 * and line ends). The header must contain the columns "text" and "label"
 * (exact, case-sensitive names); other columns are ignored.
 *
 * JSON Lines: one JSON object per line, e.g. {"text": "hi", "label": "greet"};
 * an optional UTF-8 BOM; LF or CRLF line ends; other keys are ignored.
 * "text" must be a string. "label" may be a string or an integer (a JSON
 * number with an integral value, |v| < 2^53): the integer 3 is the label named
 * "3", the same label as the string "3". Blank lines are allowed only at the
 * end of the file. The escape \u0000 is rejected (texts are NUL-terminated).
 *
 * Checks, in both formats (TCF_ERR_FORMAT unless noted, message
 * "path:line: cause"): empty file; no examples; invalid UTF-8 (TCF_ERR_UTF8);
 * a text or a label that is empty or only white space; a label outside a given
 * label set; a training set (no label set given) with fewer than 2 classes.
 * Labels are compared byte for byte and never trimmed.
 *
 * Label order: a label set built from data is sorted so that it does not
 * depend on the order of the rows — numerically when every label is a
 * canonical decimal integer ("0", "7", "-2", "12"; no '+', no leading zeros, at
 * most 18 digits), so integer labels 0..K-1 get the indices 0..K-1; otherwise
 * by name in byte order (strcmp).
 */
#ifndef TCF_IO_DATASET_H
#define TCF_IO_DATASET_H

#include "tcf.h"

#include <stdint.h>
#include <stdio.h>

/* ---- label sets ----------------------------------------------------------- */

typedef struct tcf_labels tcf_labels;

/* A label set holding copies of names[0..n-1], in that order (e.g. the labels
 * of a saved model). n >= 1; an empty, duplicate or non-UTF-8 name is
 * TCF_ERR_ARG. The caller owns *out and frees it with tcf_labels_free. */
tcf_status tcf_labels_from_names(const char *const *names, int n, tcf_labels **out);
void tcf_labels_free(tcf_labels *l);
int tcf_labels_count(const tcf_labels *l);
/* Name of label i (0 <= i < count); owned by l. */
const char *tcf_labels_name(const tcf_labels *l, int i);
/* All names, (count) pointers owned by l, e.g. to copy with _from_names. */
const char *const *tcf_labels_names(const tcf_labels *l);
/* Index of the label named `name`, or -1 if absent. O(log count). */
int tcf_labels_index(const tcf_labels *l, const char *name);

/* ---- datasets --------------------------------------------------------------- */

typedef struct tcf_dataset tcf_dataset;

/* Read a labelled dataset (format and checks: see the top of this file).
 * labels == NULL: a training set; its label set is built from the data (sorted
 * as described above) and must have at least 2 classes.
 * labels != NULL: a validation / test set; every label must be in `labels`
 * (else TCF_ERR_FORMAT naming path:line and the label), and the dataset gets a
 * copy of `labels` (same order, classes absent from the file included).
 * The caller owns *out (NULL on failure) and frees it with tcf_dataset_free. */
tcf_status tcf_dataset_load(const char *path, const tcf_labels *labels, tcf_dataset **out);
void tcf_dataset_free(tcf_dataset *ds);

int tcf_dataset_count(const tcf_dataset *ds);
/* The label set; owned by ds, valid until tcf_dataset_free(ds). */
const tcf_labels *tcf_dataset_labels(const tcf_dataset *ds);
/* The file the examples came from; owned by ds. */
const char *tcf_dataset_path(const tcf_dataset *ds);
/* Example i (0 <= i < count): text (owned by ds, NUL-terminated), its length
 * in bytes, its label index, its 1-based source line. */
const char *tcf_dataset_text(const tcf_dataset *ds, int i);
size_t tcf_dataset_text_len(const tcf_dataset *ds, int i);
int tcf_dataset_label(const tcf_dataset *ds, int i);
int tcf_dataset_line(const tcf_dataset *ds, int i);
/* The same as arrays of (count) entries owned by ds, for batch calls such as
 * tcf_tokenizer_encode_batch / tcf_model_embed. */
const char *const *tcf_dataset_texts(const tcf_dataset *ds);
const size_t *tcf_dataset_text_lens(const tcf_dataset *ds);
const int32_t *tcf_dataset_label_ids(const tcf_dataset *ds);

/* counts[k] = number of examples with label k, for k < tcf_labels_count;
 * `counts` has room for that many ints. */
void tcf_dataset_class_counts(const tcf_dataset *ds, int *counts);

/* Print to f: path, n examples, n classes, min / median / max text length in
 * bytes (median: the lower middle value), then one line per class with its
 * count, most frequent first (ties in label order). */
void tcf_dataset_summary(const tcf_dataset *ds, FILE *f);

/* A new dataset with the examples idx[0..n-1] of ds (in that order; repeats
 * allowed), the same label set, path and source lines. n may be 0. Indices
 * out of range are TCF_ERR_ARG. The caller owns *out. */
tcf_status tcf_dataset_subset(const tcf_dataset *ds, const int *idx, int n, tcf_dataset **out);

/* Deterministic stratified split. For each class (in label order) with c
 * examples, its example indices are shuffled (Fisher-Yates driven by one
 * splitmix64 stream seeded with `seed`, shared across classes) and the first
 * v go to *valid, where v = floor(fraction * c + 0.5), raised to 1 and capped
 * at c - 1 when c >= 2, and 0 when c == 1 (a single example stays in train).
 * Both outputs keep the original file order and share ds's label set (each
 * holds a copy). Integer arithmetic only, apart from the one product above:
 * the same file and seed give the same split on any machine. 0 < fraction < 1,
 * else TCF_ERR_ARG. *valid is empty (count 0) when no class has 2 examples.
 * The caller owns *train and *valid (both NULL on failure). */
tcf_status tcf_dataset_split_stratified(const tcf_dataset *ds, double fraction, uint64_t seed,
                                        tcf_dataset **train, tcf_dataset **valid);

/* ---- deterministic PRNG (splitmix64, Steele et al. 2014) -------------------
 * Small and portable, for shuffles that must repeat across machines. */
static inline uint64_t tcf_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1, without modulo bias (rejection sampling). */
static inline uint64_t tcf_rng_below(uint64_t *state, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* accept r < limit */
    uint64_t r;
    do r = tcf_splitmix64(state);
    while (r >= limit);
    return r % n;
}

/* Fisher-Yates shuffle of a[0..n-1] driven by *state. */
static inline void tcf_shuffle_int(int *a, int n, uint64_t *state) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tcf_rng_below(state, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

#endif /* TCF_IO_DATASET_H */
