/*
 * test_bpe.c — BPE tokenizers (src/text/bpe.c, tok_gguf.c) against Hugging
 * Face `tokenizers` and transformers' GGUF conversion, through the fixtures of
 * tests/fixtures/bpe/ written by tests/ref/gen_bpe_fixtures.py (which
 * documents them):
 *   bytelevel llama metaspace qwen2 llama3 (.json): the adversarial strings
 *       (.cases, full ids) and every text of ../shared/data/<set>/<split>.csv
 *       (or $TCF_SHARED_DATA) plus 2000 random strings (.digest, FNV-1a
 *       per 256 rows / 16 strings). A missing data directory is a failure.
 *   qwen2.gguf, spm.gguf: GGUF metadata ("gpt2" pre "qwen2"; "llama")
 *       against transformers' tokenizer built from the same file (.cases).
 *   models/SmolLM2-135M-Instruct/ *.gguf when present (else SKIP): the real
 *       SmolLM2 tokenizer (smollm2.cases / smollm2.digest).
 * Also: merges in the "a b" string form equal the [a, b] form; a GGUF built
 * here from bytelevel.json with pre "smollm" equals the JSON tokenizer;
 * --no-special; invalid UTF-8; bad tokenizer.json and GGUF metadata, each
 * a clear error naming the file and key.
 *
 *   build/tests/test_bpe
 *   build/tests/test_bpe --bench NAME FILE.csv   encode throughput (bench/)
 */
#include "check.h"
#include "tcf.h"

#include "base/base.h"
#include "text/tokenizer_internal.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIX "tests/fixtures/bpe/"
#define SMOL "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
#define MAXIDS 8192

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * TK_FNV_PRIME;
    return h;
}

static uint64_t fnv_ids(uint64_t h, const int32_t *ids, int n) {
    for (int i = 0; i <= n; i++) {
        int32_t v = i < n ? ids[i] : -1;
        uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        h = fnv(h, b, 4);
    }
    return h;
}

static int32_t ids_buf[MAXIDS], ids_buf2[MAXIDS];

static tcf_status enc(const tcf_tokenizer *t, const char *s, size_t n, int add, int32_t *ids, int *n_ids) {
    tcf_encode_opts o = {add, 0};
    return tcf_tokenizer_encode(t, s, n, &o, ids, MAXIDS, n_ids);
}

static void print_text(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fprintf(f, n > 200 ? "\"...(%zu bytes)" : "\"", n);
}

static void print_ids(FILE *f, const char *what, const tcf_tokenizer *t, const int32_t *ids, int n) {
    fprintf(f, "    %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++) {
        const char *tk = t ? tcf_tokenizer_token(t, ids[i]) : NULL;
        fprintf(f, " %d:%s", ids[i], tk ? tk : "?");
    }
    fprintf(f, n > 40 ? " ...\n" : "\n");
}

static char *read_file(const char *path, size_t *len) {
    char *d;
    size_t n;
    if (tcf_read_file(path, &d, &n)) return NULL;
    if (len) *len = n;
    return d;
}

static bool exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static int hexval(int c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

/* ---- cases ------------------------------------------------------------------------ */

typedef struct {
    int add;
    char *text;
    size_t len;
    int32_t *ids;
    int n;
} tcase;

/* Lines "add<TAB>hex<TAB>ids"; '#' lines are comments. */
static tcase *load_cases(const char *path, int *count) {
    char *d = read_file(path, NULL);
    *count = 0;
    CHECK(d != NULL, "cannot read %s", path);
    if (!d) return NULL;
    int cap = 512, n = 0;
    tcase *cs = calloc((size_t)cap, sizeof *cs);
    char *save = NULL;
    for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) continue;
        if (n == cap) cs = realloc(cs, (size_t)(cap *= 2) * sizeof *cs);
        tcase *c = &cs[n++];
        c->add = atoi(line);
        size_t hl = (size_t)(t2 - t1 - 1);
        c->text = malloc(hl / 2 + 1);
        for (size_t i = 0; i < hl / 2; i++) c->text[i] = (char)(hexval(t1[1 + 2 * i]) * 16 + hexval(t1[2 + 2 * i]));
        c->len = hl / 2;
        c->ids = malloc(sizeof(int32_t) * (strlen(t2) / 2 + 2));
        c->n = 0;
        for (char *p = t2 + 1; *p;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p) break;
            c->ids[c->n++] = (int32_t)v;
            p = e;
        }
    }
    free(d);
    *count = n;
    return cs;
}

static void free_cases(tcase *cs, int n) {
    for (int i = 0; i < n; i++) {
        free(cs[i].text);
        free(cs[i].ids);
    }
    free(cs);
}

static void run_cases(const char *what, const tcf_tokenizer *t, const char *path) {
    int n, bad = 0;
    tcase *cs = load_cases(path, &n);
    for (int i = 0; i < n; i++) {
        int got = 0;
        tcf_status st = enc(t, cs[i].text, cs[i].len, cs[i].add, ids_buf, &got);
        bool same = !st && got == cs[i].n && !memcmp(ids_buf, cs[i].ids, sizeof(int32_t) * (size_t)got);
        if (!same && bad++ < 6) {
            fprintf(stderr, "FAIL %s case %d (add_special %d): ", what, i, cs[i].add);
            print_text(stderr, cs[i].text, cs[i].len);
            fprintf(stderr, "\n    status %s %s\n", tcf_status_name(st), st ? tcf_last_error() : "");
            print_ids(stderr, "tcf", t, ids_buf, st ? 0 : got);
            print_ids(stderr, "ref", t, cs[i].ids, cs[i].n);
        }
    }
    CHECK(n > 200 && bad == 0, "%s: %d of %d cases differ", what, bad, n);
    printf("  %-34s %4d cases, %d differ\n", what, n, bad);
    free_cases(cs, n);
}

