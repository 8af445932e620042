/*
 * tcf.c — the command-line program: argument parsing and calls into the
 * library, nothing more.
 *
 * Input is read whole from stdin (one text per line, "\n" or "\r\n"), checked,
 * processed, and only then written, so a bad line produces an error and no
 * partial output.
 */
#include "tcf.h"
#include "eval/metrics.h"
#include "io/dataset.h"
#include "model/llama.h"
#include "train/trainer.h"
#include "model/export.h"
#include "model/quantize.h"
#include "base/base.h"
#include "base/atomic_file.h"
#include "serve/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <cjson/cJSON.h>
#include <math.h>
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
    "  train      fine-tune a classifier with LoRA on a labelled CSV / JSONL file\n"
    "  eval       accuracy, macro-F1, per-class scores and confusion matrix of a run\n"
    "  predict    label each input line with a trained run\n"
    "  inspect    print the metadata and tensor table of a GGUF file\n"
    "  serve      HTTP API for a trained run (POST /v1/classify, /healthz, /metrics)\n"
    "  export     write a trained run as one .gguf file, or as a PEFT adapter\n"
    "  quantize   convert a checkpoint (HF directory or .gguf) to one quantized .gguf\n"
    "\n"
    "tokenize, embed and predict read one text per line on stdin, or the texts of\n"
    "a CSV file given with --input. Nothing is written unless every input\n"
    "succeeds.\n"
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
    "  --model PATH    model directory, tokenizer.json (WordPiece or BPE),\n"
    "                  vocab.txt, or a .gguf file (its tokenizer.ggml.* keys)\n"
    "  --max-len N     truncate to N ids, specials included (default: the\n"
    "                  tokenizer's own setting; none if it has none)\n"
    "  --no-special    leave out the special tokens (CLS/SEP, BOS/EOS)\n"
    "  --input FILE    read texts from FILE instead of stdin; a .csv file is read\n"
    "                  as RFC 4180 with a header, texts from column --column\n"
    "  --column NAME   CSV column holding the texts (default: text)\n"
    "  --threads N     worker threads (default: all cores)\n"
    "  -h, --help      this help\n";

