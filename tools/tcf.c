/*
 * tcf.c — the command-line program: argument parsing and calls into the
 * library, nothing more.
 *
 * Input is read whole from stdin (one text per line, "\n" or "\r\n"), checked,
 * processed, and only then written, so a bad line produces an error and no
 * partial output.
 */
#include "tcf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog_usage =
    "usage: tcf COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  tokenize   print the token ids of each input line\n"
    "  embed      print a sentence embedding (JSON array) for each input line\n"
    "\n"
    "Each command reads one text per line on stdin. 'tcf COMMAND --help' lists\n"
    "its options.\n";

static const char *tokenize_usage =
    "usage: tcf tokenize --model PATH [options] < texts.txt\n"
    "\n"
    "Reads one UTF-8 text per stdin line and prints one line of space-separated\n"
    "token ids per input, with the special tokens the model's tokenizer adds by\n"
    "default ([CLS] ... [SEP] for BERT) and its truncation (tokenizer.json's\n"
    "max_length). No padding is added.\n"
    "\n"
    "options:\n"
    "  --model PATH    model directory, tokenizer.json or vocab.txt\n"
    "  --max-len N     truncate to N ids, specials included (default: the\n"
    "                  tokenizer's own setting; none if it has none)\n"
    "  --no-special    leave out the special tokens\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  -h, --help      this help\n";

static const char *embed_usage =
    "usage: tcf embed --model DIR [options] < texts.txt\n"
    "\n"
    "Reads one UTF-8 text per stdin line and prints one JSON array of floats per\n"
    "input: the pooled last hidden state of the encoder.\n"
    "\n"
    "options:\n"
    "  --model DIR           Hugging Face model directory (config.json,\n"
    "                        model.safetensors, tokenizer.json or vocab.txt)\n"
    "  --pooling mean|cls    mean over real tokens (default) or the first token\n"
    "  --normalize           L2-normalise each embedding (as sentence-transformers'\n"
    "                        Normalize module)\n"
    "  --max-len N           truncate to N tokens (default: the tokenizer's\n"
    "                        max_length, else the model's max positions)\n"
    "  --batch N             texts per forward pass (default 32)\n"
    "  --threads N           worker threads (default: all cores)\n"
    "  -h, --help            this help\n";

typedef struct {
    const char *model;
    int max_len, no_special, threads, normalize, batch;
    tcf_pooling pooling;
} opts;

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "tcf: %s needs an integer in [%d, %d], got '%s'\n", flag, lo, hi,
                s ? s : "(nothing)");
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* Returns 1 = ok, 0 = error (printed), -1 = help printed. `cmd` picks which
 * options are accepted. */
static int parse_opts(int argc, char **argv, const char *cmd, const char *usage, opts *o) {
    int embed = !strcmp(cmd, "embed");
    *o = (opts){NULL, 0, 0, 0, 0, 32, TCF_POOL_MEAN};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(a, "--model") && v) {
            o->model = v, i++;
        } else if (!strcmp(a, "--max-len")) {
            if (!parse_int(a, v, 1, 1 << 20, &o->max_len)) return 0;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (!parse_int(a, v, 1, 1024, &o->threads)) return 0;
            i++;
        } else if (!embed && !strcmp(a, "--no-special")) {
            o->no_special = 1;
        } else if (embed && !strcmp(a, "--normalize")) {
            o->normalize = 1;
        } else if (embed && !strcmp(a, "--batch")) {
            if (!parse_int(a, v, 1, 4096, &o->batch)) return 0;
            i++;
        } else if (embed && !strcmp(a, "--pooling") && v) {
            if (!strcmp(v, "mean")) o->pooling = TCF_POOL_MEAN;
            else if (!strcmp(v, "cls")) o->pooling = TCF_POOL_CLS;
            else {
                fprintf(stderr, "tcf %s: --pooling must be mean or cls, got '%s'\n", cmd, v);
                return 0;
            }
            i++;
        } else {
            fprintf(stderr, "tcf %s: unknown or incomplete option '%s'\n%s", cmd, a, usage);
            return 0;
        }
    }
    if (!o->model) {
        fprintf(stderr, "tcf %s: --model is required\n%s", cmd, usage);
        return 0;
    }
    return 1;
}

/* All of stdin, split into NUL-terminated lines (the buffer is modified). */
typedef struct {
    char *buf;
    char **lines;
    size_t *lens;
    int n;
} input;