/* ---- data + random digests ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t *off, *len;
    size_t n;
} texts_t;

static void free_texts(texts_t *t) {
    free(t->buf);
    free(t->off);
    free(t->len);
    memset(t, 0, sizeof *t);
}

/* One RFC 4180 field (see test_tokenizer.c): ',' / '\n' / 0 at the end, -1 malformed. */
static int csv_field(const char *s, size_t n, size_t *i, char *dst, size_t *dn) {
    size_t p = *i;
    if (p < n && s[p] == '"') {
        for (p++;; p++) {
            if (p >= n) return -1;
            if (s[p] == '"') {
                if (p + 1 < n && s[p + 1] == '"') {
                    if (dst) dst[(*dn)++] = '"';
                    p++;
                } else {
                    p++;
                    break;
                }
            } else if (dst) {
                dst[(*dn)++] = s[p];
            }
        }
    } else {
        for (; p < n && s[p] != ',' && s[p] != '\r' && s[p] != '\n'; p++)
            if (dst) dst[(*dn)++] = s[p];
    }
    int r = 0;
    if (p >= n) r = 0;
    else if (s[p] == ',') { p++; r = ','; }
    else if (s[p] == '\r') { p++; if (p < n && s[p] == '\n') p++; r = '\n'; }
    else if (s[p] == '\n') { p++; r = '\n'; }
    else return -1;
    *i = p;
    return r;
}

static int read_csv_texts(const char *path, texts_t *out) {
    memset(out, 0, sizeof *out);
    size_t n;
    char *s = read_file(path, &n);
    if (!s) return -1;
    out->buf = malloc(n + 1);
    size_t cap = 1024, dn = 0, i = 0;
    out->off = malloc(cap * sizeof *out->off);
    out->len = malloc(cap * sizeof *out->len);
    int r = 0;
    bool header = true;
    while (i < n) {
        size_t start = dn;
        r = csv_field(s, n, &i, out->buf, &dn);
        if (r < 0) break;
        if (header && (dn - start != 4 || memcmp(out->buf + start, "text", 4))) { r = -1; break; }
        while (r == ',') r = csv_field(s, n, &i, NULL, NULL);
        if (r < 0) break;
        if (header) {
            dn = start;
            header = false;
            continue;
        }
        if (out->n == cap) {
            cap *= 2;
            out->off = realloc(out->off, cap * sizeof *out->off);
            out->len = realloc(out->len, cap * sizeof *out->len);
        }
        out->off[out->n] = start;
        out->len[out->n++] = dn - start;
        out->buf[dn++] = '\0';
    }
    free(s);
    if (r < 0) {
        free_texts(out);
        return -1;
    }
    return 0;
}

static const char *data_dir(void) {
    const char *e = getenv("TCF_SHARED_DATA");
    return e && *e ? e : "../shared/data";
}

/* splitmix64 random strings: a copy of random_string() of test_tokenizer.c
 * (and of the generators' gen_tokenizer_fixtures.random_string). */
static uint64_t sm_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static const char *const R_WORDS[] = {
    "the", "card", "payment", "Hello", "WORLD", "na\u00efve", "caf\u00e9", "don't", "e-mail", "\u00fcber",
    "Stra\u00dfe", "\u0130stanbul", "\u03a3\u03bf\u03c6\u03af\u03b1", "\u041c\u043e\u0441\u043a\u0432\u0430",
    "\u6771\u4eac", "\ud55c\uad6d\uc5b4", "unaffable", "1,000.50", "http://x.io/a?b=c", "[MASK]", "[CLS]",
    "[SEP]", "[UNK]", "[PAD]", "[mask]", "##ing", "\u0e20\u0e32\u0e29\u0e32",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\U0001F600", "\U0001F44D\U0001F3FD",
    "\U0001F1EB\U0001F1F7", "a\u0301"};
static const char R_PUNCT[] = "0123456789.,!?'\"-()[]#@$%&*/:;<>=_~`^{}|\\+";
static const uint32_t R_SPACE[] = {0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0x85, 0xA0, 0x2028, 0x3000, 0x200B,
                                   0x200D, 0xFEFF, 0x00, 0x01, 0x7F, 0x1F, 0xFFFD, 0x2060, 0x180E, 0xAD};

static size_t random_string(uint64_t seed, int i, char *buf) {
    uint64_t g = seed + (uint64_t)i;
    size_t n = 1 + sm_next(&g) % 48, k = 0;
    for (size_t j = 0; j < n; j++) {
        uint64_t r = sm_next(&g) % 100;
        uint32_t c;
        if (r < 25) {
            uint64_t lower = sm_next(&g) % 4;
            c = (uint32_t)((lower ? 'a' : 'A') + sm_next(&g) % 26);
        } else if (r < 37) {
            c = ' ';
        } else if (r < 47) {
            const char *w = R_WORDS[sm_next(&g) % (sizeof R_WORDS / sizeof *R_WORDS)];
            memcpy(buf + k, w, strlen(w));
            k += strlen(w);
            continue;
        } else if (r < 55) {
            c = (uint8_t)R_PUNCT[sm_next(&g) % (sizeof R_PUNCT - 1)];
        } else if (r < 60) {
            c = (uint32_t)(0xC0 + sm_next(&g) % (0x250 - 0xC0));
        } else if (r < 65) {
            c = (uint32_t)(0x300 + sm_next(&g) % 0x70);
        } else if (r < 68) {
            c = (uint32_t)(0x4E00 + sm_next(&g) % 0x5200);
        } else if (r < 70) {
            c = (uint32_t)(0xAC00 + sm_next(&g) % 11172);
        } else if (r < 73) {
            c = (uint32_t)(0x1F300 + sm_next(&g) % 0x800);
        } else if (r < 78) {
            c = R_SPACE[sm_next(&g) % (sizeof R_SPACE / sizeof *R_SPACE)];
        } else if (r < 82) {
            c = (uint32_t)(0x370 + sm_next(&g) % 0x190);
        } else {
            c = (uint32_t)(sm_next(&g) % (r < 90 ? 0x10000 : 0x110000));
            if (c >= 0xD800 && c <= 0xDFFF) c += 0x800;
        }
        k += (size_t)tk_utf8_put((uint8_t *)buf + k, c);
    }
    return k;
}

/* The digest file: data chunks (every `stride`-th only, under the sanitizers)
 * and random strings. */