static const char *embed_usage =
    "usage: tcf embed --model DIR [options] [< texts.txt]\n"
    "       tcf embed --model FILE.gguf|DIR --ids [options] [< ids.txt]\n"
    "\n"
    "Reads one UTF-8 text per line (stdin or --input) and prints one JSON array\n"
    "of floats per input: the pooled last hidden state of the model.\n"
    "With --ids each line is a sequence of space-separated token ids instead\n"
    "(used as given: no special tokens added). Decoders (Llama, Qwen2, Phi-3,\n"
    "from a .gguf file or a Hugging Face directory) tokenize text with their\n"
    "own BPE tokenizer (GGUF tokenizer.ggml.* keys or tokenizer.json); one\n"
    "without a tokenizer takes --ids only.\n"
    "\n"
    "options:\n"
    "  --model DIR           Hugging Face model directory (config.json,\n"
    "                        model.safetensors, tokenizer.json or vocab.txt),\n"
    "                        or a decoder's .gguf file\n"
    "  --ids                 input lines are token ids, not text (--max-len\n"
    "                        keeps the first N of each)\n"
    "  --pooling P           mean over real tokens (default), cls (the first\n"
    "                        token) or last (the last real token, as\n"
    "                        LlamaForSequenceClassification)\n"
    "  --normalize           L2-normalise each embedding (as sentence-transformers'\n"
    "                        Normalize module)\n"
    "  --max-len N           truncate to N tokens (default: the tokenizer's\n"
    "                        max_length, else the model's max positions;\n"
    "                        decoders: 512)\n"
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
    int ids; /* embed --ids: input lines are token ids */
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
    *o = (opts){NULL, NULL, "text", 0, 0, 0, 0, 32, TCF_POOL_MEAN, 0};
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
        } else if (embed && !strcmp(a, "--ids")) {
            o->ids = 1;
        } else if (embed && !strcmp(a, "--batch")) {
            if (!parse_int(a, v, 1, 4096, &o->batch)) return 0;
            i++;
        } else if (embed && !strcmp(a, "--pooling") && v) {
            if (!strcmp(v, "mean")) o->pooling = TCF_POOL_MEAN;
            else if (!strcmp(v, "cls")) o->pooling = TCF_POOL_CLS;
            else if (!strcmp(v, "last")) o->pooling = TCF_POOL_LAST;
            else {
                fprintf(stderr, "tcf %s: --pooling must be mean, cls or last, got '%s'\n", cmd, v);
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
    /* Without truncation a line can produce about one id per byte, plus specials
     * (three per byte when a SentencePiece ' ' -> U+2581 falls back to bytes). */
    int rc = 0;
    tcf_encode_opts eo = {!o.no_special, o.max_len};
    int32_t **ids = calloc((size_t)in.n + 1, sizeof *ids);
    int *counts = calloc((size_t)in.n + 1, sizeof *counts);
    int *caps = calloc((size_t)in.n + 1, sizeof *caps);
    for (int i = 0; i < in.n && !rc; i++) {
        caps[i] = (int)(in.lens[i] < (size_t)INT_MAX / 4 ? in.lens[i] * 3 + 8 : INT_MAX);
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

/* embed --ids: each input line as space-separated token ids in [0, 2^31).
 * Returns 0, or 1 after printing "SOURCE:LINE: cause". */
static int parse_id_lines(const input *in, int32_t ***ids_out, int **lens_out) {
    int32_t **ids = calloc((size_t)in->n + 1, sizeof *ids);
    int *lens = calloc((size_t)in->n + 1, sizeof *lens);
    *ids_out = ids, *lens_out = lens;
    if (!ids || !lens) {
        fprintf(stderr, "tcf embed: out of memory\n");
        return 1;
    }
    for (int i = 0; i < in->n; i++) {
        const char *p = in->lines[i];
        if (!(ids[i] = malloc(sizeof(int32_t) * (in->lens[i] / 2 + 1)))) {
            fprintf(stderr, "tcf embed: out of memory\n");
            return 1;
        }
        for (;;) {
            while (*p == ' ' || *p == '\t') p++;
            if (!*p) break;
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ' ' && *end != '\t')) {
                int n = (int)strcspn(p, " \t");
                fprintf(stderr, "tcf embed: %s:%d: '%.*s' is not a token id (a non-negative integer)\n",
                        in->source, in->line_no[i], n > 40 ? 40 : n, p);
                return 1;
            }
            ids[i][lens[i]++] = (int32_t)v;
            p = end;
        }
    }
    return 0;
}

/* --max-len N on token ids: keep the first N of each sequence. */
static void truncate_ids(int n, int *lens, int max_len) {
    for (int i = 0; max_len > 0 && i < n; i++)
        if (lens[i] > max_len) lens[i] = max_len;
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
    int32_t **ids = NULL;
    int *lens = NULL;
    if (!out) {
        fprintf(stderr, "tcf embed: out of memory\n");
        rc = 1;
    } else if (o.ids) {
        if (!(rc = parse_id_lines(&in, &ids, &lens))) truncate_ids(in.n, lens, o.max_len);
        if (!rc && tcf_model_embed_ids(m, in.n, (const int32_t *const *)ids, lens, o.pooling, o.normalize, o.batch,
                                o.threads, out))
            rc = report_text_error("embed", &in);
    } else if (tcf_model_embed(m, in.n, (const char *const *)in.lines, o.pooling, o.normalize,
                               o.max_len, o.batch, o.threads, out)) {
        rc = report_text_error("embed", &in);
    }
    for (int i = 0; ids && i < in.n; i++) free(ids[i]);
    free(ids);
    free(lens);
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

static const char *train_usage =
    "usage: tcf train --model DIR --train FILE --out RUN/ [options]\n"
    "       tcf train --resume RUN/ [--threads N] [--checkpoint-steps N] [--checkpoint-secs S]\n"
    "\n"
    "Fine-tunes a BERT-family checkpoint as a sequence classifier\n"
    "(BertForSequenceClassification: pooler on [CLS], then a linear classifier;\n"
    "dropout as in its train mode), in one of three modes (--mode):\n"
    "  lora  PEFT's LoRA adapters + the head (default)\n"
    "  head  the head only, on the frozen encoder (a linear probe: no encoder\n"
    "        backward, the fastest)\n"
    "  full  every weight: embeddings, encoder, pooler and head (the slowest;\n"
    "        its default --lr is 5e-5)\n"
    "Data: CSV with header text,label (RFC 4180, BOM, CRLF or LF) or JSON Lines\n"
    "{\"text\": ..., \"label\": ...}. Labels are taken from the training file; a\n"
    "valid label never seen in training is an error.\n"
    "RUN/ receives, atomically, for the best epoch by validation macro-F1:\n"
    "tcf_run.json (labels, settings, metrics per epoch) and the weights:\n"
    "  lora  adapter_config.json + adapter_model.safetensors (PEFT format)\n"
    "  head  classifier.safetensors (classifier.weight, classifier.bias)\n"
    "  full  model.safetensors + config.json (a transformers\n"
    "        BertForSequenceClassification directory)\n"
    "train_state.safetensors holds the last weights, optimiser state and loop\n"
    "position: --resume continues a run that was interrupted (even by kill -9)\n"
    "from it, with the run's own options and data, and ends with the same\n"
    "weights as an uninterrupted run.\n"
    "\n"
    "options:\n"
    "  --model DIR            base checkpoint (config.json, model.safetensors, tokenizer)\n"
    "  --train FILE           training data\n"
    "  --valid FILE           validation data (default: a stratified split of train)\n"
    "  --valid-fraction X     share of train held out when --valid is absent (0.1)\n"
    "  --out DIR              run directory to write\n"
    "  --mode M               lora | head | full (lora)\n"
    "  --epochs N             (3)          --batch N        examples per step (32)\n"
    "  --accum N              gradient accumulation micro-batches per step (1)\n"
    "  --lr X                 peak learning rate (lora 1e-3, head 1e-2, full 5e-5)\n"
    "  --schedule S           linear | cosine | constant, after warm-up (linear)\n"
    "  --warmup-ratio X       share of steps spent warming up (0.06)\n"
    "  --weight-decay X       AdamW decoupled weight decay (0.01)\n"
    "  --clip X               clip the global gradient norm to X; 0 = off (1.0)\n"
    "  --label-smoothing X    (0)\n"
    "  --class-weights W      loss weight per class: balanced (n / (classes * count))\n"
    "                         or LABEL=X,LABEL=X,... (unlisted classes 1) (none)\n"
    "  --dropout P            hidden and classifier dropout while training (0.1)\n"
    "  --attn-dropout P       dropout on attention probabilities (0.1)\n"
    "  --lora-dropout P       dropout on each LoRA module's input (0)\n"
    "  --max-len N            tokens per text, longer texts are truncated (128)\n"
    "  --lora-r N             (8)          --lora-alpha X   (16)   (lora only)\n"
    "  --rslora               scale by alpha/sqrt(r) instead of alpha/r\n"
    "  --targets LIST         comma-separated: query,key,value,attention.output.dense,\n"
    "                         intermediate.dense,output.dense, or all (all)\n"
    "  --init-adapter DIR     start LoRA training from a PEFT adapter (PEFT's or\n"
    "                         tcf's adapter_config.json + adapter_model.safetensors;\n"
    "                         --lora-r/--lora-alpha/--targets must match it; class k\n"
    "                         of its head is label k in sorted label order)\n"
    "  --patience N           stop after N epochs without improvement; 0 = never (2)\n"
    "  --seed N               (42)         --threads N      (all cores)\n"
    "  --checkpoint-secs S    write the resumable checkpoint every S seconds (60)\n"
    "  --checkpoint-steps N   ... and every N optimizer steps; 0 = off (0)\n"
    "                         (it is always written after each epoch)\n"
    "  --resume RUN/          continue the interrupted run in RUN/\n"
    "  -h, --help             this help\n"
    "\n"
    "Decoders: --model may also be a Llama-family decoder (a llama .gguf file, or a\n"
    "llama / qwen2 / phi3 directory): LlamaForSequenceClassification (the last real\n"
    "token's hidden state -> a `score` linear, no bias; --dropout and\n"
    "--attn-dropout do not apply) with LoRA on q_proj k_proj v_proj o_proj\n"
    "gate_proj up_proj down_proj of every layer (PEFT key names; --lora-dropout\n"
    "drops each adapter's input as PEFT does; --targets, --rslora and modes other\n"
    "than lora are not available for decoders; --init-adapter takes a decoder\n"
    "adapter). The frozen base can stay quantized\n"
    "(QLoRA: products decode the blocks on the fly, forward and backward):\n"
    "  --quant Q              keep (the GGUF's own Q8_0/Q4_0/Q4_1 blocks; the\n"
    "                         default, needs such a file) | f32 | q8_0 | q4_0 | q4_1 |\n"
    "                         nf4 (bitsandbytes' NF4, blocks of 64)\n"
    "  --double-quant         nf4: quantize the block scales too (compress_statistics)\n"
    "  --no-recompute         keep every layer's activations for the backward\n"
    "                         (faster, ~L times the activation memory); by default\n"
    "                         each layer's forward runs again in the backward\n"
    "  --pooling P            what the score head reads: last (the last real\n"
    "                         token, as transformers; the default) or mean (the\n"
    "                         mean of the final hidden states over the real tokens)\n";

#define QPATH_HELP                                                                     \
    "--qpath: how a Q8_0 / Q4_0 / Q4_K export multiplies by its weights: decode\n"   \
    "(exact, the probabilities of the widened f32 model), int8 (inputs rounded to\n"  \
    "Q8_0, integer block dot products: faster, slightly different probabilities)\n"   \
    "or auto (default: int8 for small batches, decode for large; docs/BENCHMARKS.md).\n" \
    "On an f32 / f16 / bf16 encoder int8 makes the dense weights per-row int8 at\n"     \
    "load and rounds each product's input rows to int8, one scale per row (the\n"     \
    "fastest CPU path at small batches; slightly different probabilities); auto and\n" \
    "decode leave it f32.\n"

static const char *eval_usage =
    "usage: tcf eval --model RUN/ --data FILE [--report FILE.json] [--threads N]\n"
    "                [--qpath auto|decode|int8]\n"
    "\n"
    "Prints accuracy, macro-F1 and per-class precision / recall / F1 of a trained\n"
    "run on a labelled file, and writes the full report (with the confusion\n"
    "matrix) as JSON to --report.\n"
    QPATH_HELP;

static const char *predict_usage =
    "usage: tcf predict --model RUN/ [--top K] [--input FILE] [--threads N]\n"
    "                   [--abstain-below P] [--qpath auto|decode|int8] < texts\n"
    "\n"
    "Reads one text per line (or JSON Lines objects with a \"text\" field, or a\n"
    "CSV file given with --input) and writes one JSON object per input:\n"
    "  {\"label\": ..., \"score\": ..., \"top\": [[label, score], ...][, \"abstain\": B]}\n"
    "--top K sets how many classes \"top\" lists (default 3). \"abstain\" is true when\n"
    "the score is below --abstain-below P (default: the model's tcf.abstain_below;\n"
    "absent when neither is set).\n"
    QPATH_HELP;

/* Generic flag lookup for the train / eval / predict commands. */
static const char *flag_value(int argc, char **argv, int *i, const char *name) {
    if (strcmp(argv[*i], name)) return NULL;
    if (*i + 1 >= argc) return "";
    return argv[++*i];
}

/* --qpath auto|decode|int8 -> tcf_qpath. */
static int parse_qpath(const char *s, int *out) {
    static const char *names[] = {"auto", "decode", "int8"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = i; /* TCF_QPATH_AUTO, _DECODE, _INT8 */
            return 1;
        }
    fprintf(stderr, "tcf: --qpath needs auto, decode or int8, got '%s'\n", s ? s : "");
    return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || errno || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "tcf: %s needs a number in [%g, %g], got '%s'\n", flag, lo, hi, s ? s : "");
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_targets(const char *s, unsigned *out) {
    if (!strcmp(s, "all")) {
        *out = (1u << TCF_LORA_KINDS) - 1;
        return 1;
    }
    unsigned t = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < TCF_LORA_KINDS && strcmp(tok, tcf_lora_kind_names[k])) k++;
        if (k == TCF_LORA_KINDS) {
            fprintf(stderr, "tcf train: unknown --targets entry '%s' (known: query, key, value, "
                            "attention.output.dense, intermediate.dense, output.dense, all)\n", tok);
            return 0;
        }
        t |= 1u << k;
    }
    if (!t) {
        fprintf(stderr, "tcf train: --targets is empty\n");
        return 0;
    }
    *out = t;
    return 1;
}

