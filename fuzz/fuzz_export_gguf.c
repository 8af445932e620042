/*
 * fuzz_export_gguf.c — libFuzzer target for the exported-classifier loader
 * (tcf_classifier_load_gguf, src/model/export.c): the GGUF reader under it
 * is fuzzed by fuzz_gguf; this one reaches the checks of keys, shapes,
 * labels, head and tokenizer that follow. The input goes to a memfd
 * (/proc/self/fd/N: no disk), is loaded, and when it loads, two texts are
 * classified and finite probabilities are checked to sum to 1 (huge finite
 * weights, e.g. 2e37 in a LayerNorm, overflow to NaN: garbage in, garbage
 * out, not a fault; non-finite weights are refused at load).
 *
 *   make fuzz && mkdir -p fuzz/corpus-export
 *   build-fuzz/fuzz_export_gguf -max_total_time=600 -max_len=65536 fuzz/corpus-export/ fuzz/seeds/export/
 * Seeds: tests/ref/gen_export_seeds.py (tiny exports, F32 and Q8_0).
 */
#include "model/infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz.gguf", 0);
    if (fd < 0) abort();
    if (size && write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    tcf_classifier_opts o = {1, 2, 0};
    tcf_classifier *c = NULL;
    if (!tcf_classifier_load_gguf(path, &o, &c)) {
        const char *texts[2] = {"hello world", "the a b c is ?!"};
        int K = tcf_classifier_n_classes(c);
        float *p = malloc(sizeof(float) * 2 * (size_t)K);
        if (!p) abort();
        if (!tcf_classifier_classify(c, 2, texts, NULL, p))
            for (int i = 0; i < 2; i++) {
                double s = 0;
                for (int k = 0; k < K; k++) s += p[i * K + k];
                if (isfinite(s) && !(fabs(s - 1) < 1e-3)) abort();
            }
        for (int k = 0; k < K; k++)
            if (!tcf_classifier_label(c, k)) abort();
        free(p);
        tcf_classifier_free(c);
    } else if (c) {
        abort(); /* failure must leave *out NULL */
    }
    close(fd);
    return 0;
}