static void run_digest(const char *what, const tcf_tokenizer *t, const char *path, int stride) {
    const char *dir = data_dir();
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        CHECK(0, "data directory %s is missing (set TCF_SHARED_DATA or lay ../shared beside the clone)", dir);
        return;
    }
    char *dg = read_file(path, NULL);
    CHECK(dg != NULL, "cannot read %s", path);
    if (!dg) return;
    long chunk_rows = 256, rchunk = 16;
    unsigned long long seed = 0;
    int rcount = 0;
    size_t texts = 0, files = 0, bad_chunks = 0, rbad = 0, rseen = 0;
    texts_t tx = {0};
    char file[1100] = "";
    bool have = false, in_random = false;
    double t0 = tcf_now();
    char *save = NULL;
    for (char *line = strtok_r(dg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char rel[512], hex[32];
        long rows, chunk;
        if (line[0] == '#') continue;
        if (sscanf(line, "B %ld %ld", &chunk_rows, &rchunk) == 2) continue;
        if (sscanf(line, "F %511s %ld", rel, &rows) == 2) {
            free_texts(&tx);
            snprintf(file, sizeof file, "%s/%s", dir, rel);
            have = read_csv_texts(file, &tx) == 0;
            CHECK(have, "%s: cannot read or parse as CSV with a text column", file);
            if (have) CHECK((long)tx.n == rows, "%s: %zu rows, the digest has %ld", file, tx.n, rows);
            files++;
        } else if (sscanf(line, "R %llu %d", &seed, &rcount) == 2) {
            in_random = true;
        } else if (!in_random && have && sscanf(line, "C %ld %31s", &chunk, hex) == 2) {
            if (chunk % stride) continue;
            uint64_t want = strtoull(hex, NULL, 16), h = TK_FNV_BASIS;
            size_t a = (size_t)chunk * (size_t)chunk_rows, b = a + (size_t)chunk_rows < tx.n ? a + (size_t)chunk_rows : tx.n;
            for (size_t i = a; i < b; i++) {
                int n = 0;
                if (enc(t, tx.buf + tx.off[i], tx.len[i], 1, ids_buf, &n)) n = 0;
                h = fnv_ids(h, ids_buf, n);
            }
            texts += b - a;
            if (h != want && bad_chunks++ < 3) {
                fprintf(stderr, "FAIL %s: %s rows %zu..%zu differ from the reference; ours:\n", what, file, a + 2, b + 1);
                for (size_t i = a; i < b && i < a + 4; i++) {
                    int n = 0;
                    enc(t, tx.buf + tx.off[i], tx.len[i], 1, ids_buf, &n);
                    fprintf(stderr, "    ");
                    print_text(stderr, tx.buf + tx.off[i], tx.len[i]);
                    fputc('\n', stderr);
                    print_ids(stderr, "tcf", t, ids_buf, n);
                }
            }
        } else if (in_random && sscanf(line, "%ld %31s", &chunk, hex) == 2) {
            uint64_t h = TK_FNV_BASIS;
            char buf[48 * 40];
            for (long i = chunk * rchunk; i < (chunk + 1) * rchunk && i < rcount; i++) {
                size_t n = random_string(seed, (int)i, buf);
                int got = 0;
                if (enc(t, buf, n, 1, ids_buf, &got)) got = 0;
                h = fnv_ids(h, ids_buf, got);
                rseen++;
            }
            if (h != strtoull(hex, NULL, 16) && rbad++ < 3)
                fprintf(stderr, "FAIL %s: random strings %ld..%ld differ (gen_tokenizer_fixtures.py --show-random I)\n",
                        what, chunk * rchunk, (chunk + 1) * rchunk - 1);
        }
    }
    free_texts(&tx);
    free(dg);
    CHECK(bad_chunks == 0, "%s: %zu data chunks differ", what, bad_chunks);
    CHECK(rbad == 0, "%s: %zu random chunks differ", what, rbad);
    CHECK(texts > (stride > 1 ? 10000u : 100000u) && rseen == 2000, "%s: only %zu texts / %zu random strings", what,
          texts, rseen);
    printf("  %-34s %zu data texts in %zu files%s, %zu random strings: %zu + %zu chunks differ (%.2fs)\n", what,
           texts, files, stride > 1 ? " (sampled)" : "", rseen, bad_chunks, rbad, tcf_now() - t0);
}

/* ---- the JSON fixtures ------------------------------------------------------------------ */

static tcf_tokenizer *load_or_fail(const char *path) {
    tcf_tokenizer *t = NULL;
    tcf_status st = tcf_tokenizer_load(path, &t);
    CHECK(st == TCF_OK, "load %s: %s", path, tcf_last_error());
    return t;
}

static void test_fixture(const char *name, int stride) {
    char p[256], c[256], d[256];
    snprintf(p, sizeof p, FIX "%s.json", name);
    snprintf(c, sizeof c, FIX "%s.cases", name);
    snprintf(d, sizeof d, FIX "%s.digest", name);
    tcf_tokenizer *t = load_or_fail(p);
    if (!t) return;
    run_cases(name, t, c);
    run_digest(name, t, d, stride);
    tcf_tokenizer_free(t);
}

static char *json_edit(const char *path, void (*fn)(cJSON *root, const void *arg), const void *arg, size_t *len) {
    char *text = read_file(path, NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    fn(root, arg);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *len = strlen(out);
    return out;
}

static void to_string_merges(cJSON *root, const void *arg) {
    (void)arg;
    cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "merges"), *x;
    cJSON *s = cJSON_CreateArray();
    cJSON_ArrayForEach(x, m) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s %s", cJSON_GetArrayItem(x, 0)->valuestring, cJSON_GetArrayItem(x, 1)->valuestring);
        cJSON_AddItemToArray(s, cJSON_CreateString(buf));
    }
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(root, "model"), "merges", s);
}

static void test_string_merges(void) {
    size_t len;
    char *j = json_edit(FIX "bytelevel.json", to_string_merges, NULL, &len);
    CHECK(strstr(j, "\"merges\":[\"") != NULL, "string-form merges were written");
    tcf_tokenizer *t = NULL;
    tcf_status st = tcf_tokenizer_load_json(j, len, "bytelevel-string-merges", &t);
    CHECK(st == TCF_OK, "load string-form merges: %s", tcf_last_error());
    if (t) run_cases("bytelevel, merges as \"a b\"", t, FIX "bytelevel.cases");
    tcf_tokenizer_free(t);
    cJSON_free(j);
}

/* ---- every codepoint: pre-tokenized words ------------------------------------------------- */

typedef struct {
    uint64_t h;
} words_ctx;