static int cmd_train(int argc, char **argv) {
    tcf_train_opts o;
    tcf_train_defaults(&o);
    const char *resume = NULL, *other = NULL;
    int threads = -1, ck_steps = -1;
    double ck_secs = -1;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char *v;
        double d;
        int n;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(train_usage, stdout);
            return 0;
        } else if ((v = flag_value(argc, argv, &i, "--model"))) o.model_dir = v;
        else if ((v = flag_value(argc, argv, &i, "--train"))) o.train_path = v;
        else if ((v = flag_value(argc, argv, &i, "--valid"))) o.valid_path = v;
        else if ((v = flag_value(argc, argv, &i, "--out"))) o.out_dir = v;
        else if ((v = flag_value(argc, argv, &i, "--epochs"))) { if (!parse_int("--epochs", v, 1, 10000, &o.epochs)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--batch"))) { if (!parse_int("--batch", v, 1, 4096, &o.batch)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--accum"))) { if (!parse_int("--accum", v, 1, 1024, &o.accum)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--max-len"))) { if (!parse_int("--max-len", v, 3, 1 << 16, &o.max_len)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--lora-r"))) { if (!parse_int("--lora-r", v, 1, 4096, &o.lora_r)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--patience"))) { if (!parse_int("--patience", v, 0, 10000, &o.patience)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--threads"))) { if (!parse_int("--threads", v, 1, 1024, &o.threads)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--seed"))) { if (!parse_int("--seed", v, 0, INT_MAX, &n)) return 2; o.seed = (uint64_t)n; }
        else if ((v = flag_value(argc, argv, &i, "--lr"))) { if (!parse_double("--lr", v, 1e-12, 10, &o.lr)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--weight-decay"))) { if (!parse_double("--weight-decay", v, 0, 10, &o.weight_decay)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--warmup-ratio"))) { if (!parse_double("--warmup-ratio", v, 0, 1, &o.warmup_ratio)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--clip"))) { if (!parse_double("--clip", v, 0, 1e9, &o.clip)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--valid-fraction"))) { if (!parse_double("--valid-fraction", v, 1e-6, 0.9, &o.valid_fraction)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--lora-alpha"))) { if (!parse_double("--lora-alpha", v, 1e-6, 1e6, &d)) return 2; o.lora_alpha = (float)d; }
        else if ((v = flag_value(argc, argv, &i, "--label-smoothing"))) { if (!parse_double("--label-smoothing", v, 0, 0.99, &d)) return 2; o.label_smoothing = (float)d; }
        else if ((v = flag_value(argc, argv, &i, "--dropout"))) { if (!parse_double("--dropout", v, 0, 0.9, &d)) return 2; o.dropout = (float)d; }
        else if ((v = flag_value(argc, argv, &i, "--attn-dropout"))) { if (!parse_double("--attn-dropout", v, 0, 0.9, &d)) return 2; o.attn_dropout = (float)d; }
        else if ((v = flag_value(argc, argv, &i, "--lora-dropout"))) { if (!parse_double("--lora-dropout", v, 0, 0.9, &d)) return 2; o.lora_dropout = (float)d; }
        else if ((v = flag_value(argc, argv, &i, "--targets"))) { if (!parse_targets(v, &o.targets)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--class-weights"))) o.class_weights = v;
        else if ((v = flag_value(argc, argv, &i, "--resume"))) resume = v;
        else if ((v = flag_value(argc, argv, &i, "--init-adapter"))) o.init_adapter = v;
        else if ((v = flag_value(argc, argv, &i, "--checkpoint-steps"))) { if (!parse_int("--checkpoint-steps", v, 0, INT_MAX, &ck_steps)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--checkpoint-secs"))) { if (!parse_double("--checkpoint-secs", v, 0, 1e9, &ck_secs)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--schedule"))) {
            int k = tcf_lr_kind_parse(v);
            if (k < 0) { fprintf(stderr, "tcf train: --schedule must be linear, cosine or constant\n"); return 2; }
            o.schedule = (tcf_lr_kind)k;
        } else if ((v = flag_value(argc, argv, &i, "--mode"))) {
            int k = tcf_train_mode_parse(v);
            if (k < 0) { fprintf(stderr, "tcf train: --mode must be lora, head or full, got '%s'\n", v); return 2; }
            o.mode = (tcf_train_mode)k;
        } else if (!strcmp(argv[i], "--rslora")) o.use_rslora = 1;
        else if (!strcmp(argv[i], "--double-quant")) o.double_quant = 1;
        else if (!strcmp(argv[i], "--no-recompute")) o.recompute = 0;
        else if ((v = flag_value(argc, argv, &i, "--pooling"))) {
            if (strcmp(v, "last") && strcmp(v, "mean")) {
                fprintf(stderr, "tcf train: --pooling must be last or mean, got '%s'\n", v);
                return 2;
            }
            o.pooling = !strcmp(v, "mean") ? TCF_POOL_MEAN : TCF_POOL_LAST;
        }
        else if ((v = flag_value(argc, argv, &i, "--quant"))) {
            int q = !strcmp(v, "keep") ? TCF_LLAMA_KEEP : !strcmp(v, "f32") ? TCF_LLAMA_F32 : -3;
            for (int t = TCF_QTYPE_Q8_0; t <= TCF_QTYPE_NF4; t++)
                if (!strcmp(v, tcf_qtype_name((tcf_qtype)t))) q = t;
            if (q == -3) {
                fprintf(stderr, "tcf train: --quant must be keep, f32, q8_0, q4_0, q4_1 or nf4, got '%s'\n", v);
                return 2;
            }
            o.quant = q;
        } else {
            fprintf(stderr, "tcf train: unknown or incomplete option '%s'\n%s", argv[i], train_usage);
            return 2;
        }
        if (strcmp(arg, "--resume") && strcmp(arg, "--threads") && strncmp(arg, "--checkpoint-", 13)) other = arg;
        if (!strcmp(arg, "--threads")) threads = o.threads;
    }
    if (ck_steps >= 0) o.checkpoint_steps = ck_steps;
    if (ck_secs >= 0) o.checkpoint_secs = ck_secs;
    if (resume) {
        if (other) {
            fprintf(stderr, "tcf train: --resume continues with the run's own options; only --threads and "
                    "--checkpoint-* may be given, not %s\n", other);
            return 2;
        }
        if (tcf_train_opts_from_run(resume, &o)) return fail_lib("train");
        if (threads > 0) o.threads = threads;
        if (ck_steps >= 0) o.checkpoint_steps = ck_steps;
        if (ck_secs >= 0) o.checkpoint_secs = ck_secs;
        int rc = tcf_train_run(&o, stderr) ? fail_lib("train") : 0;
        tcf_train_opts_release(&o);
        return rc;
    }
    if (!o.model_dir || !o.train_path || !o.out_dir || !*o.model_dir || !*o.train_path || !*o.out_dir) {
        fprintf(stderr, "tcf train: --model, --train and --out are required\n%s", train_usage);
        return 2;
    }
    if (tcf_train_run(&o, stderr)) return fail_lib("train");
    return 0;
}

/* The class names of c as an array (caller frees the array, not the names). */
static const char **label_names(const tcf_classifier *c) {
    int K = tcf_classifier_n_classes(c);
    const char **names = malloc(sizeof *names * ((size_t)K + 1));
    for (int k = 0; names && k < K; k++) names[k] = tcf_classifier_label(c, k);
    return names;
}

static int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *report = NULL;
    int threads = 0, qpath = TCF_QPATH_AUTO;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(eval_usage, stdout);
            return 0;
        } else if ((v = flag_value(argc, argv, &i, "--model"))) model = v;
        else if ((v = flag_value(argc, argv, &i, "--data"))) data = v;
        else if ((v = flag_value(argc, argv, &i, "--report"))) report = v;
        else if ((v = flag_value(argc, argv, &i, "--qpath"))) { if (!parse_qpath(v, &qpath)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--threads"))) { if (!parse_int("--threads", v, 1, 1024, &threads)) return 2; }
        else {
            fprintf(stderr, "tcf eval: unknown or incomplete option '%s'\n%s", argv[i], eval_usage);
            return 2;
        }
    }
    if (!model || !data || !*model || !*data) {
        fprintf(stderr, "tcf eval: --model and --data are required\n%s", eval_usage);
        return 2;
    }
    tcf_classifier *r = NULL;
    const char **names = NULL;
    tcf_labels *labels = NULL;
    tcf_dataset *ds = NULL;
    tcf_metrics *mt = NULL;
    float *probs = NULL;
    int32_t *pred = NULL;
    int rc = 1;
    tcf_classifier_opts co = {threads, 0, 0, 0, qpath};
    if (tcf_classifier_load(model, &co, &r) || !(names = label_names(r)) ||
        tcf_labels_from_names(names, tcf_classifier_n_classes(r), &labels) ||
        tcf_dataset_load(data, labels, &ds)) {
        fail_lib("eval");
        goto done;
    }
    int n = tcf_dataset_count(ds), K = tcf_classifier_n_classes(r);
    probs = malloc(sizeof(float) * ((size_t)n * K + 1));
    pred = malloc(sizeof(int32_t) * ((size_t)n + 1));
    if (!probs || !pred) {
        fprintf(stderr, "tcf eval: out of memory\n");
        goto done;
    }
    double t0 = tcf_now();
    if (tcf_classifier_classify(r, n, tcf_dataset_texts(ds), NULL, probs)) {
        fail_lib("eval");
        goto done;
    }
    double dt = tcf_now() - t0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (probs[(int64_t)i * K + k] > probs[(int64_t)i * K + best]) best = k;
        pred[i] = best;
    }
    /* dataset label ids index the run's label order (same tcf_labels) */
    if (tcf_metrics_compute(n, tcf_dataset_label_ids(ds), pred, K, &mt)) {
        fail_lib("eval");
        goto done;
    }
    printf("%s: %d examples, accuracy %.4f, macro-F1 %.4f (%.1f texts/s)\n", data, n, mt->accuracy, mt->macro_f1,
           n / dt);
    printf("%-32s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < K; k++)
        printf("%-32s %9.4f %9.4f %9.4f %8lld\n", names[k], mt->precision[k], mt->recall[k], mt->f1[k],
               (long long)mt->support[k]);
    if (report) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&buf, &len);
        if (mf) {
            tcf_metrics_write_json(mt, names, mf);
            fclose(mf);
        }
        if (!mf || tcf_atomic_write_file(report, buf, len)) {
            free(buf);
            fail_lib("eval");
            goto done;
        }
        free(buf);
        printf("report: %s\n", report);
    }
    rc = fflush(stdout) ? 1 : 0;
