/*
 * test_tokenizer.c — parity of tcf_tokenizer_* with Hugging Face `tokenizers`
 * on models/all-MiniLM-L6-v2, through the fixtures of tests/fixtures/tokenizer/
 * (written by tests/ref/gen_tokenizer_fixtures.py, which also documents the
 * digest layout):
 *   cases.txt        full ids of the adversarial strings and a data sample
 *   added_cases.txt  full ids with the extra added tokens of extra_added.json
 *   variants.txt     full ids under the tokenizer.json edits of variants.json
 *   data_digest.txt  every text of ../shared/data/<set>/<split>.csv (or
 *                    $TCF_SHARED_DATA): FNV-1a of ids per 64 rows. A missing
 *                    data directory is a failure, not a skip.
 *   random.txt       2000 random strings, regenerated here by the same splitmix64
 *   codepoints.txt   every codepoint: words (normalised + pre-tokenised) of one
 *                    text and ids of another, digested per 4096 codepoints
 * plus the accessors, vocab.txt-only loading, invalid UTF-8, encode options,
 * bad tokenizer files, concurrent encoding, and tests/regress/tokenizer-*.
 *
 *   build/tests/test_tokenizer                      run the tests
 *   build/tests/test_tokenizer --show-codepoints A B  our words/ids, to diff with
 *       the generator's --show-codepoints output when a block mismatches
 *   build/tests/test_tokenizer --bench FILE.csv     encode throughput (bench/)
 */
#include "check.h"
#include "tcf.h"

#include "base/base.h"
#include "text/tokenizer_internal.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>
#include <cjson/cJSON.h>

#define MODEL_DIR "models/all-MiniLM-L6-v2"
#define FIX_DIR "tests/fixtures/tokenizer"
#define MAXIDS 4096

/* ---- small helpers ----------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * TK_FNV_PRIME;
    return h;
}

/* The digest layout: each id as little-endian int32, then int32 -1. */
static uint64_t fnv_ids(uint64_t h, const int32_t *ids, int n) {
    for (int i = 0; i <= n; i++) {
        int32_t v = i < n ? ids[i] : -1;
        uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        h = fnv(h, b, 4);
    }
    return h;
}

static tcf_status enc(const tcf_tokenizer *t, const char *s, size_t n, int add, int max_len, int32_t *ids,
                      int *n_ids) {
    tcf_encode_opts o = {add, max_len};
    return tcf_tokenizer_encode(t, s, n, &o, ids, MAXIDS, n_ids);
}

static void print_text(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n && i < 300; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    fprintf(f, n > 300 ? "\"...(%zu bytes)" : "\"", n);
}

static void print_ids(FILE *f, const char *what, const tcf_tokenizer *t, const int32_t *ids, int n) {
    fprintf(f, "    %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++) {
        const char *tk = tcf_tokenizer_token(t, ids[i]);
        fprintf(f, " %d:%s", ids[i], tk ? tk : "?");
    }
    fprintf(f, n > 40 ? " ...\n" : "\n");
}

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *read_text_file(const char *path, size_t *len) {
    char *d;
    size_t n;
    if (tcf_read_file(path, &d, &n)) return NULL;
    if (len) *len = n;
    return d;
}

/* ---- fixture: cases --------------------------------------------------------------- */

typedef struct {
    char group[256];
    int add, max_len;
    char *text;
    size_t len;
    int32_t *ids;
    int n;
} tcase;