static void on_word(void *ctx, const uint32_t *w, size_t n, int32_t added_id) {
    words_ctx *c = ctx;
    uint8_t b[4];
    for (size_t i = 0; i < n; i++) c->h = fnv(c->h, b, (size_t)tk_utf8_put(b, w[i]));
    uint8_t ff = 0xFF;
    c->h = fnv(c->h, &ff, 1);
    (void)added_id;
}

/* "a" c "1 " c c "  x" c "'s" c, as cp_text() of the generator */
static size_t cp_text(uint32_t c, char *b) {
    size_t k = 0;
    const char *parts[] = {"a", "1 ", "", "  x", "'s", NULL};
    for (int i = 0; parts[i]; i++) {
        memcpy(b + k, parts[i], strlen(parts[i]));
        k += strlen(parts[i]);
        k += (size_t)tk_utf8_put((uint8_t *)b + k, c);
    }
    return k;
}

static void test_codepoints(void) {
    char *d = read_file(FIX "codepoints.txt", NULL);
    CHECK(d != NULL, "cannot read %scodepoints.txt", FIX);
    if (!d) return;
    char cur[32] = "";
    tcf_tokenizer *t = NULL;
    int blocks = 0, bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[32], hex[32];
        unsigned long b0;
        if (line[0] == '#' || sscanf(line, "%31s %lx %31s", name, &b0, hex) != 3) continue;
        if (strcmp(name, cur)) {
            tcf_tokenizer_free(t);
            char p[256];
            snprintf(p, sizeof p, FIX "%s.json", name);
            t = load_or_fail(p);
            snprintf(cur, sizeof cur, "%s", name);
        }
        if (!t) continue;
        words_ctx c = {TK_FNV_BASIS};
        for (uint32_t cp = (uint32_t)b0; cp < b0 + 4096 && cp < 0x110000; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            char buf[64];
            size_t n = cp_text(cp, buf);
            if (tk_tokenizer_words(t, buf, n, on_word, &c)) break;
            uint8_t fe = 0xFE;
            c.h = fnv(c.h, &fe, 1);
        }
        blocks++;
        if (c.h != strtoull(hex, NULL, 16) && bad++ < 8)
            fprintf(stderr, "FAIL %s: pre-tokenized words differ in block U+%04lX..U+%04lX\n", name, b0, b0 + 4095);
    }
    tcf_tokenizer_free(t);
    free(d);
    CHECK(blocks == 3 * 272 && bad == 0, "codepoints: %d of %d blocks differ", bad, blocks);
    printf("  %-34s %d blocks of 4096 (bytelevel, qwen2, llama3), %d differ\n", "every codepoint", blocks, bad);
}

/* ---- GGUF -------------------------------------------------------------------------------- */

static void test_gguf_fixture(const char *file, const char *cases) {
    tcf_tokenizer *t = load_or_fail(file);
    if (!t) return;
    run_cases(file, t, cases);
    tcf_tokenizer_free(t);
}

static void test_smollm2(void) {
    if (!exists(SMOL)) {
        printf("  SKIP SmolLM2 GGUF tokenizer: %s absent (scripts/fetch_models.sh --all)\n", SMOL);
        return;
    }
    tcf_tokenizer *t = load_or_fail(SMOL);
    if (!t) return;
    CHECK(tcf_tokenizer_vocab_size(t) == 49152, "SmolLM2 vocab size %d", tcf_tokenizer_vocab_size(t));
    CHECK(tcf_tokenizer_token_id(t, "<|im_start|>") == 1, "<|im_start|> is id 1");
    run_cases("SmolLM2 GGUF", t, FIX "smollm2.cases");
    run_digest("SmolLM2 GGUF", t, FIX "smollm2.digest", SANITIZED ? 8 : 1);
    tcf_tokenizer_free(t);
}

/* A little GGUF writer (the layout of src/io/gguf.c). */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void put(gbuf *b, const void *x, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, x, n);
    b->n += n;
}
static void put32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void putstr(gbuf *b, const char *s, size_t n) {
    put64(b, n);
    put(b, s, n);
}
static void key(gbuf *b, const char *k, uint32_t type) {
    putstr(b, k, strlen(k));
    put32(b, type);
    b->n_kv++;
}
static void kv_str(gbuf *b, const char *k, const char *v) {
    key(b, k, TCF_GGUF_STRING);
    putstr(b, v, strlen(v));
}
static void kv_u32(gbuf *b, const char *k, uint32_t v) {
    key(b, k, TCF_GGUF_U32);
    put32(b, v);
}
static void kv_bool(gbuf *b, const char *k, bool v) {
    key(b, k, TCF_GGUF_BOOL);
    uint8_t x = v;
    put(b, &x, 1);
}
static void kv_arr_hdr(gbuf *b, const char *k, uint32_t et, uint64_t n) {
    key(b, k, TCF_GGUF_ARRAY);
    put32(b, et);
    put64(b, n);
}

/* The image: "GGUF" v3, 0 tensors, the kvs of body. */
static uint8_t *gguf_image(const gbuf *body, size_t *len) {
    gbuf h = {0};
    put(&h, "GGUF", 4);
    put32(&h, 3);
    put64(&h, 0);
    put64(&h, body->n_kv);
    put(&h, body->p, body->n);
    *len = h.n;
    return h.p;
}

enum { G_OK = 0, G_TOKENS_I32, G_NO_MERGES, G_BAD_MERGE, G_BOS_RANGE, G_UNKNOWN_PRE, G_TYPES_LEN, G_NO_MODEL,
       G_MODEL_BERT, G_MERGE_SPACES };