done:
    tcf_metrics_free(mt);
    free(probs), free(pred);
    tcf_dataset_free(ds);
    tcf_labels_free(labels);
    free(names);
    tcf_classifier_free(r);
    return rc;
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmd_predict(int argc, char **argv) {
    const char *model = NULL, *in_path = NULL;
    int threads = 0, top = 3, qpath = TCF_QPATH_AUTO;
    double abstain = -1;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(predict_usage, stdout);
            return 0;
        } else if ((v = flag_value(argc, argv, &i, "--model"))) model = v;
        else if ((v = flag_value(argc, argv, &i, "--input"))) in_path = v;
        else if ((v = flag_value(argc, argv, &i, "--abstain-below"))) { if (!parse_double("--abstain-below", v, 0, 1, &abstain)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--qpath"))) { if (!parse_qpath(v, &qpath)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--top"))) { if (!parse_int("--top", v, 1, 100000, &top)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--threads"))) { if (!parse_int("--threads", v, 1, 1024, &threads)) return 2; }
        else {
            fprintf(stderr, "tcf predict: unknown or incomplete option '%s'\n%s", argv[i], predict_usage);
            return 2;
        }
    }
    if (!model || !*model) {
        fprintf(stderr, "tcf predict: --model is required\n%s", predict_usage);
        return 2;
    }
    tcf_classifier *r = NULL;
    tcf_classifier_opts co = {threads, 0, 0, 0, qpath};
    if (tcf_classifier_load(model, &co, &r)) return fail_lib("predict");
    if (abstain < 0) abstain = tcf_classifier_abstain_below(r);
    input in;
    if (!read_input(&in, in_path, "text")) {
        free_input(&in);
        tcf_classifier_free(r);
        return 1;
    }
    /* JSON Lines: a line starting with '{' is an object with a "text" string. */
    int rc = 0;
    cJSON **objs = calloc((size_t)in.n + 1, sizeof *objs);
    for (int i = 0; i < in.n && !rc; i++) {
        const char *p = in.lines[i];
        while (*p == ' ' || *p == '\t') p++;
        if (*p != '{') continue;
        objs[i] = cJSON_Parse(p);
        const cJSON *t = objs[i] ? cJSON_GetObjectItemCaseSensitive(objs[i], "text") : NULL;
        if (!cJSON_IsString(t)) {
            fprintf(stderr, "tcf predict: %s:%d: a line starting with '{' must be a JSON object with a \"text\" string\n",
                    in.source, in.line_no[i]);
            rc = 1;
        } else {
            in.lines[i] = t->valuestring;
        }
    }
    int K = tcf_classifier_n_classes(r);
    float *probs = malloc(sizeof(float) * ((size_t)in.n * K + 1));
    if (!rc && !probs) {
        fprintf(stderr, "tcf predict: out of memory\n");
        rc = 1;
    }
    if (!rc && tcf_classifier_classify(r, in.n, (const char *const *)in.lines, NULL, probs))
        rc = report_text_error("predict", &in);
    const char **names = label_names(r);
    if (!names) rc = fail_lib("predict");
    int *idx = malloc(sizeof(int) * (size_t)K);
    if (top > K) top = K;
    for (int i = 0; i < in.n && !rc && idx; i++) {
        const float *p = probs + (int64_t)i * K;
        for (int k = 0; k < K; k++) idx[k] = k;
        for (int a = 0; a < top; a++) /* partial selection sort: top is small */
            for (int b = a + 1; b < K; b++)
                if (p[idx[b]] > p[idx[a]]) {
                    int t = idx[a];
                    idx[a] = idx[b], idx[b] = t;
                }
        fputs("{\"label\": ", stdout);
        json_str(names[idx[0]]);
        printf(", \"score\": %.6f, \"top\": [", p[idx[0]]);
        for (int a = 0; a < top; a++) {
            printf(a ? ", [" : "[");
            json_str(names[idx[a]]);
            printf(", %.6f]", p[idx[a]]);
        }
        fputs("]", stdout);
        if (abstain >= 0) printf(", \"abstain\": %s", p[idx[0]] < abstain ? "true" : "false");
        fputs("}\n", stdout);
    }
    for (int i = 0; i < in.n; i++) cJSON_Delete(objs[i]);
    free(objs), free(idx), free(probs), free(names);
    free_input(&in);
    tcf_classifier_free(r);
    if (!rc && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "tcf predict: cannot write stdout\n");
        rc = 1;
    }
    return rc;
}