/* Lines "group<TAB>add<TAB>max_len<TAB>hex<TAB>ids"; '#' lines are comments. */
static tcase *load_cases(const char *path, int *count) {
    char *d = read_text_file(path, NULL);
    *count = 0;
    if (!d) return NULL;
    int cap = 1024, n = 0;
    tcase *cs = calloc((size_t)cap, sizeof *cs);
    for (char *line = strtok(d, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *f[5];
        int k = 0;
        for (char *p = line; k < 5; k++) {
            f[k] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        if (k < 4) continue;
        if (n == cap) cs = realloc(cs, (size_t)(cap *= 2) * sizeof *cs);
        tcase *c = &cs[n++];
        memset(c, 0, sizeof *c);
        snprintf(c->group, sizeof c->group, "%s", f[0]);
        c->add = atoi(f[1]);
        c->max_len = atoi(f[2]);
        size_t hl = strcmp(f[3], "-") ? strlen(f[3]) : 0;
        c->text = malloc(hl / 2 + 1);
        for (size_t i = 0; i + 1 < hl + 1 && i < hl; i += 2)
            c->text[i / 2] = (char)(hexval(f[3][i]) * 16 + hexval(f[3][i + 1]));
        c->len = hl / 2;
        c->text[c->len] = '\0';
        c->ids = malloc(MAXIDS * sizeof *c->ids);
        for (char *p = f[4], *e; *p; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p) break;
            c->ids[c->n++] = (int32_t)v;
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

/* Compare every case; max_len_override > 0 replaces a case's 0 (the
 * tokenizer's own truncation). Returns the number of mismatches. */
static int run_cases(const tcf_tokenizer *t, const tcase *cs, int n, int max_len_override,
                     const char *what) {
    int32_t ids[MAXIDS];
    int bad = 0, n_adv = 0;
    for (int i = 0; i < n; i++) {
        const tcase *c = &cs[i];
        int m = c->max_len ? c->max_len : max_len_override, got = -1;
        tcf_status st = enc(t, c->text, c->len, c->add, m, ids, &got);
        bool ok = st == TCF_OK && got == c->n && !memcmp(ids, c->ids, (size_t)got * sizeof *ids);
        n_adv += !strcmp(c->group, "adv");
        if (!ok && bad++ < 10) {
            fprintf(stderr, "FAIL %s case %d [%s] add_special=%d max_len=%d text=", what, i, c->group, c->add,
                    c->max_len);
            print_text(stderr, c->text, c->len);
            fprintf(stderr, "\n    status: %s %s\n", tcf_status_name(st), st ? tcf_last_error() : "");
            print_ids(stderr, "tcf", t, ids, st ? 0 : got);
            print_ids(stderr, "ref", t, c->ids, c->n);
        }
    }
    CHECK(bad == 0, "%s: %d of %d cases differ", what, bad, n);
    if (n_adv) printf("  %-40s %d cases (%d adversarial), %d differ\n", what, n, n_adv, bad);
    else printf("  %-40s %d cases, %d differ\n", what, n, bad);
    return bad;
}

/* ---- fixture: data digests ------------------------------------------------------------ */

typedef struct {
    char *buf;       /* unescaped texts, NUL after each */
    size_t *off, *len;
    size_t n;
} texts_t;

static void free_texts(texts_t *t) {
    free(t->buf);
    free(t->off);
    free(t->len);
    memset(t, 0, sizeof *t);
}

/* One RFC 4180 field at s[*i]: quoted ("" escapes a quote, CR/LF allowed
 * inside) or bare. Appends it to dst when dst is not NULL. Returns ',' when a
 * field follows, '\n' at the end of a record, 0 at the end of input, -1 on a
 * malformed quoted field. */
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

/* The first column of every record after the header (which must start "text"). */
static int read_csv_texts(const char *path, texts_t *out) {
    memset(out, 0, sizeof *out);
    size_t n;
    char *s = read_text_file(path, &n);
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

/* Every CSV under the data directory must be in the digest. */
static void check_all_listed(const char *dir, const char *digest) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        DIR *d2 = opendir(sub);
        if (!d2) continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            size_t l = strlen(f->d_name);
            if (l < 4 || strcmp(f->d_name + l - 4, ".csv")) continue;
            char key[1100];
            snprintf(key, sizeof key, "F %s/%s ", e->d_name, f->d_name);
            CHECK(strstr(digest, key) != NULL,
                  "%s/%s/%s is not in %s/data_digest.txt: rerun tests/ref/gen_tokenizer_fixtures.py", dir,
                  e->d_name, f->d_name, FIX_DIR);
        }
        closedir(d2);
    }
    closedir(d);
}

static void test_data(const tcf_tokenizer *t) {
    const char *dir = data_dir();
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        CHECK(0, "data directory %s is missing (set TCF_SHARED_DATA or lay ../shared beside the clone)", dir);
        return;
    }
    char *dg = read_text_file(FIX_DIR "/data_digest.txt", NULL);
    CHECK(dg != NULL, "cannot read %s/data_digest.txt", FIX_DIR);
    if (!dg) return;
    check_all_listed(dir, dg);
    int32_t ids[MAXIDS];
    size_t total = 0, files = 0;
    texts_t tx = {0};
    char file[1100] = "";
    bool have = false;
    int file_bad = 0;
    double t0 = tcf_now();
    char *save = NULL;
    for (char *line = strtok_r(dg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char rel[512];
        long rows, chunk;
        char hex[32];
        if (sscanf(line, "F %511s %ld", rel, &rows) == 2) {
            free_texts(&tx);
            snprintf(file, sizeof file, "%s/%s", dir, rel);
            have = read_csv_texts(file, &tx) == 0;
            CHECK(have, "%s: cannot read or parse as CSV with a text column", file);
            if (have) {
                CHECK((long)tx.n == rows, "%s: %zu rows, the digest has %ld", file, tx.n, rows);
                printf("  %-40s %6zu texts\n", rel, tx.n);
                total += tx.n;
                files++;
            }
            file_bad = 0;
        } else if (have && sscanf(line, "C %ld %31s", &chunk, hex) == 2) {
            uint64_t want = strtoull(hex, NULL, 16), h = TK_FNV_BASIS;
            size_t a = (size_t)chunk * 64, b = a + 64 < tx.n ? a + 64 : tx.n;
            for (size_t i = a; i < b; i++) {
                int n = 0;
                tcf_status st = enc(t, tx.buf + tx.off[i], tx.len[i], 1, 0, ids, &n);
                if (st) {
                    fprintf(stderr, "  %s row %zu: %s\n", file, i + 2, tcf_last_error());
                    n = 0;
                }
                h = fnv_ids(h, ids, n);
            }
            CHECK(h == want, "%s: rows %zu..%zu (file lines, header = 1): ids differ from the reference", file,
                  a + 2, b + 1);
            if (h != want && file_bad++ == 0) {
                fprintf(stderr, "    our ids (the reference has only a digest; rerun the generator to compare):\n");
                for (size_t i = a; i < b; i++) {
                    int n = 0;
                    enc(t, tx.buf + tx.off[i], tx.len[i], 1, 0, ids, &n);
                    fprintf(stderr, "    row %zu ", i + 2);
                    print_text(stderr, tx.buf + tx.off[i], tx.len[i]);
                    fputc('\n', stderr);
                    print_ids(stderr, "tcf", t, ids, n);
                }
            }
        }
    }
    free_texts(&tx);
    free(dg);
    printf("  data parity: %zu texts in %zu files compared (%.2fs)\n", total, files, tcf_now() - t0);
    CHECK(total > 100000, "only %zu data texts compared", total);
}

/* ---- fixture: random strings (mirror of random_string() in the generator) ---------------- */

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

/* The i-th random string as UTF-8 into buf (room for 48 * 40 bytes). */
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

static void test_random(const tcf_tokenizer *t) {
    char *d = read_text_file(FIX_DIR "/random.txt", NULL);
    CHECK(d != NULL, "cannot read %s/random.txt", FIX_DIR);
    if (!d) return;
    unsigned long long seed = 0;
    int count = 0, seen = 0, bad = 0;
    int32_t ids[MAXIDS];
    char buf[48 * 40];
    char *save = NULL;
    for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int i;
        char hex[32];
        if (sscanf(line, "R %llu %d", &seed, &count) == 2) continue;
        if (line[0] == '#' || sscanf(line, "%d %31s", &i, hex) != 2) continue;
        size_t n = random_string(seed, i, buf);
        int got = 0;
        tcf_status st = enc(t, buf, n, 1, 0, ids, &got);
        uint64_t h = fnv_ids(TK_FNV_BASIS, ids, st ? 0 : got);
        seen++;
        if (h != strtoull(hex, NULL, 16) && bad++ < 5) {
            fprintf(stderr, "FAIL random string %d: ", i);
            print_text(stderr, buf, n);
            fprintf(stderr, "\n    status %s; reference: gen_tokenizer_fixtures.py --show-random %d\n",
                    tcf_status_name(st), i);
            print_ids(stderr, "tcf", t, ids, st ? 0 : got);
        }
    }
    free(d);
    CHECK(seen == count && count >= 2000, "random: %d strings checked of %d", seen, count);
    CHECK(bad == 0, "random: %d of %d strings differ", bad, seen);
    printf("  %-40s %d strings, %d differ\n", "random strings", seen, bad);
}

/* ---- fixture: every codepoint ------------------------------------------------------------ */

typedef struct {
    uint64_t h;
    FILE *show; /* print the words instead */
} words_ctx;

static void on_word(void *ctx, const uint32_t *w, size_t n, int32_t added_id) {
    words_ctx *c = ctx;
    uint8_t buf[8];
    if (c->show) fputs(c->show == stdout && n ? " '" : " ", c->show);
    for (size_t i = 0; i < n; i++) {
        int k = tk_utf8_put(buf, w[i]);
        c->h = fnv(c->h, buf, (size_t)k);
        if (c->show) fwrite(buf, 1, (size_t)k, c->show);
    }
    if (c->show) fputs(n ? "'" : "<added>", c->show);
    (void)added_id;
    c->h = fnv(c->h, "\xff", 1);
}

static size_t cp_text_words(uint32_t c, char *b) { /* "A" c "b𝅥" c c "𝅥 " c */
    size_t k = 0;
    b[k++] = 'A';
    k += (size_t)tk_utf8_put((uint8_t *)b + k, c);
    b[k++] = 'b';
    k += (size_t)tk_utf8_put((uint8_t *)b + k, 0x1D165);
    k += (size_t)tk_utf8_put((uint8_t *)b + k, c);
    k += (size_t)tk_utf8_put((uint8_t *)b + k, c);
    k += (size_t)tk_utf8_put((uint8_t *)b + k, 0x1D165);
    b[k++] = ' ';
    k += (size_t)tk_utf8_put((uint8_t *)b + k, c);
    return k;
}

static size_t cp_text_ids(uint32_t c, char *b) { /* c " x" c "s" */
    size_t k = (size_t)tk_utf8_put((uint8_t *)b, c);
    b[k++] = ' ';
    b[k++] = 'x';
    k += (size_t)tk_utf8_put((uint8_t *)b + k, c);
    b[k++] = 's';
    return k;
}

static uint64_t codepoint_digest(const tcf_tokenizer *t, uint32_t c, uint64_t h, FILE *show) {
    char b[64];
    int32_t ids[64];
    int n = 0;
    words_ctx wc = {h, show};
    if (show) fprintf(show, "U+%04X words", c);
    tk_tokenizer_words(t, b, cp_text_words(c, b), on_word, &wc);
    h = fnv(wc.h, "\xfe", 1);
    tcf_encode_opts o = {1, 0};
    if (tcf_tokenizer_encode(t, b, cp_text_ids(c, b), &o, ids, 64, &n)) n = 0;
    if (show) {
        fprintf(show, " ids");
        for (int i = 0; i < n; i++) fprintf(show, " %d", ids[i]);
        fputc('\n', show);
    }
    return fnv_ids(h, ids, n);
}

static void test_codepoints(const tcf_tokenizer *t) {
    char *d = read_text_file(FIX_DIR "/codepoints.txt", NULL);
    CHECK(d != NULL, "cannot read %s/codepoints.txt", FIX_DIR);
    if (!d) return;
    long block = 0;
    int blocks = 0, bad = 0;
    long cps = 0;
    double t0 = tcf_now();
    char *save = NULL;
    for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long start;
        char hex[32];
        if (sscanf(line, "B %ld", &block) == 1 || line[0] == '#') continue;
        if (sscanf(line, "%lx %31s", &start, hex) != 2 || block <= 0) continue;
        uint64_t h = TK_FNV_BASIS;
        for (uint32_t c = (uint32_t)start; c < start + (unsigned long)block && c < 0x110000; c++) {
            if (c >= 0xD800 && c <= 0xDFFF) continue;
            h = codepoint_digest(t, c, h, NULL);
            cps++;
        }
        blocks++;
        if (h != strtoull(hex, NULL, 16) && bad++ < 10)
            fprintf(stderr,
                    "FAIL codepoints U+%04lX..U+%04lX differ from the reference; compare\n"
                    "    build/tests/test_tokenizer --show-codepoints 0x%lx 0x%lx\n"
                    "    .venv/bin/python tests/ref/gen_tokenizer_fixtures.py --show-codepoints 0x%lx 0x%lx\n",
                    start, start + (unsigned long)block - 1, start, start + (unsigned long)block - 1, start,
                    start + (unsigned long)block - 1);
    }
    free(d);
    CHECK(cps == 0x110000 - 0x800, "codepoints: %ld checked", cps);
    CHECK(bad == 0, "codepoints: %d of %d blocks differ", bad, blocks);
    printf("  %-40s %ld codepoints in %d blocks, %d differ (%.2fs)\n", "every codepoint", cps, blocks, bad,
           tcf_now() - t0);
}