/* tokenizer.ggml.* of bytelevel.json (pre "smollm"), spoiled as `what` says. */
static gbuf gguf_from_bytelevel(int what) {
    gbuf b = {0};
    char *text = read_file(FIX "bytelevel.json", NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *model = cJSON_GetObjectItem(root, "model"), *vocab = cJSON_GetObjectItem(model, "vocab");
    cJSON *merges = cJSON_GetObjectItem(model, "merges"), *x;
    int n = cJSON_GetArraySize(vocab);
    const char **tok = calloc((size_t)n, sizeof *tok);
    cJSON_ArrayForEach(x, vocab) tok[(int)x->valuedouble] = x->string;
    if (what != G_NO_MODEL) kv_str(&b, "tokenizer.ggml.model", what == G_MODEL_BERT ? "bert" : "gpt2");
    kv_str(&b, "tokenizer.ggml.pre", what == G_UNKNOWN_PRE ? "no-such-pre" : "smollm");
    if (what == G_TOKENS_I32) {
        kv_arr_hdr(&b, "tokenizer.ggml.tokens", TCF_GGUF_I32, (uint64_t)n);
        for (int i = 0; i < n; i++) put32(&b, (uint32_t)i);
    } else {
        kv_arr_hdr(&b, "tokenizer.ggml.tokens", TCF_GGUF_STRING, (uint64_t)n);
        for (int i = 0; i < n; i++) putstr(&b, tok[i], strlen(tok[i]));
    }
    int nt = what == G_TYPES_LEN ? n - 1 : n;
    kv_arr_hdr(&b, "tokenizer.ggml.token_type", TCF_GGUF_I32, (uint64_t)nt);
    for (int i = 0; i < nt; i++) put32(&b, i < 3 ? 3 : 1);
    if (what != G_NO_MERGES) {
        int nm = cJSON_GetArraySize(merges);
        kv_arr_hdr(&b, "tokenizer.ggml.merges", TCF_GGUF_STRING, (uint64_t)nm);
        int i = 0;
        cJSON_ArrayForEach(x, merges) {
            char buf[512];
            int l = snprintf(buf, sizeof buf, "%s %s", cJSON_GetArrayItem(x, 0)->valuestring,
                             cJSON_GetArrayItem(x, 1)->valuestring);
            if (i == 7 && what == G_BAD_MERGE) l = snprintf(buf, sizeof buf, "%s", "zzqx\xc4\xa0 q");
            if (i == 7 && what == G_MERGE_SPACES) l = snprintf(buf, sizeof buf, "%s", "a b c");
            putstr(&b, buf, (size_t)l);
            i++;
        }
    }
    kv_u32(&b, "tokenizer.ggml.bos_token_id", what == G_BOS_RANGE ? (uint32_t)n + 5 : 1);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 2);
    kv_bool(&b, "tokenizer.ggml.add_bos_token", false);
    free(tok);
    cJSON_Delete(root);
    return b;
}

static tcf_status load_gguf_image(int what, tcf_tokenizer **t) {
    gbuf b = gguf_from_bytelevel(what);
    size_t len;
    uint8_t *img = gguf_image(&b, &len);
    free(b.p);
    tcf_gguf *g = NULL;
    *t = NULL;
    tcf_status st = tcf_gguf_from_memory(img, len, "t.gguf", &g);
    if (!st) st = tcf_tokenizer_load_gguf(g, "t.gguf", t);
    tcf_gguf_free(g);
    free(img);
    return st;
}

/* The GGUF built from bytelevel.json equals that tokenizer.json on every text
 * of one data file and the cases, without special tokens (the GGUF has no
 * template) and leaving out texts with the JSON's two extra added tokens. */
static void test_gguf_built(void) {
    tcf_tokenizer *g = NULL, *j = load_or_fail(FIX "bytelevel.json");
    tcf_status st = load_gguf_image(G_OK, &g);
    CHECK(st == TCF_OK, "GGUF built from bytelevel.json: %s", tcf_last_error());
    if (!g || !j) {
        tcf_tokenizer_free(g);
        tcf_tokenizer_free(j);
        return;
    }
    int n, bad = 0, seen = 0;
    tcase *cs = load_cases(FIX "bytelevel.cases", &n);
    texts_t tx = {0};
    char path[1100];
    snprintf(path, sizeof path, "%s/banking77/test.csv", data_dir());
    CHECK(read_csv_texts(path, &tx) == 0, "cannot read %s", path);
    for (int i = 0; i < n + (int)tx.n; i++) {
        const char *s = i < n ? cs[i].text : tx.buf + tx.off[i - n];
        size_t l = i < n ? cs[i].len : tx.len[i - n];
        if (memmem(s, l, "ok", 2) || memmem(s, l, "<tool_call>", 11)) continue;
        int a = 0, b = 0;
        tcf_status s1 = enc(g, s, l, 1, ids_buf, &a), s2 = enc(j, s, l, 0, ids_buf2, &b);
        seen++;
        if ((s1 || s2 || a != b || memcmp(ids_buf, ids_buf2, sizeof(int32_t) * (size_t)a)) && bad++ < 3) {
            fprintf(stderr, "FAIL gguf vs json: ");
            print_text(stderr, s, l);
            fputc('\n', stderr);
            print_ids(stderr, "gguf", g, ids_buf, a);
            print_ids(stderr, "json", j, ids_buf2, b);
        }
    }
    CHECK(bad == 0 && seen > 2000, "GGUF (pre smollm) vs tokenizer.json: %d of %d texts differ", bad, seen);
    printf("  %-34s %4d texts, %d differ\n", "GGUF built here (pre smollm)", seen, bad);
    free_texts(&tx);
    free_cases(cs, n);
    tcf_tokenizer_free(g);
    tcf_tokenizer_free(j);
}

static void expect_gguf_error(int what, tcf_status want, const char *sub1, const char *sub2) {
    tcf_tokenizer *t = (tcf_tokenizer *)1;
    tcf_clear_error();
    tcf_status st = load_gguf_image(what, &t);
    const char *msg = tcf_last_error();
    CHECK(st == want, "gguf case %d: status %s, want %s (%s)", what, tcf_status_name(st), tcf_status_name(want), msg);
    CHECK(t == NULL, "gguf case %d: no tokenizer after failure", what);
    CHECK(strstr(msg, "t.gguf") && strstr(msg, sub1) && (!sub2 || strstr(msg, sub2)),
          "gguf case %d: message '%s' should name t.gguf, '%s'%s%s", what, msg, sub1, sub2 ? " and " : "",
          sub2 ? sub2 : "");
    if (st == TCF_OK) tcf_tokenizer_free(t);
}

