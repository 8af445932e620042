/*
 * fuzz_quantize.c — libFuzzer target for `tcf quantize` (src/model/
 * quantize.c) on outside bytes. The first input byte picks what the rest is:
 *   even: a GGUF image (through a memfd), re-quantized to a type chosen by
 *         the second byte: metadata of every type copied, tensors decoded and
 *         encoded again;
 *   odd:  a tokenizer.json next to the tiny Llama fixture's config.json and
 *         model.safetensors (symlinked into a scratch directory), converted to
 *         tokenizer.ggml.*.
 * Whatever quantize accepts must come out as a GGUF that tcf's reader opens
 * and validates, with the input's tensor count (GGUF in); whatever it
 * refuses must leave no file at the output path.
 *
 *   make fuzz && mkdir -p fuzz/corpus-quantize && cp -r fuzz/seeds/quantize/. fuzz/corpus-quantize/
 *   build-fuzz/fuzz_quantize -max_total_time=600 -max_len=65536 fuzz/corpus-quantize/   # from the repo root
 * Seeds: fuzz/seeds/quantize/ (0x00 + tiny_llama.gguf, 0x01 + bytelevel.json).
 */
#include "model/quantize.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];

static void setup(void) {
    char cwd[PATH_MAX], p[PATH_MAX + 64], q[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "/tmp/fuzz_quantize_XXXXXX");
    if (!mkdtemp(dir) || !getcwd(cwd, sizeof cwd)) abort();
    static const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/tests/fixtures/quantize/tiny_tok/%s", cwd, files[i]);
        snprintf(q, sizeof q, "%s/%s", dir, files[i]);
        if (symlink(p, q) && access(q, F_OK)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const tcf_ggml_type types[] = {TCF_GGML_F32, TCF_GGML_F16, TCF_GGML_BF16, TCF_GGML_Q8_0,
                                          TCF_GGML_Q4_0, TCF_GGML_Q4_1};
    if (!dir[0]) setup();
    if (size < 2) return 0;
    const int tok = data[0] & 1;
    const tcf_ggml_type type = types[data[1] % 6];
    char in[PATH_MAX + 64], out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    int fd = -1;
    if (tok) {
        snprintf(in, sizeof in, "%s/tokenizer.json", dir);
        FILE *f = fopen(in, "wb");
        if (!f || fwrite(data + 2, 1, size - 2, f) != size - 2) abort();
        fclose(f);
        snprintf(in, sizeof in, "%s", dir);
    } else {
        fd = memfd_create("fuzz.gguf", 0);
        if (fd < 0 || (size > 2 && write(fd, data + 2, size - 2) != (ssize_t)(size - 2))) abort();
        snprintf(in, sizeof in, "/proc/self/fd/%d", fd);
    }
    tcf_quantize_info info;
    if (!tcf_quantize_model(in, out, type, &info)) {
        tcf_gguf *g = NULL;
        if (tcf_gguf_open(out, &g)) abort(); /* what quantize wrote, tcf must read */
        if (!tok) {
            tcf_gguf *src = NULL;
            if (tcf_gguf_open(in, &src) || tcf_gguf_tensor_count(src) != tcf_gguf_tensor_count(g)) abort();
            tcf_gguf_free(src);
        }
        tcf_gguf_free(g);
        if (remove(out)) abort();
    } else if (!access(out, F_OK)) {
        abort(); /* a failed run left a file */
    }
    if (fd >= 0) close(fd);
    return 0;
}