/* ---- accessors, options, UTF-8, vocab.txt ------------------------------------------------- */

static void test_accessors(const tcf_tokenizer *t) {
    CHECK(tcf_tokenizer_vocab_size(t) == 30522, "vocab size %d", tcf_tokenizer_vocab_size(t));
    CHECK(tcf_tokenizer_token_id(t, "[PAD]") == 0, "[PAD]");
    CHECK(tcf_tokenizer_token_id(t, "[UNK]") == 100, "[UNK]");
    CHECK(tcf_tokenizer_token_id(t, "[CLS]") == 101, "[CLS]");
    CHECK(tcf_tokenizer_token_id(t, "[SEP]") == 102, "[SEP]");
    CHECK(tcf_tokenizer_token_id(t, "[MASK]") == 103, "[MASK]");
    CHECK(tcf_tokenizer_token_id(t, "hello") == 7592, "hello -> %d", tcf_tokenizer_token_id(t, "hello"));
    CHECK(tcf_tokenizer_token_id(t, "##ing") == 2075, "##ing -> %d", tcf_tokenizer_token_id(t, "##ing"));
    CHECK(tcf_tokenizer_token_id(t, "Hello") == -1, "Hello is not in an uncased vocab");
    CHECK(tcf_tokenizer_token_id(t, "") == -1, "empty token");
    CHECK(tcf_tokenizer_token_id(t, NULL) == -1, "NULL token");
    const char *s = tcf_tokenizer_token(t, 7592);
    CHECK(s && !strcmp(s, "hello"), "token 7592 = %s", s ? s : "NULL");
    s = tcf_tokenizer_token(t, 103);
    CHECK(s && !strcmp(s, "[MASK]"), "token 103 = %s", s ? s : "NULL");
    s = tcf_tokenizer_token(t, 30521);
    CHECK(s && !strcmp(s, "##\xef\xbd\x9e"), "last token = %s", s ? s : "NULL");
    CHECK(tcf_tokenizer_token(t, 30522) == NULL, "id past the end");
    CHECK(tcf_tokenizer_token(t, -1) == NULL, "negative id");
    CHECK(tcf_tokenizer_pad_id(t) == 0, "pad id %d", tcf_tokenizer_pad_id(t));
    CHECK(tcf_tokenizer_max_len(t) == 128, "max len %d", tcf_tokenizer_max_len(t));
    /* every id round-trips through its token */
    int bad = 0;
    for (int32_t id = 0; id < tcf_tokenizer_vocab_size(t); id++) {
        const char *tk = tcf_tokenizer_token(t, id);
        if (!tk || tcf_tokenizer_token_id(t, tk) != id) bad++;
    }
    CHECK(bad == 0, "%d ids do not round-trip through tcf_tokenizer_token", bad);
    CHECK(tcf_tokenizer_vocab_size(NULL) == 0 && tcf_tokenizer_token(NULL, 0) == NULL &&
              tcf_tokenizer_token_id(NULL, "a") == -1,
          "NULL tokenizer");
    tcf_tokenizer_free(NULL);
}