static void test_gguf_bad(void) {
    expect_gguf_error(G_TOKENS_I32, TCF_ERR_FORMAT, "tokenizer.ggml.tokens", "array of i32");
    expect_gguf_error(G_NO_MERGES, TCF_ERR_FORMAT, "tokenizer.ggml.merges", "missing");
    expect_gguf_error(G_BAD_MERGE, TCF_ERR_FORMAT, "tokenizer.ggml.merges entry 8", "not in the vocab");
    expect_gguf_error(G_MERGE_SPACES, TCF_ERR_FORMAT, "tokenizer.ggml.merges[7]", "one space");
    expect_gguf_error(G_BOS_RANGE, TCF_ERR_FORMAT, "tokenizer.ggml.bos_token_id", "not a token id");
    expect_gguf_error(G_UNKNOWN_PRE, TCF_ERR_UNSUPPORTED, "tokenizer.ggml.pre", "no-such-pre");
    expect_gguf_error(G_TYPES_LEN, TCF_ERR_FORMAT, "tokenizer.ggml.token_type", "entries");
    expect_gguf_error(G_NO_MODEL, TCF_ERR_FORMAT, "tokenizer.ggml.model", "missing");
    expect_gguf_error(G_MODEL_BERT, TCF_ERR_UNSUPPORTED, "tokenizer.ggml.model", "bert");
    /* an absurd element count: the GGUF reader refuses it before any allocation */
    gbuf b = {0};
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_arr_hdr(&b, "tokenizer.ggml.tokens", TCF_GGUF_STRING, (uint64_t)1 << 60);
    putstr(&b, "a", 1);
    size_t len;
    uint8_t *img = gguf_image(&b, &len);
    tcf_gguf *g = NULL;
    tcf_status st = tcf_gguf_from_memory(img, len, "t.gguf", &g);
    CHECK(st == TCF_ERR_FORMAT && strstr(tcf_last_error(), "tokenizer.ggml.tokens"),
          "absurd token count: %s %s", tcf_status_name(st), tcf_last_error());
    tcf_gguf_free(g);
    free(img);
    free(b.p);
    /* a GGUF with no tokenizer at all, through tcf_tokenizer_load */
    tcf_tokenizer *t = NULL;
    st = tcf_tokenizer_load("tests/fixtures/gguf/types.gguf", &t);
    CHECK(st == TCF_ERR_FORMAT && strstr(tcf_last_error(), "types.gguf") && strstr(tcf_last_error(), "no tokenizer"),
          "GGUF without tokenizer keys: %s %s", tcf_status_name(st), tcf_last_error());
    tcf_tokenizer_free(t);
}

/* ---- variants: edited fixtures -------------------------------------------------------------- */

/* Set (or delete, for JSON null) the value at a dotted path. */
static void set_path(cJSON *root, const char *path, const cJSON *val) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *o = root;
    char *save = NULL, *k = strtok_r(buf, ".", &save), *next;
    while ((next = strtok_r(NULL, ".", &save))) {
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItem(o, k);
        k = next;
    }
    cJSON *v = cJSON_Duplicate(val, 1);
    if (cJSON_IsArray(o)) cJSON_ReplaceItemInArray(o, atoi(k), v);
    else if (cJSON_IsNull(v)) {
        cJSON_DeleteItemFromObject(o, k);
        cJSON_Delete(v);
    } else if (cJSON_GetObjectItem(o, k)) cJSON_ReplaceItemInObject(o, k, v);
    else cJSON_AddItemToObject(o, k, v);
}

static void test_variants(void) {
    char *vj = read_file(FIX "variants.json", NULL), *vt = read_file(FIX "variants.txt", NULL);
    CHECK(vj && vt, "cannot read %svariants.json / variants.txt", FIX);
    cJSON *list = vj ? cJSON_Parse(vj) : NULL;
    int nv = cJSON_GetArraySize(list), total = 0, bad = 0;
    tcf_tokenizer **toks = calloc((size_t)nv + 1, sizeof *toks);
    for (int i = 0; i < nv; i++) {
        const cJSON *v = cJSON_GetArrayItem(list, i), *e;
        char p[256];
        snprintf(p, sizeof p, FIX "%s.json", cJSON_GetObjectItem(v, "base")->valuestring);
        char *text = read_file(p, NULL);
        cJSON *root = cJSON_Parse(text);
        free(text);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(v, "edits"))
            set_path(root, cJSON_GetArrayItem(e, 0)->valuestring, cJSON_GetArrayItem(e, 1));
        char *j = cJSON_PrintUnformatted(root);
        tcf_status st = tcf_tokenizer_load_json(j, strlen(j), p, &toks[i]);
        CHECK(st == TCF_OK, "variant %d: %s", i, tcf_last_error());
        cJSON_free(j);
        cJSON_Delete(root);
    }
    char *save = NULL;
    for (char *line = vt ? strtok_r(vt, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        int vi = atoi(line);
        char *rest = strchr(line, '\t');
        if (!rest || vi < 0 || vi >= nv || !toks[vi]) continue;
        char *t1 = strchr(rest + 1, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) continue;
        size_t hl = (size_t)(t2 - t1 - 1), n = hl / 2;
        char text[256];
        for (size_t i = 0; i < n && i < sizeof text; i++) text[i] = (char)(hexval(t1[1 + 2 * i]) * 16 + hexval(t1[2 + 2 * i]));
        int want[1024], nw = 0, got = 0;
        for (char *q = t2 + 1; *q && nw < 1024;) {
            char *e;
            long x = strtol(q, &e, 10);
            if (e == q) break;
            want[nw++] = (int)x;
            q = e;
        }
        tcf_status st = enc(toks[vi], text, n, 1, ids_buf, &got);
        total++;
        if ((st || got != nw || memcmp(ids_buf, want, sizeof(int32_t) * (size_t)nw)) && bad++ < 6) {
            fprintf(stderr, "FAIL variant %d (%s): ", vi, cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(list, vi), "edits")));
            print_text(stderr, text, n);
            fputc('\n', stderr);
            print_ids(stderr, "tcf", toks[vi], ids_buf, st ? 0 : got);
            print_ids(stderr, "ref", toks[vi], want, nw);
        }
    }
    CHECK(nv >= 17 && total >= nv * 60 && bad == 0, "variants: %d of %d texts differ", bad, total);
    printf("  %-34s %d variants, %d texts, %d differ\n", "edited fixtures", nv, total, bad);
    for (int i = 0; i < nv; i++) tcf_tokenizer_free(toks[i]);
    free(toks);
    cJSON_Delete(list);
    free(vj);
    free(vt);
}

/* ---- bad tokenizer.json --------------------------------------------------------------------- */