static const char *inspect_usage =
    "usage: tcf inspect [--max-array N] FILE.gguf\n"
    "\n"
    "Validates a GGUF file and prints its header, every metadata key with its\n"
    "type and value (strings quoted and escaped, long ones cut at 80 bytes;\n"
    "arrays show their first N elements), then the tensor table: name, ggml\n"
    "type, shape in ggml order (ne[0] = row length first), offset in the data\n"
    "section and size in bytes.\n"
    "\n"
    "options:\n"
    "  --max-array N   array elements shown per array (default 8)\n"
    "  -h, --help      this help\n";

/* A string with quotes, backslashes and control bytes escaped, cut after
 * `cap` bytes; in double quotes when `quote`. */
static void print_escaped(const char *s, size_t len, size_t cap, int quote) {
    if (quote) putchar('"');
    for (size_t i = 0; i < len && i < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    if (quote) putchar('"');
    if (len > cap) printf("...(%zu bytes)", len);
}

static void print_value(const tcf_gguf_value *v, int max_array) {
    int64_t i;
    uint64_t u;
    double d;
    int b;
    const char *s;
    size_t len;
    switch (tcf_gguf_value_type(v)) {
    case TCF_GGUF_STRING:
        tcf_gguf_value_str(v, &s, &len);
        print_escaped(s, len, 80, 1);
        break;
    case TCF_GGUF_BOOL:
        tcf_gguf_value_bool(v, &b);
        fputs(b ? "true" : "false", stdout);
        break;
    case TCF_GGUF_F32:
    case TCF_GGUF_F64:
        tcf_gguf_value_f64(v, &d);
        printf("%.9g", d);
        break;
    case TCF_GGUF_ARRAY: {
        uint64_t n = tcf_gguf_array_len(v);
        putchar('[');
        for (uint64_t k = 0; k < n && k < (uint64_t)max_array; k++) {
            if (k) fputs(", ", stdout);
            print_value(tcf_gguf_array_at(v, k), max_array);
        }
        if (n > (uint64_t)max_array) printf("%s... %llu more", max_array ? ", " : "",
                                           (unsigned long long)(n - (uint64_t)max_array));
        putchar(']');
        break;
    }
    default:
        if (tcf_gguf_value_i64(v, &i) == TCF_OK) printf("%lld", (long long)i);
        else if (tcf_gguf_value_u64(v, &u) == TCF_OK) printf("%llu", (unsigned long long)u);
        break;
    }
}

/* "array[string x 49152]", "array[array[i32]...]" or "u32". */
static void print_type(const tcf_gguf_value *v) {
    if (tcf_gguf_value_type(v) != TCF_GGUF_ARRAY) {
        fputs(tcf_gguf_type_name(tcf_gguf_value_type(v)), stdout);
        return;
    }
    printf("array[%s x %llu]", tcf_gguf_type_name(tcf_gguf_array_type(v)),
           (unsigned long long)tcf_gguf_array_len(v));
}

static int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int max_array = 8;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(inspect_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--max-array")) {
            if (!parse_int("--max-array", i + 1 < argc ? argv[++i] : NULL, 0, 1 << 30,
                           &max_array))
                return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "tcf inspect: unknown option '%s'\n%s", argv[i], inspect_usage);
            return 2;
        } else if (path) {
            fprintf(stderr, "tcf inspect: one file at a time ('%s' and '%s')\n", path, argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "tcf inspect: no file given\n%s", inspect_usage);
        return 2;
    }
    tcf_gguf *g;
    if (tcf_gguf_open(path, &g)) return fail_lib("inspect");
    printf("%s: GGUF v%u, %lld metadata keys, %lld tensors, alignment %u, data at byte %llu\n",
           path, tcf_gguf_version(g), (long long)tcf_gguf_kv_count(g),
           (long long)tcf_gguf_tensor_count(g), tcf_gguf_alignment(g),
           (unsigned long long)tcf_gguf_data_offset(g));
    printf("metadata:\n");
    for (int64_t k = 0; k < tcf_gguf_kv_count(g); k++) {
        const tcf_gguf_value *v = tcf_gguf_kv_value(g, k);
        const char *key = tcf_gguf_kv_key(g, k);
        fputs("  ", stdout);
        print_escaped(key, strlen(key), SIZE_MAX, 0);
        fputs("  ", stdout);
        print_type(v);
        fputs("  ", stdout);
        print_value(v, max_array);
        putchar('\n');
    }
    printf("tensors:\n");
    for (int64_t k = 0; k < tcf_gguf_tensor_count(g); k++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, k);
        fputs("  ", stdout);
        print_escaped(t->name, strlen(t->name), SIZE_MAX, 0);
        printf("  %s  [", tcf_ggml_type_name(t->type));
        for (int d = 0; d < t->n_dims; d++) printf(d ? ", %lld" : "%lld", (long long)t->ne[d]);
        printf("]  offset %llu  %zu bytes\n", (unsigned long long)t->offset, t->nbytes);
    }
    tcf_gguf_free(g);
    if (fflush(stdout) || ferror(stdout)) {
        fprintf(stderr, "tcf inspect: cannot write stdout\n");
        return 1;
    }
    return 0;
}