static void test_encode_options(const tcf_tokenizer *t) {
    int32_t ids[MAXIDS];
    int n = -1;
    /* NULL opts: specials and the tokenizer's own truncation */
    CHECK(tcf_tokenizer_encode(t, "hello world", 11, NULL, ids, MAXIDS, &n) == TCF_OK && n == 4 && ids[0] == 101 &&
              ids[1] == 7592 && ids[2] == 2088 && ids[3] == 102,
          "hello world with NULL opts (n=%d)", n);
    CHECK(tcf_tokenizer_encode(t, NULL, 0, NULL, ids, MAXIDS, &n) == TCF_OK && n == 2, "NULL empty text");
    /* a cap too small: TCF_ERR_ARG, and n says how many are needed */
    tcf_encode_opts o = {1, 0};
    CHECK(tcf_tokenizer_encode(t, "hello world", 11, &o, ids, 3, &n) == TCF_ERR_ARG && n == 4,
          "cap 3 for 4 ids: n=%d", n);
    CHECK(strstr(tcf_last_error(), "cap") != NULL, "message: %s", tcf_last_error());
    CHECK(tcf_tokenizer_encode(t, "hello world", 11, &o, ids, 4, &n) == TCF_OK && n == 4, "cap 4 for 4 ids");
    /* a long text is cut to 128 by default, and to max_len on request */
    char big[4000];
    size_t bl = 0;
    for (int i = 0; i < 300; i++) bl += (size_t)snprintf(big + bl, sizeof big - bl, "word ");
    CHECK(enc(t, big, bl, 1, 0, ids, &n) == TCF_OK && n == 128 && ids[127] == 102, "default truncation n=%d", n);
    CHECK(enc(t, big, bl, 1, 1000, ids, &n) == TCF_OK && n == 302, "max_len 1000: n=%d", n);
    CHECK(enc(t, big, bl, 0, 7, ids, &n) == TCF_OK && n == 7 && ids[6] == tcf_tokenizer_token_id(t, "word"),
          "no specials, max_len 7: n=%d", n);
    CHECK(enc(t, big, bl, 1, 2, ids, &n) == TCF_OK && n == 2 && ids[0] == 101 && ids[1] == 102, "max_len 2");
    CHECK(enc(t, big, bl, 1, 1, ids, &n) == TCF_ERR_ARG, "max_len 1 < 2 specials");
    CHECK(strstr(tcf_last_error(), "special") != NULL, "message: %s", tcf_last_error());
    CHECK(enc(t, big, bl, 1, -5, ids, &n) == TCF_ERR_ARG, "negative max_len");
    CHECK(tcf_tokenizer_encode(NULL, "a", 1, &o, ids, 8, &n) == TCF_ERR_ARG, "NULL tokenizer");
    CHECK(tcf_tokenizer_encode(t, "a", 1, &o, NULL, 8, &n) == TCF_ERR_ARG, "NULL ids");
    /* the length is honoured: text need not be NUL-terminated, and NUL is a char */
    CHECK(enc(t, "hello world", 5, 1, 0, ids, &n) == TCF_OK && n == 3 && ids[1] == 7592, "len 5 of 'hello world'");
    CHECK(enc(t, "a\0b", 3, 1, 0, ids, &n) == TCF_OK && n == 3 && ids[1] == tcf_tokenizer_token_id(t, "ab"),
          "NUL is dropped: n=%d", n);
}