typedef struct {
    const char *path; /* dotted: "model.merges" */
    const char *json; /* replacement value, NULL = delete */
} edit;

static void apply_edit(cJSON *root, const void *arg) {
    const edit *e = arg;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", e->path);
    cJSON *o = root;
    char *save = NULL, *k = strtok_r(buf, ".", &save), *next;
    while ((next = strtok_r(NULL, ".", &save))) {
        cJSON *c = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItem(o, k);
        o = c;
        k = next;
    }
    if (!e->json) {
        cJSON_DeleteItemFromObject(o, k);
        return;
    }
    cJSON *v = cJSON_Parse(e->json);
    if (cJSON_IsArray(o)) cJSON_ReplaceItemInArray(o, atoi(k), v);
    else if (cJSON_GetObjectItem(o, k)) cJSON_ReplaceItemInObject(o, k, v);
    else cJSON_AddItemToObject(o, k, v);
}

static void expect_json_error(const char *file, const char *path, const char *json, tcf_status want, const char *sub) {
    edit e = {path, json};
    size_t len;
    char *j = json_edit(file, apply_edit, &e, &len);
    tcf_tokenizer *t = (tcf_tokenizer *)1;
    tcf_clear_error();
    tcf_status st = tcf_tokenizer_load_json(j, len, "bad.json", &t);
    const char *msg = tcf_last_error();
    CHECK(st == want && t == NULL, "%s = %s: status %s, want %s (%s)", path, json ? json : "(deleted)",
          tcf_status_name(st), tcf_status_name(want), msg);
    CHECK(strstr(msg, "bad.json") && strstr(msg, sub), "%s: message '%s' should name bad.json and '%s'", path, msg, sub);
    if (st == TCF_OK) tcf_tokenizer_free(t);
    cJSON_free(j);
}

static void test_json_bad(void) {
    const char *B = FIX "bytelevel.json", *Q = FIX "qwen2.json", *L = FIX "llama.json";
    expect_json_error(B, "model.merges.5", "[\"zzqx\", \"t\"]", TCF_ERR_FORMAT, "\"zzqx\" is not in the vocab");
    expect_json_error(B, "model.merges.5", "\"a b c\"", TCF_ERR_FORMAT, "model.merges[5]");
    expect_json_error(B, "model.merges.5", "[\"a\"]", TCF_ERR_FORMAT, "model.merges[5]");
    expect_json_error(B, "model.merges", NULL, TCF_ERR_FORMAT, "model.merges is missing");
    expect_json_error(B, "model.vocab", NULL, TCF_ERR_FORMAT, "model.vocab is missing");
    expect_json_error(B, "model.vocab", "{}", TCF_ERR_FORMAT, "model.vocab is empty");
    expect_json_error(B, "model.dropout", "0.1", TCF_ERR_UNSUPPORTED, "dropout");
    expect_json_error(B, "model.unk_token", "\"<nope>\"", TCF_ERR_FORMAT, "unk_token \"<nope>\" is not in the vocab");
    expect_json_error(B, "pre_tokenizer", "{\"type\": \"FancySplit\"}", TCF_ERR_UNSUPPORTED, "FancySplit");
    expect_json_error(B, "pre_tokenizer.pretokenizers.0", "{\"type\": \"Punctuation\"}", TCF_ERR_UNSUPPORTED,
                      "Punctuation");
    expect_json_error(Q, "pre_tokenizer.pretokenizers.0.pattern", "{\"Regex\": \"(unclosed[\"}", TCF_ERR_FORMAT,
                      "invalid regex");
    expect_json_error(Q, "pre_tokenizer.pretokenizers.0.behavior", "\"Sideways\"", TCF_ERR_FORMAT, "Sideways");
    expect_json_error(Q, "pre_tokenizer.pretokenizers.0.pattern", "{\"Glob\": \"*\"}", TCF_ERR_FORMAT, "pattern");
    expect_json_error(Q, "normalizer", "{\"type\": \"Precompiled\"}", TCF_ERR_UNSUPPORTED, "Precompiled");
    expect_json_error(L, "normalizer.normalizers.1.content", NULL, TCF_ERR_FORMAT, "content");
    expect_json_error(L, "normalizer.normalizers.0.prepend", "5", TCF_ERR_FORMAT, "prepend");
}

/* ---- options, invalid UTF-8, accessors ------------------------------------------------------- */

static void test_misc(void) {
    tcf_tokenizer *t = load_or_fail(FIX "bytelevel.json");
    if (!t) return;
    int a = 0, b = 0;
    const char *s = "hello <|im_end|> world 123";
    CHECK(!enc(t, s, strlen(s), 1, ids_buf, &a) && !enc(t, s, strlen(s), 0, ids_buf2, &b), "encode");
    CHECK(a == b + 2 && ids_buf[0] == 1 && ids_buf[a - 1] == 2 && !memcmp(ids_buf + 1, ids_buf2, 4 * (size_t)b),
          "add_special adds <|im_start|> ... <|im_end|> around the same ids (%d vs %d)", a, b);
    const char bad[] = "ok \xe2\x82 broken";
    tcf_status st = enc(t, bad, sizeof bad - 1, 1, ids_buf, &a);
    CHECK(st == TCF_ERR_UTF8 && strstr(tcf_last_error(), "byte offset 3"), "invalid UTF-8: %s %s",
          tcf_status_name(st), tcf_last_error());
    const char sur[] = "\xed\xa0\x80";
    st = enc(t, sur, 3, 1, ids_buf, &a);
    CHECK(st == TCF_ERR_UTF8 && strstr(tcf_last_error(), "byte offset 0"), "surrogate: %s", tcf_last_error());
    int need = 0;
    tcf_encode_opts o = {1, 0};
    st = tcf_tokenizer_encode(t, s, strlen(s), &o, ids_buf, 2, &need);
    CHECK(st == TCF_ERR_ARG && need > 2, "cap too small: TCF_ERR_ARG and the count needed (%d)", need);
    o.max_len = 4;
    st = tcf_tokenizer_encode(t, s, strlen(s), &o, ids_buf, MAXIDS, &a);
    CHECK(!st && a == 4 && ids_buf[0] == 1 && ids_buf[3] == 2, "max_len 4 keeps the specials (%d ids)", a);
    CHECK(tcf_tokenizer_token_id(t, "<|im_start|>") == 1, "token_id of an added token");
    CHECK(tcf_tokenizer_token(t, 1) && !strcmp(tcf_tokenizer_token(t, 1), "<|im_start|>"), "token of id 1");
    tcf_tokenizer_free(t);
}

