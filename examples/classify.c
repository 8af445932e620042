/*
 * classify.c — the tcf C API in one page: load a trained classifier (a run
 * directory of `tcf train`, or a model file of `tcf export`), classify the
 * texts given as arguments (or one per line on stdin) in one batch, and
 * print the best label and its probability for each.
 *
 *   cc classify.c $(pkg-config --cflags --libs tcf) -o classify
 *   ./classify RUN/ "I was charged twice" "my card does not work"
 */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include <tcf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [TEXT...]   (no TEXT: one per line on stdin)\n", argv[0]);
        return 2;
    }
    /* the texts: arguments, or lines of stdin */
    int n = argc - 2, cap = 0;
    char **texts = NULL;
    if (n > 0) {
        texts = argv + 2;
    } else {
        char *line = NULL;
        size_t sz = 0;
        ssize_t len;
        while ((len = getline(&line, &sz, stdin)) > 0) {
            if (line[len - 1] == '\n') line[len - 1] = 0;
            if (n == cap && !(texts = realloc(texts, sizeof *texts * (size_t)(cap = cap ? 2 * cap : 64)))) return 1;
            texts[n++] = strdup(line);
        }
        free(line);
    }

    tcf_classifier *clf = NULL;
    tcf_classifier_opts opts = {0, 0, 0, 0, 0}; /* all cores, batches of 32, the trained max length */
    if (tcf_classifier_load(argv[1], &opts, &clf) != TCF_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], tcf_last_error());
        return 1;
    }
    const int K = tcf_classifier_n_classes(clf);
    float *probs = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * (size_t)K); /* (n, K) */
    if (!probs || tcf_classifier_classify(clf, n, (const char *const *)texts, NULL, probs) != TCF_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], probs ? tcf_last_error() : "out of memory");
        tcf_classifier_free(clf);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (p[k] > p[best]) best = k;
        printf("%s\t%.4f\t%s\n", tcf_classifier_label(clf, best), p[best], texts[i]);
    }
    free(probs);
    tcf_classifier_free(clf);
    if (argc == 2) {
        for (int i = 0; i < n; i++) free(texts[i]);
        free(texts);
    }
    return 0;
}