static void test_utf8(const tcf_tokenizer *t) {
    static const struct {
        const char *s;
        size_t len;
        size_t off;
    } bad[] = {
        {"abc\xff", 4, 3},          {"\x80", 1, 0},                 {"ok \xc0\xaf", 5, 3},
        {"\xe0\x80\xaf", 3, 0},     {"x\xed\xa0\x80y", 5, 1},       {"\xf4\x90\x80\x80", 4, 0},
        {"\xf8\x88\x80\x80\x80", 5, 0}, {"caf\xc3", 4, 3},           {"\xe2\x82", 2, 0},
        {"\xf0\x9f\x98", 3, 0},     {"ab\xc3(", 4, 2},              {"\xc1\xbf", 2, 0},
    };
    int32_t ids[64];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int n = -1;
        tcf_status st = enc(t, bad[i].s, bad[i].len, 1, 0, ids, &n);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu ", bad[i].off);
        CHECK(st == TCF_ERR_UTF8 && strstr(tcf_last_error(), want) && n == 0, "invalid UTF-8 #%zu: %s / %s", i,
              tcf_status_name(st), tcf_last_error());
    }
    /* the longest valid sequences of each length are accepted */
    int n = 0;
    CHECK(enc(t, "\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf", 10, 1, 0, ids, &n) == TCF_OK, "valid edges");
}

static char tmpdir[256];

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *d = read_text_file(from, &n);
    FILE *f = fopen(to, "wb");
    if (d && f) fwrite(d, 1, n, f);
    if (f) fclose(f);
    free(d);
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

static void test_vocab_txt(const tcase *cs, int n) {
    char p[512];
    tcf_tokenizer *v = NULL;
    snprintf(p, sizeof p, "%s/vocab.txt", tmpdir);
    copy_file(MODEL_DIR "/vocab.txt", p);
    tcf_status st = tcf_tokenizer_load(tmpdir, &v);
    CHECK(st == TCF_OK, "vocab.txt dir: %s", tcf_last_error());
    if (st) return;
    CHECK(tcf_tokenizer_vocab_size(v) == 30522 && tcf_tokenizer_pad_id(v) == 0 && tcf_tokenizer_max_len(v) == 0,
          "vocab.txt accessors: %d %d %d", tcf_tokenizer_vocab_size(v), tcf_tokenizer_pad_id(v),
          tcf_tokenizer_max_len(v));
    run_cases(v, cs, n, 128, "vocab.txt only (max_len 128)");
    tcf_tokenizer_free(v);
    /* tokenizer_config.json beside it: model_max_length and do_lower_case */
    snprintf(p, sizeof p, "%s/tokenizer_config.json", tmpdir);
    write_file(p, "{\"do_lower_case\": false, \"model_max_length\": 64, \"unk_token\": {\"content\": \"[UNK]\"}}");
    snprintf(p, sizeof p, "%s/vocab.txt", tmpdir);
    st = tcf_tokenizer_load(p, &v);
    CHECK(st == TCF_OK, "vocab.txt file: %s", tcf_last_error());
    if (st) return;
    int32_t ids[16];
    int k = 0;
    CHECK(tcf_tokenizer_max_len(v) == 64, "model_max_length -> %d", tcf_tokenizer_max_len(v));
    CHECK(enc(v, "Hello", 5, 0, 0, ids, &k) == TCF_OK && k == 1 && ids[0] == 100, "cased: Hello is [UNK] (%d)",
          k ? ids[0] : -1);
    tcf_tokenizer_free(v);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", tmpdir);
    write_file(p, "{\"model_max_length\": 1000000000000000019884624838656}");
    st = tcf_tokenizer_load(tmpdir, &v);
    CHECK(st == TCF_OK && tcf_tokenizer_max_len(v) == 0, "huge model_max_length is no truncation");
    tcf_tokenizer_free(v);
    remove(p);
}

/* ---- added tokens (lstrip, rstrip, single_word, normalized) --------------------------------- */