static const char *serve_usage =
    "usage: tcf serve --model RUN/ [options]\n"
    "\n"
    "Serves a trained classifier over HTTP until SIGTERM or SIGINT (then stops\n"
    "accepting, lets the requests in flight finish, and exits 0).\n"
    "  POST /v1/classify  {\"text\": \"...\"} -> {\"label\", \"score\", \"top\", \"truncated\"[, \"abstain\"]}\n"
    "                     {\"texts\": [...]} -> {\"results\": [...]}; optional \"top_k\": N\n"
    "  GET  /healthz      {\"status\": \"ok\", \"classes\": K} (no key needed)\n"
    "  GET  /metrics      Prometheus text format\n"
    "Errors are JSON {\"error\": {\"code\": C, \"message\": ...}}: 400 bad JSON, types,\n"
    "empty text or invalid UTF-8; 401 missing/wrong key; 404; 405; 413 over a\n"
    "limit; 415 Content-Type not JSON; 503 while shutting down.\n"
    "\n"
    "options:\n"
    "  --model PATH           run directory (tcf train --out) or exported .gguf\n"
    "  --host ADDR            address to bind (default 127.0.0.1: this machine only)\n"
    "  --port N               port (default 8080; 0: any free port, logged)\n"
    "  --api-key-file F       require \"Authorization: Bearer KEY\" with the key in F\n"
    "                         (first line, surrounding white space removed; at\n"
    "                         least 8 printable ASCII characters) on\n"
    "                         /v1/classify and /metrics\n"
    "  --top-k K              classes listed in \"top\" (default 3; per request: \"top_k\")\n"
    "  --abstain-below P      add \"abstain\": true/false to each result, true when\n"
    "                         its score is below P (0..1; default: the model's\n"
    "                         tcf.abstain_below if it has one, else no field)\n"
    "  --max-batch N          texts per model call (default 32)\n"
    "  --pass-batch N         texts per forward pass within a call (default 8): a\n"
    "                         call's texts are sorted by length and run N at a\n"
    "                         time, so short texts are not padded to the longest\n"
    "  --max-wait-ms N        how long a request waits for others to batch with\n"
    "                         (default 5)\n"
    "  --max-body-bytes N     larger bodies get 413 (default 1048576)\n"
    "  --max-texts N          texts per request, more get 413 (default 256)\n"
    "  --max-tokens N         texts of more than N tokens get 413 (default: none;\n"
    "                         texts longer than the model's max length are\n"
    "                         truncated to it and say \"truncated\": true)\n"
    "  --timeout-s N          close connections idle for N seconds, and those whose\n"
    "                         body is not in 3 x N seconds after the headers\n"
    "                         (default 10)\n"
    "  --connection-limit N   concurrent connections (default 256)\n"
    "  --threads N            threads per model call (default: all cores)\n"
    "  --qpath auto|decode|int8  products with Q8_0/Q4_0 weights (see tcf eval --help)\n"
    "  --verbose              one log line per request on stderr\n"
    "  -h, --help             this help\n";

/* The key file's first line, surrounding white space removed; NULL on error
 * (printed). */