static int read_lines(input *in) {
    size_t cap = 1 << 16, len = 0;
    memset(in, 0, sizeof *in);
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
    }
    if (!buf || ferror(stdin)) {
        fprintf(stderr, "tcf: cannot read stdin: %s\n", buf ? strerror(errno) : "out of memory");
        free(buf);
        return 0;
    }
    buf[len] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += buf[i] == '\n';
    if (len && buf[len - 1] != '\n') n++;
    if (n > INT_MAX / 2) {
        fprintf(stderr, "tcf: too many input lines\n");
        free(buf);
        return 0;
    }
    in->buf = buf;
    in->lines = malloc(sizeof(char *) * (n + 1));
    in->lens = malloc(sizeof(size_t) * (n + 1));
    if (!in->lines || !in->lens) {
        fprintf(stderr, "tcf: out of memory\n");
        return 0;
    }
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        size_t l = (size_t)(e - p);
        if (l && p[l - 1] == '\r') l--;
        p[l] = '\0';
        in->lines[in->n] = p;
        in->lens[in->n++] = l;
        p = nl ? nl + 1 : end;
    }
    return 1;
}

static void free_input(input *in) {
    free(in->buf);
    free(in->lines);
    free(in->lens);
}

static int fail_lib(const char *cmd) {
    fprintf(stderr, "tcf %s: %s\n", cmd, tcf_last_error());
    return 1;
}

/* The library names a failing text "text N: ..."; for the CLI that is stdin
 * line N. */
static int report_text_error(const char *cmd) {
    const char *e = tcf_last_error();
    int line;
    if (sscanf(e, "text %d: ", &line) == 1 && strchr(e, ':'))
        fprintf(stderr, "tcf %s: stdin:%d: %s\n", cmd, line, strchr(e, ':') + 2);
    else
        fprintf(stderr, "tcf %s: %s\n", cmd, e);
    return 1;
}

static int cmd_tokenize(int argc, char **argv) {
    opts o;
    int r = parse_opts(argc, argv, "tokenize", tokenize_usage, &o);
    if (r <= 0) return r < 0 ? 0 : 2;
    tcf_tokenizer *tok;
    if (tcf_tokenizer_load(o.model, &tok)) return fail_lib("tokenize");
    input in;
    if (!read_lines(&in)) {
        tcf_tokenizer_free(tok);
        return 1;
    }
    /* Without truncation a line can produce about one id per byte, plus specials. */
    int rc = 0;
    tcf_encode_opts eo = {!o.no_special, o.max_len};
    int32_t **ids = calloc((size_t)in.n + 1, sizeof *ids);
    int *counts = calloc((size_t)in.n + 1, sizeof *counts);
    int *caps = calloc((size_t)in.n + 1, sizeof *caps);
    for (int i = 0; i < in.n && !rc; i++) {
        caps[i] = (int)(in.lens[i] < (size_t)INT_MAX - 8 ? in.lens[i] + 8 : INT_MAX);
        if (!(ids[i] = malloc(sizeof(int32_t) * (size_t)caps[i]))) rc = 1;
    }
    if (rc) fprintf(stderr, "tcf tokenize: out of memory\n");
    else if (tcf_tokenizer_encode_batch(tok, in.n, (const char *const *)in.lines, in.lens, &eo,
                                        ids, caps, counts, o.threads))
        rc = report_text_error("tokenize");
    for (int i = 0; i < in.n && !rc; i++) {
        for (int k = 0; k < counts[i]; k++) printf(k ? " %d" : "%d", ids[i][k]);
        putchar('\n');
    }
    for (int i = 0; i < in.n; i++) free(ids[i]);
    free(ids);
    free(caps);
    free(counts);
    free_input(&in);
    tcf_tokenizer_free(tok);
    if (!rc && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "tcf tokenize: cannot write stdout\n");
        rc = 1;
    }
    return rc;
}

static int cmd_embed(int argc, char **argv) {
    opts o;
    int r = parse_opts(argc, argv, "embed", embed_usage, &o);
    if (r <= 0) return r < 0 ? 0 : 2;
    tcf_model *m;
    if (tcf_model_load(o.model, &m)) return fail_lib("embed");
    input in;
    if (!read_lines(&in)) {
        tcf_model_free(m);
        return 1;
    }
    int rc = 0, C = tcf_model_hidden_size(m);
    float *out = malloc(sizeof(float) * ((size_t)in.n * C + 1));
    if (!out) {
        fprintf(stderr, "tcf embed: out of memory\n");
        rc = 1;
    } else if (tcf_model_embed(m, in.n, (const char *const *)in.lines, o.pooling, o.normalize,
                               o.max_len, o.batch, o.threads, out)) {
        rc = report_text_error("embed");
    }
    for (int i = 0; i < in.n && !rc; i++) {
        putchar('[');
        for (int k = 0; k < C; k++) printf(k ? ",%.9g" : "%.9g", out[(size_t)i * C + k]);
        fputs("]\n", stdout);
    }
    free(out);
    free_input(&in);
    tcf_model_free(m);
    if (!rc && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "tcf embed: cannot write stdout\n");
        rc = 1;
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(prog_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(prog_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(argc, argv);
    if (!strcmp(cmd, "embed")) return cmd_embed(argc, argv);
    fprintf(stderr, "tcf: unknown command '%s'\n%s", cmd, prog_usage);
    return 2;
}