static void test_added(const char *json, size_t len) {
    size_t xl;
    char *extra = read_text_file(FIX_DIR "/extra_added.json", &xl);
    CHECK(extra != NULL, "cannot read %s/extra_added.json", FIX_DIR);
    if (!extra) return;
    /* the extra entries go first in "added_tokens", as in the generator */
    cJSON *root = cJSON_ParseWithLength(json, len), *x = cJSON_Parse(extra), *e;
    cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "added_tokens") : NULL;
    CHECK(arr && cJSON_IsArray(x), "cannot splice extra_added.json into tokenizer.json");
    if (arr && cJSON_IsArray(x)) {
        /* (a new array: cJSON 1.7.15's cJSON_InsertItemInArray drops items) */
        cJSON *na = cJSON_CreateArray();
        cJSON_ArrayForEach(e, x) cJSON_AddItemToArray(na, cJSON_Duplicate(e, 1));
        cJSON_ArrayForEach(e, arr) cJSON_AddItemToArray(na, cJSON_Duplicate(e, 1));
        cJSON_ReplaceItemInObjectCaseSensitive(root, "added_tokens", na);
        char *j2 = cJSON_PrintUnformatted(root);
        tcf_tokenizer *t = NULL;
        tcf_status st = tcf_tokenizer_load_json(j2, strlen(j2), "extra_added", &t);
        CHECK(st == TCF_OK, "tokenizer.json + extra added tokens: %s", tcf_last_error());
        if (!st) {
            int n;
            tcase *cs = load_cases(FIX_DIR "/added_cases.txt", &n);
            CHECK(n > 10, "added_cases.txt: %d cases", n);
            run_cases(t, cs, n, 0, "extra added tokens");
            CHECK(tcf_tokenizer_vocab_size(t) == 30528, "vocab size with added tokens %d",
                  tcf_tokenizer_vocab_size(t));
            CHECK(tcf_tokenizer_token_id(t, "[X]") == 30525, "[X] -> %d", tcf_tokenizer_token_id(t, "[X]"));
            const char *tk = tcf_tokenizer_token(t, 30526);
            CHECK(tk && !strcmp(tk, "<ent>x"), "30526 -> %s", tk ? tk : "NULL");
            free_cases(cs, n);
        }
        tcf_tokenizer_free(t);
        free(j2);
    }
    cJSON_Delete(root);
    cJSON_Delete(x);
    free(extra);
}

/* ---- tokenizer.json variants ------------------------------------------------------------ */

/* Apply the [path, value] edits of one entry of variants.json to root. */
static bool apply_edits(cJSON *root, const cJSON *edits) {
    const cJSON *ed;
    cJSON_ArrayForEach(ed, edits) {
        const cJSON *path = cJSON_GetArrayItem(ed, 0), *value = cJSON_GetArrayItem(ed, 1), *k;
        int n = cJSON_GetArraySize(path), i = 0;
        cJSON *o = root;
        if (!cJSON_IsArray(path) || !value || n < 1) return false;
        cJSON_ArrayForEach(k, path) {
            if (!cJSON_IsString(k) || !cJSON_IsObject(o)) return false;
            if (++i == n) {
                cJSON_DeleteItemFromObjectCaseSensitive(o, k->valuestring);
                cJSON_AddItemToObject(o, k->valuestring, cJSON_Duplicate(value, 1));
            } else {
                o = cJSON_GetObjectItemCaseSensitive(o, k->valuestring);
            }
        }
    }
    return true;
}

static void test_variants(const char *json, size_t len) {
    char *vj = read_text_file(FIX_DIR "/variants.json", NULL);
    cJSON *variants = vj ? cJSON_Parse(vj) : NULL, *v;
    CHECK(cJSON_IsObject(variants), "cannot read %s/variants.json", FIX_DIR);
    int n_all = 0, n_var = 0;
    tcase *all = load_cases(FIX_DIR "/variants.txt", &n_all);
    tcase *sub = calloc((size_t)n_all + 1, sizeof *sub);
    cJSON_ArrayForEach(v, variants) {
        cJSON *root = cJSON_ParseWithLength(json, len);
        bool ok = root && apply_edits(root, v);
        CHECK(ok, "variant %s: cannot apply its edits", v->string);
        char *j2 = ok ? cJSON_PrintUnformatted(root) : NULL;
        tcf_tokenizer *t = NULL;
        tcf_status st = j2 ? tcf_tokenizer_load_json(j2, strlen(j2), v->string, &t) : TCF_ERR_ARG;
        CHECK(st == TCF_OK, "variant %s: %s", v->string, tcf_last_error());
        int n = 0;
        for (int i = 0; i < n_all; i++)
            if (!strcmp(all[i].group, v->string)) sub[n++] = all[i];
        CHECK(n > 50, "variant %s: %d cases", v->string, n);
        char what[300];
        snprintf(what, sizeof what, "variant %s", v->string);
        if (!st) run_cases(t, sub, n, 0, what);
        n_var++;
        tcf_tokenizer_free(t);
        free(j2);
        cJSON_Delete(root);
    }
    CHECK(n_var >= 10, "only %d variants", n_var);
    free(sub);
    free_cases(all, n_all);
    cJSON_Delete(variants);
    free(vj);
}

/* ---- bad input ---------------------------------------------------------------------------- */

static void expect_json_error(const char *json, tcf_status want, const char *msg) {
    tcf_tokenizer *t = (tcf_tokenizer *)1;
    tcf_status st = tcf_tokenizer_load_json(json, strlen(json), "bad.json", &t);
    CHECK(st == want && t == NULL && strstr(tcf_last_error(), msg) && strstr(tcf_last_error(), "bad.json"),
          "%.60s: got %s '%s', want %s containing '%s'", json, tcf_status_name(st), tcf_last_error(),
          tcf_status_name(want), msg);
    if (st == TCF_OK) tcf_tokenizer_free(t);
}

#define WP_MODEL "\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": "
#define WP_HEAD "{" WP_MODEL

