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
#include <strings.h>

static const char *prog_usage =
    "usage: tcf COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  tokenize   print the token ids of each input line\n"
    "  embed      print a sentence embedding (JSON array) for each input line\n"
    "\n"
    "Each command reads one text per line on stdin, or the texts of a CSV file\n"
    "given with --input. Nothing is written unless every input succeeds.\n"
    "'tcf COMMAND --help' lists its options.\n";

static const char *tokenize_usage =
    "usage: tcf tokenize --model PATH [options] [< texts.txt]\n"
    "\n"
    "Reads one UTF-8 text per line (stdin or --input) and prints one line of\n"
    "space-separated token ids per input, with the special tokens the model's\n"
    "tokenizer adds by default ([CLS] ... [SEP] for BERT) and its truncation\n"
    "(tokenizer.json's max_length). No padding is added.\n"
    "\n"
    "options:\n"
    "  --model PATH    model directory, tokenizer.json or vocab.txt\n"
    "  --max-len N     truncate to N ids, specials included (default: the\n"
    "                  tokenizer's own setting; none if it has none)\n"
    "  --no-special    leave out the special tokens\n"
    "  --input FILE    read texts from FILE instead of stdin; a .csv file is read\n"
    "                  as RFC 4180 with a header, texts from column --column\n"
    "  --column NAME   CSV column holding the texts (default: text)\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  -h, --help      this help\n";

static const char *embed_usage =
    "usage: tcf embed --model DIR [options] [< texts.txt]\n"
    "\n"
    "Reads one UTF-8 text per line (stdin or --input) and prints one JSON array\n"
    "of floats per input: the pooled last hidden state of the encoder.\n"
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
    "  --input FILE          read texts from FILE instead of stdin; a .csv file is\n"
    "                        read as RFC 4180 with a header, texts from --column\n"
    "  --column NAME         CSV column holding the texts (default: text)\n"
    "  --threads N           worker threads (default: all cores)\n"
    "  -h, --help            this help\n";

typedef struct {
    const char *model, *input, *column;
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
    *o = (opts){NULL, NULL, "text", 0, 0, 0, 0, 32, TCF_POOL_MEAN};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (!strcmp(a, "--model") && v) {
            o->model = v, i++;
        } else if (!strcmp(a, "--input") && v) {
            o->input = v, i++;
        } else if (!strcmp(a, "--column") && v) {
            o->column = v, i++;
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
    const char *source; /* "stdin" or the file name, for errors */
    char *buf;
    char **lines;
    size_t *lens;
    int *line_no;       /* source line of each text (CSV: where its row starts) */
    int n;
    tcf_table *table;   /* when read from CSV: owns the texts */
} input;

static int read_csv(input *in, const char *path, const char *column) {
    memset(in, 0, sizeof *in);
    in->source = path;
    if (tcf_csv_read(path, &in->table)) {
        fprintf(stderr, "tcf: %s\n", tcf_last_error());
        return 0;
    }
    int col = tcf_table_column(in->table, column), n = tcf_table_rows(in->table);
    if (col < 0) {
        fprintf(stderr, "tcf: %s:1: no column \"%s\" in the header\n", path, column);
        return 0;
    }
    in->lines = malloc(sizeof(char *) * ((size_t)n + 1));
    in->lens = malloc(sizeof(size_t) * ((size_t)n + 1));
    in->line_no = malloc(sizeof(int) * ((size_t)n + 1));
    if (!in->lines || !in->lens || !in->line_no) {
        fprintf(stderr, "tcf: out of memory\n");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        in->lines[i] = (char *)tcf_table_cell(in->table, i, col);
        in->lens[i] = strlen(in->lines[i]);
        in->line_no[i] = tcf_table_line(in->table, i);
    }
    in->n = n;
    return 1;
}

/* Plain text: one text per line of `path` ("-" or NULL: stdin). */
static int read_lines(input *in, const char *path) {
    size_t cap = 1 << 16, len = 0;
    memset(in, 0, sizeof *in);
    FILE *fp = stdin;
    in->source = "stdin";
    if (path && strcmp(path, "-")) {
        if (!(fp = fopen(path, "rb"))) {
            fprintf(stderr, "tcf: %s: cannot open: %s\n", path, strerror(errno));
            return 0;
        }
        in->source = path;
    }
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
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
    int read_err = ferror(fp);
    if (fp != stdin) fclose(fp);
    if (!buf || read_err) {
        fprintf(stderr, "tcf: cannot read %s: %s\n", in->source, buf ? strerror(errno) : "out of memory");
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
    in->line_no = malloc(sizeof(int) * (n + 1));
    if (!in->lines || !in->lens || !in->line_no) {
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
        in->line_no[in->n] = in->n + 1;
        in->lens[in->n++] = l;
        p = nl ? nl + 1 : end;
    }
    return 1;
}

static int read_input(input *in, const char *path, const char *column) {
    size_t n = path ? strlen(path) : 0;
    if (n > 4 && !strcasecmp(path + n - 4, ".csv")) return read_csv(in, path, column);
    return read_lines(in, path);
}

static void free_input(input *in) {
    free(in->buf);
    free(in->lines);
    free(in->lens);
    free(in->line_no);
    tcf_table_free(in->table);
}

static int fail_lib(const char *cmd) {
    fprintf(stderr, "tcf %s: %s\n", cmd, tcf_last_error());
    return 1;
}

/* The library names a failing text "text N: ..."; for the CLI that is a line
 * of the input. */
static int report_text_error(const char *cmd, const input *in) {
    const char *e = tcf_last_error();
    int idx;
    if (sscanf(e, "text %d: ", &idx) == 1 && idx >= 1 && idx <= in->n && strchr(e, ':'))
        fprintf(stderr, "tcf %s: %s:%d: %s\n", cmd, in->source, in->line_no[idx - 1], strchr(e, ':') + 2);
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
    if (!read_input(&in, o.input, o.column)) {
        free_input(&in);
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
        rc = report_text_error("tokenize", &in);
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
    if (!read_input(&in, o.input, o.column)) {
        free_input(&in);
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
        rc = report_text_error("embed", &in);
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