static char *read_api_key(const char *path) {
    char *buf;
    size_t len;
    if (tcf_read_file(path, &buf, &len)) {
        fprintf(stderr, "tcf serve: %s\n", tcf_last_error());
        return NULL;
    }
    char *a = buf, *e;
    while (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\n') a++;
    for (e = a; *e && *e != '\n' && *e != '\r'; e++) {}
    while (e > a && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = '\0';
    for (char *p = a; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            fprintf(stderr, "tcf serve: %s:1: the key holds a space, control or non-ASCII byte at byte %d\n",
                    path, (int)(p - a));
            free(buf);
            return NULL;
        }
    if (!*a || strlen(a) < 8) {
        fprintf(stderr, "tcf serve: %s:1: the key is %s (want at least 8 characters)\n", path,
                *a ? "too short" : "empty");
        free(buf);
        return NULL;
    }
    memmove(buf, a, strlen(a) + 1);
    return buf;
}

static int cmd_serve(int argc, char **argv) {
    tcf_serve_opts so;
    tcf_serve_defaults(&so);
    const char *model = NULL, *key_file = NULL;
    int threads = 0, pass_batch = 8, n, qpath = TCF_QPATH_AUTO, abstain_flag = 0;
    double d;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(serve_usage, stdout);
            return 0;
        } else if ((v = flag_value(argc, argv, &i, "--model"))) model = v;
        else if ((v = flag_value(argc, argv, &i, "--host"))) so.host = v;
        else if ((v = flag_value(argc, argv, &i, "--api-key-file"))) key_file = v;
        else if ((v = flag_value(argc, argv, &i, "--qpath"))) { if (!parse_qpath(v, &qpath)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--port"))) { if (!parse_int("--port", v, 0, 65535, &so.port)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--top-k"))) { if (!parse_int("--top-k", v, 1, 100000, &so.top_k)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--max-batch"))) { if (!parse_int("--max-batch", v, 1, 4096, &so.max_batch)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--pass-batch"))) { if (!parse_int("--pass-batch", v, 1, 4096, &pass_batch)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--max-wait-ms"))) { if (!parse_int("--max-wait-ms", v, 0, 10000, &so.max_wait_ms)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--max-body-bytes"))) { if (!parse_int("--max-body-bytes", v, 16, 1 << 30, &n)) return 2; so.max_body_bytes = (size_t)n; }
        else if ((v = flag_value(argc, argv, &i, "--max-texts"))) { if (!parse_int("--max-texts", v, 1, 1 << 20, &so.max_texts)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--max-tokens"))) { if (!parse_int("--max-tokens", v, 1, 1 << 20, &so.max_tokens)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--timeout-s"))) { if (!parse_int("--timeout-s", v, 1, 86400, &so.timeout_s)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--connection-limit"))) { if (!parse_int("--connection-limit", v, 1, 100000, &so.connection_limit)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--threads"))) { if (!parse_int("--threads", v, 1, 1024, &threads)) return 2; }
        else if ((v = flag_value(argc, argv, &i, "--abstain-below"))) { if (!parse_double("--abstain-below", v, 0, 1, &d)) return 2; so.abstain_below = d, abstain_flag = 1; }
        else if (!strcmp(argv[i], "--verbose")) so.verbose = 1;
        else {
            fprintf(stderr, "tcf serve: unknown or incomplete option '%s'\n%s", argv[i], serve_usage);
            return 2;
        }
    }
    if (!model || !*model) {
        fprintf(stderr, "tcf serve: --model is required\n%s", serve_usage);
        return 2;
    }
    char *key = NULL;
    if (key_file && !(key = read_api_key(key_file))) return 1;
    so.api_key = key;
    tcf_classifier_opts co = {threads, pass_batch < so.max_batch ? pass_batch : so.max_batch, 0, 0, qpath};
    tcf_classifier *c = NULL;
    if (tcf_classifier_load(model, &co, &c)) {
        free(key);
        return fail_lib("serve");
    }
    if (!abstain_flag && tcf_classifier_abstain_below(c) >= 0) so.abstain_below = tcf_classifier_abstain_below(c);
    /* SIGTERM / SIGINT are taken by sigwait below: block them before any
     * thread starts so that every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    tcf_server *s = NULL;
    if (tcf_server_start(c, &so, &s)) {
        free(key);
        tcf_classifier_free(c);
        return fail_lib("serve");
    }
    const char *host = so.host ? so.host : "127.0.0.1";
    fprintf(stderr, "tcf serve: listening on http://%s%s%s:%d (%s: %d classes, max length %d; max batch %d, "
            "pass batch %d, max wait %d ms%s)\n", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
            tcf_server_port(s), model, tcf_classifier_n_classes(c), tcf_classifier_max_len(c), so.max_batch,
            co.max_batch, so.max_wait_ms, key ? ", bearer key required" : "");
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "tcf serve: %s: stopping (finishing the requests in flight)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    int left = tcf_server_shutdown(s, 30);
    tcf_server_free(s);
    tcf_classifier_free(c);
    free(key);
    if (left) {
        fprintf(stderr, "tcf serve: stopped with %d requests unfinished after 30 s\n", left);
        return 1;
    }
    fprintf(stderr, "tcf serve: stopped\n");
    return 0;
}

static const char *export_usage =
    "usage: tcf export --model RUN/ --out MODEL.gguf [--type f32|f16|bf16|q8_0|q4_0|q4_k|q4_1]\n"
    "                  [--abstain-below P] [--no-merge]\n"
    "       tcf export --format peft --model RUN/ --out DIR/\n"
    "\n"
    "gguf (default): merges the LoRA adapters into the base weights and writes\n"
    "one GGUF file holding the weights (encoder and pooler dense weights in\n"
    "--type, the rest f32), the tokenizer, label names, max length and the\n"
    "provenance of the run (keys: docs/EXPORT.md). Every tcf command that takes\n"
    "--model RUN/ for a classifier also takes MODEL.gguf.\n"
    "A decoder run (a Llama-family base) is written in llama.cpp's llama layout:\n"
    "the base file's tensors with the adapters merged into q k v o gate up down,\n"
    "dense weights and token embeddings in --type (as tcf quantize), the score head\n"
    "as cls.output.weight (f32) and its pooling (last or mean token).\n"
    "Merging re-quantizes the merged weights: into a 4-bit type that costs accuracy\n"
    "(SmolLM2 banking77: q4_1 82.5% vs the run's 91.7%; q8_0 91.7%). --no-merge keeps\n"
    "the base GGUF's own blocks, which the run trained on, and stores the adapters\n"
    "beside them (applied at inference): the run's exact probabilities.\n"
    "peft: the run's LoRA adapter and head as adapter_config.json +\n"
    "adapter_model.safetensors, loadable with peft's PeftModel.from_pretrained\n"
    "onto the base model.\n"
    "Files are written atomically: on failure nothing is left at --out.\n"
    "\n"
    "options:\n"
    "  --model RUN/          run directory written by tcf train\n"
    "  --out PATH            output file (gguf) or directory (peft)\n"
    "  --type T              f32 (default), f16, bf16, q8_0, q4_0, q4_k (gguf only;\n"
    "                        q4_k: weights whose rows are not a multiple of 256\n"
    "                        are written q8_0); decoder runs: q4_1 too, not q4_k\n"
    "  --abstain-below P     store the abstain threshold P (0..1) in the file\n"
    "                        (tcf.abstain_below): tcf serve and tcf predict then\n"
    "                        report \"abstain\": true when the top score is below P\n"
    "  --no-merge            decoder runs on a GGUF base: keep its blocks as they are,\n"
    "                        store the adapters unmerged (--type is then the base's)\n"
    "  --format gguf|peft    what to write (default gguf)\n"
    "  -h, --help            this help\n";

static int cmd_export(int argc, char **argv) {
    const char *model = NULL, *outp = NULL, *type = NULL, *format = "gguf";
    double abstain = -1;
    int no_merge = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(export_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--model") && v) {
            model = v, i++;
        } else if (!strcmp(a, "--out") && v) {
            outp = v, i++;
        } else if (!strcmp(a, "--type") && v) {
            type = v, i++;
        } else if (!strcmp(a, "--format") && v) {
            format = v, i++;
        } else if (!strcmp(a, "--abstain-below") && v) {
            if (!parse_double("--abstain-below", v, 0, 1, &abstain)) return 2;
            i++;
        } else if (!strcmp(a, "--no-merge")) {
            no_merge = 1;
        } else {
            fprintf(stderr, "tcf export: unknown or incomplete option '%s'\n%s", a, export_usage);
            return 2;
        }
    }
    if (!model || !outp) {
        fprintf(stderr, "tcf export: --model and --out are required\n%s", export_usage);
        return 2;
    }
    if (!strcmp(format, "peft")) {
        if (type || abstain >= 0 || no_merge) {
            fprintf(stderr, "tcf export: --type, --abstain-below and --no-merge apply to --format gguf only\n");
            return 2;
        }
        if (tcf_export_peft(model, outp)) return fail_lib("export");
        return 0;
    }
    if (strcmp(format, "gguf")) {
        fprintf(stderr, "tcf export: --format must be gguf or peft, got '%s'\n", format);
        return 2;
    }
    int t = tcf_export_type_parse(type ? type : "f32");
    if (t < 0) {
        fprintf(stderr, "tcf export: --type must be f32, f16, bf16, q8_0, q4_0, q4_k or q4_1, got '%s'\n", type);
        return 2;
    }
    if (no_merge && type) {
        fprintf(stderr, "tcf export: --no-merge keeps the base's own block type; leave out --type\n");
        return 2;
    }
    if (tcf_export_gguf_ex(model, outp, (tcf_ggml_type)t, abstain, no_merge)) return fail_lib("export");
    return 0;
}

static const char *quantize_usage =
    "usage: tcf quantize --model IN --out OUT.gguf --type f32|f16|bf16|q8_0|q4_0|q4_1|q4_k\n"
    "\n"
    "Writes one GGUF file in llama.cpp's layout, as its convert_hf_to_gguf.py\n"
    "would, with the weight matrices in --type. IN is a Hugging Face directory\n"
    "(config.json + model.safetensors [+ tokenizer.json]) of a Llama decoder\n"
    "(model_type llama) or a BERT encoder (model_type bert), or a .gguf file of\n"
    "architecture llama or bert (re-quantized: every tensor is decoded and\n"
    "encoded again, so re-quantizing an already quantized file compounds the\n"
    "error: quantize from the f16/f32 checkpoint when you have it).\n"
    "Kept F32 whatever --type says: 1-D tensors (norms, biases), position and\n"
    "token-type embeddings (llama.cpp reads them as F32); BERT token embeddings\n"
    "too (tcf export's layout). A weight whose rows are not a multiple of 32\n"
    "gets F16 instead of a 32-block type; with q4_k (super-blocks of 256) one\n"
    "whose rows are a multiple of 32 but not of 256 gets q8_0. q/k rows are\n"
    "permuted for llama.cpp's RoPE; a byte-level BPE tokenizer.json becomes tokenizer.ggml.* (gpt2).\n"
    "Qwen2 / Phi-3 are refused (tcf reads back only llama's GGUF layout); nf4\n"
    "is tcf train's in-memory QLoRA format and has no GGUF type.\n"
    "The file is written atomically: on failure nothing is left at --out.\n"
    "\n"
    "options:\n"
    "  --model IN            HF model directory or .gguf file\n"
    "  --out PATH            output .gguf\n"
    "  --type T              f32, f16, bf16, q8_0, q4_0, q4_1, q4_k\n"
    "  -h, --help            this help\n";

static double quantize_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *outp = NULL, *type = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(quantize_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--model") && v) {
            model = v, i++;
        } else if (!strcmp(a, "--out") && v) {
            outp = v, i++;
        } else if (!strcmp(a, "--type") && v) {
            type = v, i++;
        } else {
            fprintf(stderr, "tcf quantize: unknown or incomplete option '%s'\n%s", a, quantize_usage);
            return 2;
        }
    }
    if (!model || !outp || !type) {
        fprintf(stderr, "tcf quantize: --model, --out and --type are required\n%s", quantize_usage);
        return 2;
    }
    int t = tcf_quantize_type_parse(type);
    if (t < 0 && !strcmp(type, "nf4")) {
        fprintf(stderr, "tcf quantize: --type nf4: NF4 is the in-memory format of tcf train's QLoRA base "
                        "(bitsandbytes' layout); GGUF has no NF4 type. Use q4_0 or q4_1 for a 4-bit file.\n");
        return 2;
    }
    if (t < 0) {
        fprintf(stderr, "tcf quantize: --type must be f32, f16, bf16, q8_0, q4_0, q4_1 or q4_k, got '%s'\n", type);
        return 2;
    }
    tcf_quantize_info info;
    double t0 = quantize_clock();
    if (tcf_quantize_model(model, outp, (tcf_ggml_type)t, &info)) return fail_lib("quantize");
    char q8fb[48] = "";
    if (info.n_q8_fallback) snprintf(q8fb, sizeof q8fb, ", %d q8_0 fallback", info.n_q8_fallback);
    fprintf(stderr, "tcf quantize: %s -> %s: %d tensors (%d %s, %d kept f32, %d f16 fallback%s), %.1f M weights, %.1f MB "
                    "of tensors%s, %.2f s\n", info.source, outp, info.n_tensors, info.n_typed, type, info.n_f32,
            info.n_f16_fallback, q8fb, (double)info.params / 1e6, (double)info.tensor_bytes / 1e6,
            info.has_tokenizer ? "" : ", no tokenizer", quantize_clock() - t0);
    return 0;
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
    if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc, argv);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc, argv);
    if (!strcmp(cmd, "inspect")) return cmd_inspect(argc, argv);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc, argv);
    if (!strcmp(cmd, "export")) return cmd_export(argc, argv);
    if (!strcmp(cmd, "quantize")) return cmd_quantize(argc, argv);
    fprintf(stderr, "tcf: unknown command '%s'\n%s", cmd, prog_usage);
    return 2;
}