static void test_bad_input(void) {
    tcf_tokenizer *t = NULL;
    tcf_status st = tcf_tokenizer_load("no/such/dir/tokenizer.json", &t);
    CHECK(st == TCF_ERR_IO && t == NULL && strstr(tcf_last_error(), "no/such/dir/tokenizer.json"), "missing: %s",
          tcf_last_error());
    st = tcf_tokenizer_load("no/such/vocab.txt", &t);
    CHECK(st == TCF_ERR_IO && strstr(tcf_last_error(), "no/such/vocab.txt"), "missing vocab: %s", tcf_last_error());
    st = tcf_tokenizer_load("tests", &t);
    CHECK(st == TCF_ERR_IO && strstr(tcf_last_error(), "tests") && strstr(tcf_last_error(), "vocab.txt"),
          "dir without tokenizer: %s", tcf_last_error());
    expect_json_error("not json at all", TCF_ERR_FORMAT, "not valid JSON");
    expect_json_error("{\"model\": {\"type\": \"WordPiece\"", TCF_ERR_FORMAT, "not valid JSON");
    expect_json_error("", TCF_ERR_FORMAT, "not valid JSON");
    expect_json_error("[1, 2]", TCF_ERR_FORMAT, "not a JSON object");
    expect_json_error("{\"version\": \"1.0\", \"normalizer\": null}", TCF_ERR_FORMAT, "no \"model\"");
    expect_json_error("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", TCF_ERR_UNSUPPORTED,
                      "model type \"Unigram\"");
    expect_json_error("{\"model\": {\"type\": \"Unigram\"}}", TCF_ERR_UNSUPPORTED, "\"Unigram\"");
    expect_json_error("{\"model\": {\"vocab\": {\"a\": 1}}}", TCF_ERR_FORMAT, "no \"type\"");
    expect_json_error(WP_HEAD "{\"[UNK]\": 0, \"a\": \"1\"}}}", TCF_ERR_FORMAT, "vocab entry \"a\"");
    expect_json_error(WP_HEAD "{\"[UNK]\": 0, \"a\": 1.5}}}", TCF_ERR_FORMAT, "vocab entry \"a\"");
    expect_json_error(WP_HEAD "{\"[UNK]\": 0, \"a\": -1}}}", TCF_ERR_FORMAT, "vocab entry \"a\"");
    expect_json_error(WP_HEAD "{\"[UNK]\": 0, \"a\": 1e12}}}", TCF_ERR_FORMAT, "vocab entry \"a\"");
    expect_json_error(WP_HEAD "{\"a\": 0, \"b\": 1}}}", TCF_ERR_FORMAT, "unk_token \"[UNK]\" is not in the vocab");
    expect_json_error(WP_HEAD "[\"[UNK]\"]}}", TCF_ERR_FORMAT, "model.vocab is not an object");
    expect_json_error(WP_HEAD "{}}}", TCF_ERR_FORMAT, "empty");
    expect_json_error("{\"normalizer\": {\"type\": \"NFKC\"}, " WP_MODEL "{\"[UNK]\": 0}}}", TCF_ERR_UNSUPPORTED,
                      "normalizer type \"NFKC\"");
    expect_json_error("{\"pre_tokenizer\": {\"type\": \"Metaspace\"}, " WP_MODEL "{\"[UNK]\": 0}}}",
                      TCF_ERR_UNSUPPORTED, "pre_tokenizer type \"Metaspace\"");
    expect_json_error("{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": 1}, " WP_MODEL
                      "{\"[UNK]\": 0}}}",
                      TCF_ERR_FORMAT, "normalizer.lowercase");
    expect_json_error("{\"truncation\": {\"max_length\": -3}, " WP_MODEL "{\"[UNK]\": 0}}}", TCF_ERR_FORMAT,
                      "truncation.max_length");
    expect_json_error("{\"added_tokens\": [{\"id\": 5}], " WP_MODEL "{\"[UNK]\": 0}}}", TCF_ERR_FORMAT,
                      "added_tokens");
    expect_json_error("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
                      "{\"id\": \"[X]\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {}}, " WP_MODEL
                      "{\"[UNK]\": 0}}}",
                      TCF_ERR_FORMAT, "special token \"[X]\"");
    expect_json_error("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"caf\xc3\": 0}}}", TCF_ERR_FORMAT,
                      "not valid UTF-8");
    /* a minimal tokenizer.json loads, with defaults for everything absent */
    const char *mini = "{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, " WP_MODEL
                       "{\"[UNK]\": 0, \"a\": 1, \"##b\": 2}}}";
    st = tcf_tokenizer_load_json(mini, strlen(mini), "mini", &t);
    CHECK(st == TCF_OK, "minimal tokenizer.json: %s", tcf_last_error());
    if (!st) {
        int32_t ids[8];
        int n = 0;
        CHECK(enc(t, "ab a c", 6, 1, 0, ids, &n) == TCF_OK && n == 4 && ids[0] == 1 && ids[1] == 2 && ids[2] == 1 &&
                  ids[3] == 0,
              "minimal: n=%d", n);
        CHECK(tcf_tokenizer_max_len(t) == 0 && tcf_tokenizer_pad_id(t) == 0, "minimal: no truncation, pad 0");
        tcf_tokenizer_free(t);
    }
    /* vocab.txt problems */
    char p[512];
    snprintf(p, sizeof p, "%s/vocab.txt", tmpdir);
    write_file(p, "");
    st = tcf_tokenizer_load(p, &t);
    CHECK(st == TCF_ERR_FORMAT && strstr(tcf_last_error(), "empty vocab") && strstr(tcf_last_error(), p),
          "empty vocab.txt: %s", tcf_last_error());
    write_file(p, "[PAD]\n[CLS]\n[SEP]\nhello\n");
    st = tcf_tokenizer_load(p, &t);
    CHECK(st == TCF_ERR_FORMAT && strstr(tcf_last_error(), "[UNK]"), "vocab.txt without [UNK]: %s",
          tcf_last_error());
    write_file(p, "[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n");
    st = tcf_tokenizer_load(p, &t);
    CHECK(st == TCF_OK, "CRLF vocab.txt: %s", tcf_last_error());
    if (!st) {
        int32_t ids[8];
        int n = 0;
        CHECK(enc(t, "Hello", 5, 1, 0, ids, &n) == TCF_OK && n == 3 && ids[0] == 1 && ids[1] == 3 && ids[2] == 2,
              "CRLF vocab.txt encodes");
        tcf_tokenizer_free(t);
    }
    remove(p);
}

/* ---- regressions from fuzzing --------------------------------------------------------------- */