/* Concurrent encode_batch equals one thread, on one data file through two tokenizers. */
static void test_threads(void) {
    char path[1100];
    snprintf(path, sizeof path, "%s/clinc150/train.csv", data_dir());
    texts_t tx;
    if (read_csv_texts(path, &tx)) {
        CHECK(0, "cannot read %s", path);
        return;
    }
    int n = (int)tx.n;
    const char **texts = malloc(sizeof *texts * (size_t)n);
    int32_t **a = malloc(sizeof *a * (size_t)n), **b = malloc(sizeof *b * (size_t)n);
    int *caps = malloc(sizeof *caps * (size_t)n), *na = malloc(sizeof *na * (size_t)n), *nb = malloc(sizeof *nb * (size_t)n);
    for (int i = 0; i < n; i++) {
        texts[i] = tx.buf + tx.off[i];
        caps[i] = (int)tx.len[i] * 3 + 8;
        a[i] = malloc(sizeof(int32_t) * (size_t)caps[i]);
        b[i] = malloc(sizeof(int32_t) * (size_t)caps[i]);
    }
    const char *models[] = {FIX "qwen2.json", FIX "llama.json"};
    for (int m = 0; m < 2; m++) {
        tcf_tokenizer *t = load_or_fail(models[m]);
        if (!t) continue;
        tcf_status s1 = tcf_tokenizer_encode_batch(t, n, texts, tx.len, NULL, a, caps, na, 1);
        tcf_status s2 = tcf_tokenizer_encode_batch(t, n, texts, tx.len, NULL, b, caps, nb, 4);
        int diff = 0;
        for (int i = 0; i < n; i++) diff += na[i] != nb[i] || memcmp(a[i], b[i], sizeof(int32_t) * (size_t)na[i]);
        CHECK(!s1 && !s2 && diff == 0, "%s: 4 threads differ from 1 on %d of %d texts", models[m], diff, n);
        printf("  %-34s %d texts, 1 vs 4 threads: %d differ\n", models[m] + strlen(FIX), n, diff);
        tcf_tokenizer_free(t);
    }
    for (int i = 0; i < n; i++) {
        free(a[i]);
        free(b[i]);
    }
    free(a), free(b), free(caps), free(na), free(nb), free(texts);
    free_texts(&tx);
}

/* ---- bench ----------------------------------------------------------------------------------- */

static int bench(const char *model, const char *csv, int threads) {
    tcf_tokenizer *t = NULL;
    if (tcf_tokenizer_load(model, &t)) {
        fprintf(stderr, "%s\n", tcf_last_error());
        return 1;
    }
    texts_t tx;
    if (read_csv_texts(csv, &tx)) {
        fprintf(stderr, "cannot read %s\n", csv);
        return 1;
    }
    int n = (int)tx.n;
    const char **texts = malloc(sizeof *texts * (size_t)n);
    int32_t **ids = malloc(sizeof *ids * (size_t)n);
    int *caps = malloc(sizeof *caps * (size_t)n), *cnt = malloc(sizeof *cnt * (size_t)n);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        texts[i] = tx.buf + tx.off[i];
        caps[i] = (int)tx.len[i] * 3 + 8;
        ids[i] = malloc(sizeof(int32_t) * (size_t)caps[i]);
        bytes += tx.len[i];
    }
    double best = 1e30;
    long total = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = tcf_now();
        if (tcf_tokenizer_encode_batch(t, n, texts, tx.len, NULL, ids, caps, cnt, threads)) {
            fprintf(stderr, "%s\n", tcf_last_error());
            return 1;
        }
        double dt = tcf_now() - t0;
        if (dt < best) best = dt;
    }
    for (int i = 0; i < n; i++) total += cnt[i];
    printf("{\"texts\": %d, \"bytes\": %zu, \"ids\": %ld, \"seconds\": %.6f}\n", n, bytes, total, best);
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(texts);
    free(caps);
    free(cnt);
    free_texts(&tx);
    tcf_tokenizer_free(t);
    return 0;
}

static void print_word(void *ctx, const uint32_t *w, size_t n, int32_t added_id) {
    uint8_t b[4];
    for (size_t i = 0; i < n; i++) fwrite(b, 1, (size_t)tk_utf8_put(b, w[i]), stdout);
    putchar('|');
    (void)ctx, (void)added_id;
}

/* --show-cp NAME FIRST LAST: our words of cp_text(c), to diff with the generator's --show-cp */
static int show_cp(const char *name, uint32_t a, uint32_t b) {
    char p[256];
    snprintf(p, sizeof p, FIX "%s.json", name);
    tcf_tokenizer *t = load_or_fail(p);
    for (uint32_t c = a; t && c <= b; c++) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        char buf[64];
        size_t n = cp_text(c, buf);
        printf("U+%04X ", c);
        tk_tokenizer_words(t, buf, n, print_word, NULL);
        putchar('\n');
    }
    tcf_tokenizer_free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "--bench")) return bench(argv[2], argv[3], atoi(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "--show-cp"))
        return show_cp(argv[2], (uint32_t)strtoul(argv[3], NULL, 0), (uint32_t)strtoul(argv[4], NULL, 0));
    int stride = SANITIZED ? 8 : 1; /* the sanitizers make full data passes ~20x slower */
    printf("byte-level and SentencePiece BPE vs tokenizers%s:\n", SANITIZED ? " (sanitized build: 1/8 of the data)" : "");
    test_fixture("bytelevel", 1);
    test_fixture("llama", stride);
    test_fixture("metaspace", stride);
    test_fixture("qwen2", stride);
    test_fixture("llama3", stride);
    test_string_merges();
    test_variants();
    test_codepoints();
    printf("GGUF:\n");
    test_gguf_fixture(FIX "qwen2.gguf", FIX "qwen2_gguf.cases");
    test_gguf_fixture(FIX "spm.gguf", FIX "spm_gguf.cases");
    test_gguf_built();
    test_smollm2();
    printf("errors and options:\n");
    test_gguf_bad();
    test_json_bad();
    test_misc();
    test_threads();
    return check_summary("test_bpe");
}