static void test_regress(void) {
    DIR *d = opendir("tests/regress");
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "tokenizer-", 10)) continue;
            char p[512];
            snprintf(p, sizeof p, "tests/regress/%s", e->d_name);
            size_t len;
            char *s = read_text_file(p, &len);
            if (!s) continue;
            tcf_tokenizer *t = NULL;
            if (tcf_tokenizer_load_json(s, len, p, &t) == TCF_OK) {
                int32_t ids[256];
                int k;
                tcf_encode_opts o = {1, 0};
                tcf_tokenizer_encode(t, s, len, &o, ids, 256, &k);
                tcf_tokenizer_encode(t, "Hello [MASK] w\xc3\xb6rld", 17, &o, ids, 256, &k);
            }
            tcf_tokenizer_free(t);
            free(s);
            n++;
        }
        closedir(d);
    }
    printf("  %-40s %d inputs replayed\n", "tests/regress/tokenizer-*", n);
}

/* ---- concurrency --------------------------------------------------------------------------- */

typedef struct {
    const tcf_tokenizer *t;
    const tcase *cs;
    int n, bad;
} thr_arg;

static void *thr_main(void *p) {
    thr_arg *a = p;
    int32_t ids[MAXIDS];
    for (int rep = 0; rep < 4; rep++)
        for (int i = 0; i < a->n; i++) {
            int k = 0;
            const tcase *c = &a->cs[i];
            if (enc(a->t, c->text, c->len, c->add, c->max_len, ids, &k) || k != c->n ||
                memcmp(ids, c->ids, (size_t)k * sizeof *ids))
                a->bad++;
        }
    return NULL;
}

static void test_threads(const tcf_tokenizer *t, const tcase *cs, int n) {
    enum { NT = 4 };
    pthread_t th[NT];
    thr_arg a[NT];
    for (int i = 0; i < NT; i++) {
        a[i] = (thr_arg){t, cs, n, 0};
        pthread_create(&th[i], NULL, thr_main, &a[i]);
    }
    int bad = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        bad += a[i].bad;
    }
    CHECK(bad == 0, "concurrent encoding: %d mismatches", bad);
}

/* ---- command-line extras ------------------------------------------------------------------------ */

static int bench(const tcf_tokenizer *t, const char *csv) {
    texts_t tx;
    if (read_csv_texts(csv, &tx)) {
        fprintf(stderr, "%s: cannot read\n", csv);
        return 1;
    }
    int32_t ids[MAXIDS];
    long n_ids = 0;
    int reps = 0;
    double t0 = tcf_now(), el;
    do {
        for (size_t i = 0; i < tx.n; i++) {
            int k = 0;
            enc(t, tx.buf + tx.off[i], tx.len[i], 1, 0, ids, &k);
            n_ids += k;
        }
        reps++;
    } while ((el = tcf_now() - t0) < 2.0);
    printf("tcf: %zu texts x %d in %.3fs: %.0f texts/s, %.1f M ids/s (1 thread)\n", tx.n, reps, el,
           (double)tx.n * reps / el, (double)n_ids / el / 1e6);
    free_texts(&tx);
    return 0;
}

int main(int argc, char **argv) {
    size_t jlen = 0;
    char *json = read_text_file(MODEL_DIR "/tokenizer.json", &jlen);
    if (!json) {
        fprintf(stderr, "FAIL: %s/tokenizer.json missing (scripts/fetch_models.sh)\n", MODEL_DIR);
        return 1;
    }
    tcf_tokenizer *t = NULL;
    tcf_status st = tcf_tokenizer_load(MODEL_DIR, &t);
    if (st) {
        fprintf(stderr, "FAIL: load %s: %s\n", MODEL_DIR, tcf_last_error());
        return 1;
    }
    if (argc == 4 && !strcmp(argv[1], "--show-codepoints")) {
        for (unsigned long c = strtoul(argv[2], NULL, 0); c <= strtoul(argv[3], NULL, 0); c++)
            if (c < 0xD800 || c > 0xDFFF) codepoint_digest(t, (uint32_t)c, 0, stdout);
        tcf_tokenizer_free(t);
        free(json);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--bench")) {
        int r = bench(t, argv[2]);
        tcf_tokenizer_free(t);
        free(json);
        return r;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tcf_test_tokenizer_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "FAIL: mkdtemp\n");
        return 1;
    }
    printf("utf8proc %s (Unicode %s); exception tables made for Unicode %s\n", utf8proc_version(),
           utf8proc_unicode_version(), tk_tables_unicode_version());

    /* the same tokenizer from memory and from the file path */
    tcf_tokenizer *tm = NULL, *tf = NULL;
    CHECK(tcf_tokenizer_load_json(json, jlen, "mem", &tm) == TCF_OK, "load_json: %s", tcf_last_error());
    CHECK(tcf_tokenizer_load(MODEL_DIR "/tokenizer.json", &tf) == TCF_OK, "load file: %s", tcf_last_error());

    test_accessors(t);
    test_encode_options(t);
    test_utf8(t);

    int n_cases = 0;
    tcase *cs = load_cases(FIX_DIR "/cases.txt", &n_cases);
    CHECK(n_cases > 300, "cases.txt: %d cases", n_cases);
    run_cases(t, cs, n_cases, 0, "cases (directory load)");
    if (tm) run_cases(tm, cs, n_cases, 0, "cases (load_json)");
    if (tf) run_cases(tf, cs, n_cases, 0, "cases (tokenizer.json path)");
    test_threads(t, cs, n_cases);
    test_vocab_txt(cs, n_cases);
    test_added(json, jlen);
    test_variants(json, jlen);
    test_bad_input();
    test_regress();
    test_random(t);
    test_codepoints(t);
    test_data(t);

    free_cases(cs, n_cases);
    tcf_tokenizer_free(tm);
    tcf_tokenizer_free(tf);
    tcf_tokenizer_free(t);
    free(json);
    rmdir(tmpdir);
    return check_summary("test_tokenizer");
}
