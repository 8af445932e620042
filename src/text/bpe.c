/*
 * bpe.c — BPE tokenizers as Hugging Face `tokenizers` runs them: byte-level
 * BPE (GPT-2, SmolLM2, Qwen2, Llama-3) and SentencePiece-style BPE with byte
 * fallback (Llama-2, Phi-3), read from tokenizer.json (model type "BPE") or
 * built from GGUF metadata (tok_gguf.c). Exact parity with the reference is
 * tested by tests/test_bpe.c against fixtures of tests/ref/gen_bpe_fixtures.py.
 *
 * Specification: the Rust crate (no formal spec):
 *   normalizers/{unicode,prepend,replace,strip,utils}.rs  NFC NFD NFKC NFKD,
 *       Lowercase, Prepend, Replace (String or Regex), Strip, Sequence
 *   pre_tokenizers/{byte_level,split,digits,metaspace,sequence}.rs
 *       ByteLevel {add_prefix_space, use_regex}: prefix ' ' when the piece does
 *         not start with one, split with the GPT-2 regex (Isolated), map every
 *         byte to a printable char (bytes_to_unicode);
 *       Split {pattern: String|Regex, behavior, invert};
 *       Digits {individual_digits}: char::is_numeric, Isolated or Contiguous;
 *       Metaspace {replacement, prepend_scheme always|first|never, split}:
 *         ' ' -> replacement, prefix it (first: only on the piece at offset 0
 *         of the input), split MergedWithNext on it;
 *   tokenizer/normalizer.rs NormalizedString::split  the five split behaviours
 *   models/bpe/{model,word}.rs  the BPE model:
 *       chars of the word (continuing_subword_prefix on all but the first,
 *       end_of_word_suffix on the last) looked up in the vocab; a missing one
 *       becomes its <0xXX> byte tokens (byte_fallback, only when all exist),
 *       else unk (fused when fuse_unk), else it is dropped; then merges are
 *       applied lowest rank first, ties leftmost (a binary heap with stale
 *       entries skipped, exactly as word.rs merge_all); ignore_merges takes a
 *       word that is a whole vocab entry as is.
 * The regexes of tokenizer.json (Oniguruma syntax in the reference: \p{L},
 * (?i:...), \s+(?!\S)) are compiled with PCRE2 in UTF + UCP mode.
 * Pieces move between pre-tokenizer steps as UTF-8 in two arenas; nothing is
 * allocated per word once the scratch buffers have grown.
 * Not supported (TCF_ERR_UNSUPPORTED at load): BPE dropout > 0, other
 * normalizers / pre-tokenizers (BertPreTokenizer, Whitespace, Punctuation...).
 */
#include "text/tokenizer_internal.h"

#include "text/bpe_unicode_tables.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The GPT-2 pre-tokenizer regex of ByteLevel (byte_level.rs). */
const char *const tk_gpt2_regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef enum { NM_NFC, NM_NFD, NM_NFKC, NM_NFKD, NM_LOWER, NM_PREPEND, NM_REPLACE, NM_STRIP } nm_kind;

typedef struct {
    nm_kind k;
    uint32_t *a, *b; /* Prepend: a; Replace: literal a -> b (codepoints) */
    size_t na, nb;
    pcre2_code *re;  /* Replace with a Regex pattern */
    char *b8;        /* Replace content as UTF-8 (regex path) */
    bool left, right; /* Strip */
} nm_step;

typedef enum { PT_SPLIT, PT_BYTELEVEL, PT_DIGITS, PT_METASPACE } pt_kind;
typedef enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS } split_beh;

typedef struct {
    pt_kind k;
    pcre2_code *re;   /* Split Regex; ByteLevel with use_regex */
    char *lit;        /* Split String */
    size_t nlit;
    split_beh beh;
    bool invert;
    bool prefix_space; /* ByteLevel add_prefix_space */
    bool individual;   /* Digits */
    int scheme;        /* Metaspace: 0 always, 1 first, 2 never */
    bool split;        /* Metaspace split */
    char repl[5];      /* Metaspace replacement, UTF-8 */
    size_t nrepl;
} pt_step;

typedef struct {
    uint64_t key; /* (a << 32 | b) + 1; 0 = empty */
    uint32_t rank;
    int32_t id;
} merge_ent;

struct tk_bpe {
    nm_step *nm;
    size_t n_nm;
    pt_step *pt;
    size_t n_pt;
    merge_ent *merges; /* (mask + 1) open addressing on the id pair */
    uint32_t mask;
    size_t n_merges;
    bool spm; /* SentencePiece GGUF: no merge list, a pair merges when the vocab spells it */
    int32_t unk_id; /* -1: no unk token */
    bool byte_fallback, fuse_unk, ignore_merges;
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix ("" = none) */
    size_t nprefix, nsuffix;
    int32_t byte_id[256]; /* <0xXX> ids for byte_fallback, -1 absent */
    int32_t char_id[0x800]; /* vocab id of each codepoint < U+0800 alone (-1 absent);
                               used when there is no prefix / suffix */
};

/* ---- byte-level alphabet (bytes_to_unicode of GPT-2) ------------------------------ */

/* Byte b as a char: printable Latin-1 bytes stand for themselves, the other
 * 68 (0x00-0x20, 0x7F-0xA0, 0xAD) become U+0100.. in byte order. */
static uint32_t byte_cp(uint8_t b) {
    if (b <= 0x20) return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0) return 0x100 + 33 + (uint32_t)(b - 0x7F);
    if (b == 0xAD) return 0x100 + 67;
    return b;
}

/* ---- helpers ------------------------------------------------------------------ */

static int utf8_len(uint8_t b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

static uint32_t utf8_get(const uint8_t *s, int n) {
    if (n == 1) return s[0];
    if (n == 2) return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    if (n == 3) return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
           (s[3] & 0x3F);
}

static tcf_status cps_to_utf8(const uint32_t *c, size_t n, tk_buf *out) {
    size_t cap;
    if (!tcf_mul_ok(n, 4, &cap)) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: text too long");
    tcf_status st = tk_buf_reserve(out, cap + 1);
    if (st) return st;
    uint8_t *d = out->p;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)tk_utf8_put(d + k, c[i]);
    out->n = k;
    return TCF_OK;
}

static tcf_status utf8_to_cps(const uint8_t *s, size_t n, tk_buf *out) {
    size_t bad;
    bool ascii;
    out->n = 0;
    tcf_status st = tk_utf8_decode(s, n, out, &bad, &ascii);
    if (st == TCF_ERR_UTF8) return tcf_fail(TCF_ERR_UTF8, "tokenizer: internal text not UTF-8 at %zu", bad);
    return st;
}

/* Rust char::is_numeric as the reference has it: utf8proc's Nd/Nl/No with the
 * generated corrections of bpe_unicode_tables.h (newer Unicode digits). */
static bool is_numeric(uint32_t c) {
    int k = utf8proc_get_property((utf8proc_int32_t)c)->category;
    bool base = k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
    size_t lo = 0, hi = sizeof numeric_flip / sizeof *numeric_flip;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < numeric_flip[mid][0]) hi = mid;
        else if (c > numeric_flip[mid][1]) lo = mid + 1;
        else return !base;
    }
    return base;
}

/* Oniguruma's \s (the reference's regex engine) is Unicode White_Space;
 * PCRE2's also takes U+180E. So \s and \S are spelled out. */
#define WS_CLASS "\\t\\n\\x0b\\f\\r\\x20\\x85\\xa0\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

/* "\x{A}-\x{B}" for each range of t (the class members PCRE2 lacks). */
static size_t ranges_text(const uint32_t (*t)[2], size_t n, char *d) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i][0] == 0xFFFFFFFF) continue;
        k += (size_t)sprintf(d ? d + k : (char[32]){0}, "\\x{%X}-\\x{%X}", t[i][0], t[i][1]);
    }
    return k;
}

#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

/* Rewrite a tokenizer.json regex for PCRE2 so that it means what it means to
 * the reference's Oniguruma: \s and \S spelled out, and \p{L} / \p{N}
 * extended by the codepoints of newer Unicode versions (bpe_unicode_tables.h). */
static char *translate_regex(const char *pat, size_t n, size_t *out_n) {
    const size_t wl = sizeof WS_CLASS - 1;
    size_t ll = ranges_text(regex_more_l, N_OF(regex_more_l), NULL);
    size_t nl = ranges_text(regex_more_n, N_OF(regex_more_n), NULL);
    size_t per = wl + ll + nl + 16;
    char *d = malloc(n + 1 + (n / 2 + 1) * per);
    if (!d) return NULL;
    size_t k = 0;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char e = pat[i + 1];
            if (e == 's' || (e == 'S' && !in_class)) {
                if (!in_class) d[k++] = '[';
                if (e == 'S') d[k++] = '^';
                memcpy(d + k, WS_CLASS, wl);
                k += wl;
                if (!in_class) d[k++] = ']';
                i++;
                continue;
            }
            if (e == 'p' && i + 4 < n && pat[i + 2] == '{' && (pat[i + 3] == 'L' || pat[i + 3] == 'N') &&
                pat[i + 4] == '}') {
                bool L = pat[i + 3] == 'L';
                if (!in_class) d[k++] = '[';
                memcpy(d + k, pat + i, 5);
                k += 5;
                k += L ? ranges_text(regex_more_l, N_OF(regex_more_l), d + k)
                       : ranges_text(regex_more_n, N_OF(regex_more_n), d + k);
                if (!in_class) d[k++] = ']';
                i += 4;
                continue;
            }
            d[k++] = c;
            d[k++] = e;
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            d[k++] = c;
            if (i + 1 < n && pat[i + 1] == '^') d[k++] = pat[++i];
            if (i + 1 < n && pat[i + 1] == ']') d[k++] = pat[++i]; /* a leading ] is literal */
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        d[k++] = c;
    }
    d[k] = '\0';
    *out_n = k;
    return d;
}

tcf_status tk_regex_compile(const char *pat, size_t n, const char *label, const char *where,
                            pcre2_code **out) {
    int err;
    PCRE2_SIZE at;
    size_t tn;
    char *t = translate_regex(pat, n, &tn);
    if (!t) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", label);
    *out = pcre2_compile((PCRE2_SPTR)t, tn, PCRE2_UTF | PCRE2_UCP, &err, &at, NULL);
    free(t);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: invalid regex \"%.80s\" at offset %zu: %s", label, where, pat,
                        (size_t)at, (const char *)msg);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* falls back to the interpreter when JIT is absent */
    return TCF_OK;
}

/* ---- load / free ---------------------------------------------------------------- */

void tk_bpe_free(tk_bpe *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_nm; i++) {
        free(b->nm[i].a);
        free(b->nm[i].b);
        free(b->nm[i].b8);
        pcre2_code_free(b->nm[i].re);
    }
    for (size_t i = 0; i < b->n_pt; i++) {
        pcre2_code_free(b->pt[i].re);
        free(b->pt[i].lit);
    }
    free(b->nm);
    free(b->pt);
    free(b->merges);
    free(b->prefix);
    free(b->suffix);
    free(b);
}

tcf_status tk_bpe_new(const char *label, tk_bpe **out) {
    tk_bpe *b = calloc(1, sizeof *b);
    if (!b) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the BPE model", label);
    b->unk_id = -1;
    for (int i = 0; i < 256; i++) b->byte_id[i] = -1;
    *out = b;
    return TCF_OK;
}

static tcf_status grow(void **p, size_t n, size_t esz, const char *label) {
    void *q = realloc(*p, (n + 1) * esz);
    if (!q) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", label);
    *p = q;
    memset((char *)q + n * esz, 0, esz);
    return TCF_OK;
}

static tcf_status dup_cps(const char *s, size_t n, uint32_t **out, size_t *nout, const char *label) {
    uint32_t st_[64];
    tk_buf b;
    tk_buf_init(&b, st_, 64, 4);
    size_t bad;
    bool ascii;
    tcf_status st = tk_utf8_decode((const uint8_t *)s, n, &b, &bad, &ascii);
    if (st == TCF_ERR_UTF8) st = tcf_fail(TCF_ERR_FORMAT, "%s: string is not valid UTF-8", label);
    if (!st) {
        *out = malloc((b.n + 1) * 4);
        if (!*out) st = tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", label);
        else {
            memcpy(*out, b.p, b.n * 4);
            *nout = b.n;
        }
    }
    tk_buf_free(&b);
    return st;
}

tcf_status tk_bpe_add_norm_prepend(tk_bpe *b, const char *s, const char *label) {
    tcf_status st = grow((void **)&b->nm, b->n_nm, sizeof *b->nm, label);
    if (st) return st;
    nm_step *n = &b->nm[b->n_nm++];
    n->k = NM_PREPEND;
    return dup_cps(s, strlen(s), &n->a, &n->na, label);
}

tcf_status tk_bpe_add_norm_replace(tk_bpe *b, const char *from, const char *to, const char *label) {
    tcf_status st = grow((void **)&b->nm, b->n_nm, sizeof *b->nm, label);
    if (st) return st;
    nm_step *n = &b->nm[b->n_nm++];
    n->k = NM_REPLACE;
    if ((st = dup_cps(from, strlen(from), &n->a, &n->na, label))) return st;
    return dup_cps(to, strlen(to), &n->b, &n->nb, label);
}

tcf_status tk_bpe_add_pretok_regex(tk_bpe *b, const char *regex, const char *label) {
    tcf_status st = grow((void **)&b->pt, b->n_pt, sizeof *b->pt, label);
    if (st) return st;
    pt_step *p = &b->pt[b->n_pt++];
    p->k = PT_SPLIT;
    p->beh = B_ISOLATED;
    return tk_regex_compile(regex, strlen(regex), label, "pre-tokenizer", &p->re);
}

tcf_status tk_bpe_add_pretok_bytelevel(tk_bpe *b, bool use_regex, bool prefix_space, const char *label) {
    tcf_status st = grow((void **)&b->pt, b->n_pt, sizeof *b->pt, label);
    if (st) return st;
    pt_step *p = &b->pt[b->n_pt++];
    p->k = PT_BYTELEVEL;
    p->prefix_space = prefix_space;
    p->beh = B_ISOLATED;
    if (use_regex) return tk_regex_compile(tk_gpt2_regex, strlen(tk_gpt2_regex), label, "ByteLevel", &p->re);
    return TCF_OK;
}

tcf_status tk_bpe_add_pretok_digits(tk_bpe *b, bool individual, const char *label) {
    tcf_status st = grow((void **)&b->pt, b->n_pt, sizeof *b->pt, label);
    if (st) return st;
    pt_step *p = &b->pt[b->n_pt++];
    p->k = PT_DIGITS;
    p->individual = individual;
    return TCF_OK;
}

tcf_status tk_bpe_add_pretok_metaspace(tk_bpe *b, int scheme, bool split, const char *label) {
    tcf_status st = grow((void **)&b->pt, b->n_pt, sizeof *b->pt, label);
    if (st) return st;
    pt_step *p = &b->pt[b->n_pt++];
    p->k = PT_METASPACE;
    p->scheme = scheme;
    p->split = split;
    memcpy(p->repl, "\xe2\x96\x81", 3);
    p->nrepl = 3;
    return TCF_OK;
}

/* ---- tokenizer.json ----------------------------------------------------------------- */

static const cJSON *jget(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}
static bool jabsent(const cJSON *v) { return !v || cJSON_IsNull(v); }
static const char *jtype(const cJSON *o) {
    const cJSON *t = jget(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}
static tcf_status jbool(const cJSON *o, const char *k, bool def, bool *out, const char *L, const char *where) {
    const cJSON *v = jget(o, k);
    if (jabsent(v)) { *out = def; return TCF_OK; }
    if (!cJSON_IsBool(v)) return tcf_fail(TCF_ERR_FORMAT, "%s: %s.%s: expected true or false", L, where, k);
    *out = cJSON_IsTrue(v);
    return TCF_OK;
}
static tcf_status jstr(const cJSON *o, const char *k, const char *def, const char **out, const char *L,
                       const char *where) {
    const cJSON *v = jget(o, k);
    if (jabsent(v)) { *out = def; return TCF_OK; }
    if (!cJSON_IsString(v)) return tcf_fail(TCF_ERR_FORMAT, "%s: %s.%s: expected a string", L, where, k);
    *out = v->valuestring;
    return TCF_OK;
}

/* "pattern": {"String": s} or {"Regex": r}. */
static tcf_status jpattern(const cJSON *o, const char *L, const char *where, const char **lit, const char **re) {
    const cJSON *p = jget(o, "pattern"), *s = jget(p, "String"), *r = jget(p, "Regex");
    *lit = *re = NULL;
    if (cJSON_IsString(s)) *lit = s->valuestring;
    else if (cJSON_IsString(r)) *re = r->valuestring;
    else return tcf_fail(TCF_ERR_FORMAT, "%s: %s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", L, where);
    return TCF_OK;
}

static tcf_status parse_norm(tk_bpe *b, const cJSON *n, const char *L, int depth) {
    if (jabsent(n)) return TCF_OK;
    const char *type = jtype(n);
    if (!type) return tcf_fail(TCF_ERR_FORMAT, "%s: normalizer has no \"type\"", L);
    tcf_status st;
    if (!strcmp(type, "Sequence") && depth < 4) {
        const cJSON *list = jget(n, "normalizers"), *x;
        if (!cJSON_IsArray(list)) return tcf_fail(TCF_ERR_FORMAT, "%s: normalizer.normalizers is not an array", L);
        cJSON_ArrayForEach(x, list) if ((st = parse_norm(b, x, L, depth + 1))) return st;
        return TCF_OK;
    }
    nm_kind k;
    if (!strcmp(type, "NFC")) k = NM_NFC;
    else if (!strcmp(type, "NFD")) k = NM_NFD;
    else if (!strcmp(type, "NFKC")) k = NM_NFKC;
    else if (!strcmp(type, "NFKD")) k = NM_NFKD;
    else if (!strcmp(type, "Lowercase")) k = NM_LOWER;
    else if (!strcmp(type, "Prepend")) k = NM_PREPEND;
    else if (!strcmp(type, "Replace")) k = NM_REPLACE;
    else if (!strcmp(type, "Strip")) k = NM_STRIP;
    else return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported with a BPE model", L, type);
    if ((st = grow((void **)&b->nm, b->n_nm, sizeof *b->nm, L))) return st;
    nm_step *s = &b->nm[b->n_nm++];
    s->k = k;
    if (k == NM_PREPEND) {
        const char *p;
        if ((st = jstr(n, "prepend", NULL, &p, L, "normalizer"))) return st;
        if (!p) return tcf_fail(TCF_ERR_FORMAT, "%s: normalizer Prepend without \"prepend\"", L);
        return dup_cps(p, strlen(p), &s->a, &s->na, L);
    }
    if (k == NM_REPLACE) {
        const char *lit, *re, *content;
        if ((st = jpattern(n, L, "normalizer Replace", &lit, &re)) ||
            (st = jstr(n, "content", NULL, &content, L, "normalizer")))
            return st;
        if (!content) return tcf_fail(TCF_ERR_FORMAT, "%s: normalizer Replace without \"content\"", L);
        if ((st = dup_cps(content, strlen(content), &s->b, &s->nb, L))) return st;
        if (!(s->b8 = strdup(content))) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", L);
        if (re) return tk_regex_compile(re, strlen(re), L, "normalizer Replace", &s->re);
        return dup_cps(lit, strlen(lit), &s->a, &s->na, L);
    }
    if (k == NM_STRIP) {
        if ((st = jbool(n, "strip_left", true, &s->left, L, "normalizer")) ||
            (st = jbool(n, "strip_right", true, &s->right, L, "normalizer")))
            return st;
    }
    return TCF_OK;
}

static tcf_status parse_pt(tk_bpe *b, const cJSON *p, const char *L, int depth) {
    if (jabsent(p)) return TCF_OK;
    const char *type = jtype(p);
    if (!type) return tcf_fail(TCF_ERR_FORMAT, "%s: pre_tokenizer has no \"type\"", L);
    tcf_status st;
    if (!strcmp(type, "Sequence") && depth < 4) {
        const cJSON *list = jget(p, "pretokenizers"), *x;
        if (!cJSON_IsArray(list)) return tcf_fail(TCF_ERR_FORMAT, "%s: pre_tokenizer.pretokenizers is not an array", L);
        cJSON_ArrayForEach(x, list) if ((st = parse_pt(b, x, L, depth + 1))) return st;
        return TCF_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        bool ps, ur;
        if ((st = jbool(p, "add_prefix_space", true, &ps, L, "pre_tokenizer ByteLevel")) ||
            (st = jbool(p, "use_regex", true, &ur, L, "pre_tokenizer ByteLevel")))
            return st;
        return tk_bpe_add_pretok_bytelevel(b, ur, ps, L);
    }
    if (!strcmp(type, "Digits")) {
        bool ind;
        if ((st = jbool(p, "individual_digits", false, &ind, L, "pre_tokenizer Digits"))) return st;
        return tk_bpe_add_pretok_digits(b, ind, L);
    }
    if (strcmp(type, "Split") && strcmp(type, "Metaspace"))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" is not supported with a BPE model", L, type);
    if ((st = grow((void **)&b->pt, b->n_pt, sizeof *b->pt, L))) return st;
    pt_step *s = &b->pt[b->n_pt++];
    if (!strcmp(type, "Split")) {
        const char *lit, *re, *beh;
        s->k = PT_SPLIT;
        if ((st = jpattern(p, L, "pre_tokenizer Split", &lit, &re)) ||
            (st = jstr(p, "behavior", NULL, &beh, L, "pre_tokenizer Split")) ||
            (st = jbool(p, "invert", false, &s->invert, L, "pre_tokenizer Split")))
            return st;
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        int k = -1;
        for (int i = 0; i < 5 && beh; i++)
            if (!strcmp(beh, names[i])) k = i;
        if (k < 0)
            return tcf_fail(TCF_ERR_FORMAT, "%s: pre_tokenizer Split: behavior \"%.40s\" is not one of Removed, "
                            "Isolated, MergedWithPrevious, MergedWithNext, Contiguous", L, beh ? beh : "(missing)");
        s->beh = (split_beh)k;
        if (re) return tk_regex_compile(re, strlen(re), L, "pre_tokenizer Split", &s->re);
        s->nlit = strlen(lit);
        if (!(s->lit = strdup(lit))) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", L);
        return TCF_OK;
    }
    /* Metaspace */
    const char *repl, *scheme;
    s->k = PT_METASPACE;
    if ((st = jstr(p, "replacement", "\xe2\x96\x81", &repl, L, "pre_tokenizer Metaspace")) ||
        (st = jstr(p, "prepend_scheme", NULL, &scheme, L, "pre_tokenizer Metaspace")) ||
        (st = jbool(p, "split", true, &s->split, L, "pre_tokenizer Metaspace")))
        return st;
    if (!scheme) { /* older files: add_prefix_space */
        bool aps;
        if ((st = jbool(p, "add_prefix_space", true, &aps, L, "pre_tokenizer Metaspace"))) return st;
        scheme = aps ? "always" : "never";
    }
    if (!strcmp(scheme, "always")) s->scheme = 0;
    else if (!strcmp(scheme, "first")) s->scheme = 1;
    else if (!strcmp(scheme, "never")) s->scheme = 2;
    else return tcf_fail(TCF_ERR_FORMAT, "%s: pre_tokenizer Metaspace: prepend_scheme \"%.40s\" is not always, first or never", L, scheme);
    size_t nr = strlen(repl);
    if (!nr || nr > 4 || (size_t)utf8_len((uint8_t)repl[0]) != nr)
        return tcf_fail(TCF_ERR_FORMAT, "%s: pre_tokenizer Metaspace: replacement must be one character", L);
    memcpy(s->repl, repl, nr);
    s->nrepl = nr;
    return TCF_OK;
}

/* ---- merges ---------------------------------------------------------------------- */

static uint32_t merge_slot(uint64_t key, uint32_t mask) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> 40) & mask;
}

tcf_status tk_bpe_merges_reserve(tk_bpe *b, size_t n, const char *label) {
    size_t cap = 16;
    while (cap < 2 * n + 16) {
        if (cap > ((size_t)1 << 30)) return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: more than 2^29 merges", label);
        cap *= 2;
    }
    free(b->merges);
    if (!(b->merges = calloc(cap, sizeof *b->merges)))
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %zu merge slots", label, cap);
    b->mask = (uint32_t)(cap - 1);
    b->n_merges = 0;
    return TCF_OK;
}

/* Merge of rank `rank`: the pair (a, b) becomes `id`. A later duplicate pair
 * replaces the earlier one, as the reference's HashMap collect does. */
static void merge_put(tk_bpe *b, int32_t x, int32_t y, uint32_t rank, int32_t id) {
    uint64_t key = ((uint64_t)(uint32_t)x << 32 | (uint32_t)y) + 1;
    for (uint32_t i = merge_slot(key, b->mask);; i = (i + 1) & b->mask) {
        merge_ent *e = &b->merges[i];
        if (!e->key || e->key == key) {
            if (!e->key) b->n_merges++;
            *e = (merge_ent){key, rank, id};
            return;
        }
    }
}

static const merge_ent *merge_get(const tk_bpe *b, int32_t x, int32_t y) {
    if (!b->merges) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)x << 32 | (uint32_t)y) + 1;
    for (uint32_t i = merge_slot(key, b->mask);; i = (i + 1) & b->mask) {
        const merge_ent *e = &b->merges[i];
        if (!e->key) return NULL;
        if (e->key == key) return e;
    }
}

/* Add merge number `rank` "a b" (the vocab is finalized). `where` names it in errors. */
tcf_status tk_bpe_add_merge(tk_bpe *b, const tk_vocab *v, const char *a, size_t na, const char *c, size_t nc,
                            uint32_t rank, const char *label, const char *where) {
    int32_t ia = tk_vocab_find(v, a, na), ic = tk_vocab_find(v, c, nc);
    if (ia < 0 || ic < 0) {
        const char *m = ia < 0 ? a : c;
        int nm = (int)(ia < 0 ? na : nc);
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s %u: token \"%.*s\" is not in the vocab", label, where, rank + 1,
                        nm > 64 ? 64 : nm, m);
    }
    size_t skip = b->nprefix && nc >= b->nprefix && !memcmp(c, b->prefix, b->nprefix) ? b->nprefix : 0;
    char st_[256];
    size_t n = na + nc - skip;
    char *cat = n <= sizeof st_ ? st_ : malloc(n);
    if (!cat) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", label);
    memcpy(cat, a, na);
    memcpy(cat + na, c + skip, nc - skip);
    int32_t id = tk_vocab_find(v, cat, n);
    tcf_status st = TCF_OK;
    if (id < 0)
        st = tcf_fail(TCF_ERR_FORMAT, "%s: %s %u: the merged token \"%.*s\" is not in the vocab", label, where,
                      rank + 1, (int)(n > 64 ? 64 : n), cat);
    else merge_put(b, ia, ic, rank, id);
    if (cat != st_) free(cat);
    return st;
}

/* Set the prefix / suffix / byte tokens once the vocab is final. */
tcf_status tk_bpe_model_finish(tk_bpe *b, const tk_vocab *v, const char *prefix, const char *suffix,
                               const char *label) {
    if (!(b->prefix = strdup(prefix ? prefix : "")) || !(b->suffix = strdup(suffix ? suffix : "")))
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", label);
    b->nprefix = strlen(b->prefix);
    b->nsuffix = strlen(b->suffix);
    for (int i = 0; i < 256; i++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", i);
        b->byte_id[i] = tk_vocab_find(v, s, 6);
    }
    for (uint32_t c = 0; c < 0x800; c++) {
        uint8_t u[4];
        b->char_id[c] = tk_vocab_find(v, (const char *)u, (size_t)tk_utf8_put(u, c));
    }
    return TCF_OK;
}

void tk_bpe_set_model(tk_bpe *b, int32_t unk_id, bool byte_fallback, bool fuse_unk, bool ignore_merges) {
    b->unk_id = unk_id;
    b->byte_fallback = byte_fallback;
    b->fuse_unk = fuse_unk;
    b->ignore_merges = ignore_merges;
}

void tk_bpe_set_spm(tk_bpe *b) { b->spm = true; }

bool tk_bytelevel_spelled(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int l = utf8_len((uint8_t)s[i]);
        if ((size_t)l > n - i) return false;
        uint32_t c = utf8_get((const uint8_t *)s + i, l);
        if (!(c >= 256 ? c < 0x144 : byte_cp((uint8_t)c) == c)) return false;
        i += (size_t)l;
    }
    return true;
}

size_t tk_bytelevel_spell(const char *s, size_t n, char *dst) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)tk_utf8_put((uint8_t *)dst + k, byte_cp((uint8_t)s[i]));
    return k;
}

static tcf_status parse_bpe_model(tk_bpe *b, tk_vocab *v, const cJSON *m, const char *L, const char **unk) {
    tcf_status st;
    const char *prefix, *suffix;
    bool bf, fuse, ign;
    const cJSON *drop = jget(m, "dropout");
    if (!jabsent(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0.0))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: model.dropout is set (BPE dropout is for training; not supported)", L);
    if ((st = jstr(m, "unk_token", NULL, unk, L, "model")) ||
        (st = jstr(m, "continuing_subword_prefix", NULL, &prefix, L, "model")) ||
        (st = jstr(m, "end_of_word_suffix", NULL, &suffix, L, "model")) ||
        (st = jbool(m, "byte_fallback", false, &bf, L, "model")) ||
        (st = jbool(m, "fuse_unk", false, &fuse, L, "model")) ||
        (st = jbool(m, "ignore_merges", false, &ign, L, "model")))
        return st;
    const cJSON *vocab = jget(m, "vocab"), *e;
    if (!cJSON_IsObject(vocab)) return tcf_fail(TCF_ERR_FORMAT, "%s: model.vocab is missing or not an object", L);
    cJSON_ArrayForEach(e, vocab) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(d >= 0 && d < TK_MAX_ID) || d != (double)(int32_t)d)
            return tcf_fail(TCF_ERR_FORMAT, "%s: vocab entry \"%.64s\": id is not an integer in [0, %d)", L, e->string,
                            TK_MAX_ID);
        if ((st = tk_vocab_add(v, e->string, strlen(e->string), (int32_t)d))) return tcf_fail_prefix(st, "%s", L);
    }
    if (!v->n_ent) return tcf_fail(TCF_ERR_FORMAT, "%s: model.vocab is empty", L);
    if ((st = tk_vocab_finalize(v))) return tcf_fail_prefix(st, "%s", L);
    if ((st = tk_bpe_model_finish(b, v, prefix, suffix, L))) return st;
    int32_t unk_id = -1;
    if (*unk && (unk_id = tk_vocab_find(v, *unk, strlen(*unk))) < 0)
        return tcf_fail(TCF_ERR_FORMAT, "%s: model.unk_token \"%.64s\" is not in the vocab", L, *unk);
    tk_bpe_set_model(b, unk_id, bf, fuse, ign);
    const cJSON *merges = jget(m, "merges"), *x;
    if (!cJSON_IsArray(merges)) return tcf_fail(TCF_ERR_FORMAT, "%s: model.merges is missing or not an array", L);
    if ((st = tk_bpe_merges_reserve(b, (size_t)cJSON_GetArraySize(merges), L))) return st;
    uint32_t rank = 0;
    cJSON_ArrayForEach(x, merges) {
        const char *a, *c;
        size_t na, nc;
        if (cJSON_IsString(x)) { /* "a b"; "#version" lines are skipped */
            const char *s = x->valuestring, *sp = strchr(s, ' ');
            if (!strncmp(s, "#version", 8)) continue;
            if (!sp || strchr(sp + 1, ' '))
                return tcf_fail(TCF_ERR_FORMAT, "%s: model.merges[%u]: \"%.64s\" is not two tokens separated by one space",
                                L, rank, s);
            a = s, na = (size_t)(sp - s), c = sp + 1, nc = strlen(c);
        } else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 && cJSON_IsString(cJSON_GetArrayItem(x, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(x, 1))) {
            a = cJSON_GetArrayItem(x, 0)->valuestring, c = cJSON_GetArrayItem(x, 1)->valuestring;
            na = strlen(a), nc = strlen(c);
        } else {
            return tcf_fail(TCF_ERR_FORMAT, "%s: model.merges[%u]: expected \"a b\" or [\"a\", \"b\"]", L, rank);
        }
        if ((st = tk_bpe_add_merge(b, v, a, na, c, nc, rank, L, "model.merges entry"))) return st;
        rank++;
    }
    return TCF_OK;
}

tcf_status tk_bpe_from_json(tk_bpe *b, tk_vocab *v, const cJSON *root, const char *L, const char **unk) {
    tcf_status st;
    if ((st = parse_norm(b, jget(root, "normalizer"), L, 0)) || (st = parse_pt(b, jget(root, "pre_tokenizer"), L, 0)))
        return st;
    return parse_bpe_model(b, v, jget(root, "model"), L, unk);
}

/* ---- normalisation (on codepoints) --------------------------------------------------- */

/* NFD / NFC as the reference's unicode-normalization crate: canonical
 * decomposition and ordering with its combining classes (tk_ref_nfd /
 * tk_ref_ccc: characters newer than its tables are starters there), then
 * utf8proc's canonical composition. NFKD / NFKC go through utf8proc_map. */
static tcf_status nm_unicode(nm_kind k, const uint32_t *in, size_t n, tk_buf *out, tk_buf *bytes) {
    tcf_status st;
    if (k == NM_NFD || k == NM_NFC) {
        size_t cap;
        if (!tcf_mul_ok(n, 4, &cap)) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: text too long");
        if ((st = tk_buf_reserve(out, cap))) return st;
        uint32_t *o = out->p;
        size_t m = 0, run = 0; /* run: index after the last starter */
        for (size_t i = 0; i < n; i++) {
            uint32_t d[4];
            int nd = tk_ref_nfd(in[i], d);
            for (int j = 0; j < nd; j++) {
                int cc = tk_ref_ccc(d[j]);
                if (!cc) {
                    o[m++] = d[j];
                    run = m;
                    continue;
                }
                size_t p = m;
                while (p > run && tk_ref_ccc(o[p - 1]) > cc) {
                    o[p] = o[p - 1];
                    p--;
                }
                o[p] = d[j];
                m++;
            }
        }
        if (k == NM_NFC && m) {
            utf8proc_ssize_t r = utf8proc_normalize_utf32((utf8proc_int32_t *)o, (utf8proc_ssize_t)m, UTF8PROC_COMPOSE);
            if (r < 0) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: NFC failed: %s", utf8proc_errmsg(r));
            m = (size_t)r;
            /* utf8proc_normalize_utf32 also forms composites that are excluded from
             * composition (U+2ADC, U+1D15E..): undo those */
            bool excl = false;
            for (size_t i = 0; i < m && !excl; i++) excl = utf8proc_get_property((utf8proc_int32_t)o[i])->comp_exclusion;
            if (excl) {
                size_t w;
                if ((st = tk_buf_reserve(out, m * 5))) return st;
                o = out->p;
                memmove(o + m * 4, o, m * sizeof *o); /* the composed text, moved to the back */
                w = 0;
                for (size_t i = 0; i < m; i++) {
                    uint32_t c = o[m * 4 + i], d[4];
                    int nd = utf8proc_get_property((utf8proc_int32_t)c)->comp_exclusion ? tk_ref_nfd(c, d) : (d[0] = c, 1);
                    for (int j = 0; j < nd; j++) o[w++] = d[j];
                }
                m = w;
            }
        }
        out->n = m;
        return TCF_OK;
    }
    if ((st = cps_to_utf8(in, n, bytes))) return st;
    int opt = UTF8PROC_STABLE | UTF8PROC_COMPAT | (k == NM_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE);
    utf8proc_uint8_t *d = NULL;
    utf8proc_ssize_t r = utf8proc_map(bytes->p, (utf8proc_ssize_t)bytes->n, &d, (utf8proc_option_t)opt);
    if (r < 0) {
        free(d);
        return tcf_fail(TCF_ERR_NOMEM, "tokenizer: Unicode normalisation failed: %s", utf8proc_errmsg(r));
    }
    st = utf8_to_cps(d, (size_t)r, out);
    free(d);
    return st;
}

static tcf_status nm_replace_re(const nm_step *s, const uint32_t *in, size_t n, tk_buf *out, tk_buf *bytes) {
    tcf_status st = cps_to_utf8(in, n, bytes);
    if (st) return st;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: cannot allocate regex match data");
    PCRE2_UCHAR *res = NULL;
    PCRE2_SIZE rlen = 0;
    /* two passes: the first learns the length */
    int rc = pcre2_substitute(s->re, bytes->p, bytes->n, 0,
                              PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_LITERAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                              md, NULL, (PCRE2_SPTR)s->b8, strlen(s->b8), (PCRE2_UCHAR *)"", &rlen);
    if (rc == PCRE2_ERROR_NOMEMORY) {
        res = malloc(rlen + 1);
        if (!res) {
            pcre2_match_data_free(md);
            return tcf_fail(TCF_ERR_NOMEM, "tokenizer: cannot allocate");
        }
        rc = pcre2_substitute(s->re, bytes->p, bytes->n, 0, PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_LITERAL, md, NULL,
                              (PCRE2_SPTR)s->b8, strlen(s->b8), res, &rlen);
    }
    pcre2_match_data_free(md);
    if (rc < 0) {
        free(res);
        return tcf_fail(TCF_ERR_UNSUPPORTED, "tokenizer: normalizer Replace: regex failed (PCRE2 error %d)", rc);
    }
    st = res ? utf8_to_cps(res, rlen, out) : utf8_to_cps(bytes->p, bytes->n, out);
    free(res);
    return st;
}

static tcf_status nm_apply(const nm_step *s, const uint32_t *in, size_t n, tk_buf *out, tk_buf *bytes,
                          tk_buf *work) {
    tcf_status st;
    out->n = 0;
    switch (s->k) {
    case NM_NFC: case NM_NFD: case NM_NFKC: case NM_NFKD:
        return nm_unicode(s->k, in, n, out, bytes);
    case NM_LOWER: { /* BertNormalizer's lowercase step alone (char::to_lowercase); with only
                      * lowercase set, tk_normalize leaves its result in `out` */
        tk_norm_cfg c = {true, false, false, false, true};
        return tk_normalize(&c, in, n, out, work);
    }
    case NM_PREPEND:
        if ((st = tk_buf_reserve(out, n + s->na))) return st;
        if (n) {
            memcpy(out->p, s->a, s->na * 4);
            out->n = s->na;
        }
        memcpy((uint32_t *)out->p + out->n, in, n * 4);
        out->n += n;
        return TCF_OK;
    case NM_STRIP: {
        size_t a = 0, e = n;
        if (s->left) while (a < e && tk_is_whitespace(in[a])) a++;
        if (s->right) while (e > a && tk_is_whitespace(in[e - 1])) e--;
        if ((st = tk_buf_reserve(out, e - a))) return st;
        memcpy(out->p, in + a, (e - a) * 4);
        out->n = e - a;
        return TCF_OK;
    }
    case NM_REPLACE:
        if (s->re) return nm_replace_re(s, in, n, out, bytes);
        if (!s->na) { /* an empty pattern matches nothing */
            if ((st = tk_buf_reserve(out, n))) return st;
            memcpy(out->p, in, n * 4);
            out->n = n;
            return TCF_OK;
        }
        for (size_t i = 0; i < n;) {
            if (i + s->na <= n && !memcmp(in + i, s->a, s->na * 4)) {
                if ((st = tk_buf_reserve(out, out->n + s->nb))) return st;
                memcpy((uint32_t *)out->p + out->n, s->b, s->nb * 4);
                out->n += s->nb;
                i += s->na;
            } else {
                if ((st = tk_buf_reserve(out, out->n + 1))) return st;
                ((uint32_t *)out->p)[out->n++] = in[i++];
            }
        }
        return TCF_OK;
    }
    return TCF_OK;
}

bool tk_bpe_has_norm(const tk_bpe *b) { return b->n_nm > 0; }

tcf_status tk_bpe_normalize(const tk_bpe *b, const uint32_t *in, size_t n, tk_buf *out, tk_buf *tmp,
                            tk_bpe_scratch *s) {
    tcf_status st;
    out->n = 0;
    if ((st = tk_buf_reserve(out, n))) return st;
    memcpy(out->p, in, n * 4);
    out->n = n;
    for (size_t i = 0; i < b->n_nm; i++) {
        if ((st = nm_apply(&b->nm[i], out->p, out->n, tmp, &s->bytes, &s->cps))) return st;
        tk_buf t = *out;
        *out = *tmp;
        *tmp = t;
    }
    return TCF_OK;
}

/* ---- pre-tokenisation ------------------------------------------------------------------ */

typedef struct {
    uint32_t off, len;
    uint32_t start; /* 1: the piece begins at offset 0 of the input */
} span;

typedef struct {
    uint32_t s, e;
    uint32_t m; /* is a match */
} seg;

typedef struct {
    tk_buf *bytes; /* uint8 arena */
    tk_buf *sp;    /* span */
} pieces;

static tcf_status push_piece(pieces *p, const uint8_t *s, size_t n, bool start) {
    if (!n) return TCF_OK;
    if (p->bytes->n + n > UINT32_MAX) return tcf_fail(TCF_ERR_UNSUPPORTED, "tokenizer: text longer than 4 GB");
    tcf_status st;
    if ((st = tk_buf_reserve(p->bytes, p->bytes->n + n)) || (st = tk_buf_reserve(p->sp, p->sp->n + 1))) return st;
    memcpy((uint8_t *)p->bytes->p + p->bytes->n, s, n);
    ((span *)p->sp->p)[p->sp->n++] = (span){(uint32_t)p->bytes->n, (uint32_t)n, start};
    p->bytes->n += n;
    return TCF_OK;
}

static tcf_status push_seg(tk_buf *segs, size_t s, size_t e, bool m) {
    tcf_status st = tk_buf_reserve(segs, segs->n + 1);
    if (st) return st;
    ((seg *)segs->p)[segs->n++] = (seg){(uint32_t)s, (uint32_t)e, m};
    return TCF_OK;
}

/* find_matches of the pattern of a Split / ByteLevel step over s[0..n) into segs. */
static tcf_status find_matches(const pt_step *p, const uint8_t *s, size_t n, tk_bpe_scratch *x) {
    tk_buf *segs = &x->segs;
    segs->n = 0;
    size_t prev = 0;
    tcf_status st;
    if (p->k == PT_DIGITS) {
        for (size_t i = 0; i < n;) {
            int l = utf8_len(s[i]);
            if (is_numeric(utf8_get(s + i, l))) {
                if (prev != i && (st = push_seg(segs, prev, i, false))) return st;
                if ((st = push_seg(segs, i, i + (size_t)l, true))) return st;
                prev = i + (size_t)l;
            }
            i += (size_t)l;
        }
    } else if (p->re) {
        if (!x->md && !(x->md = pcre2_match_data_create(1, NULL)))
            return tcf_fail(TCF_ERR_NOMEM, "tokenizer: cannot allocate regex match data");
        size_t pos = 0;
        while (pos <= n) {
            int rc = pcre2_match(p->re, s, n, pos, PCRE2_NO_UTF_CHECK, x->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) return tcf_fail(TCF_ERR_UNSUPPORTED, "tokenizer: regex match failed (PCRE2 error %d)", rc);
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { /* empty match: it makes no piece; go on after the next char */
                if (ms >= n) break;
                pos = ms + (size_t)utf8_len(s[ms]);
                continue;
            }
            if (prev != ms && (st = push_seg(segs, prev, ms, false))) return st;
            if ((st = push_seg(segs, ms, me, true))) return st;
            prev = pos = me;
        }
    } else if (p->lit && p->nlit) {
        for (size_t i = 0; i + p->nlit <= n;) {
            const uint8_t *f = memmem(s + i, n - i, p->lit, p->nlit);
            if (!f) break;
            size_t ms = (size_t)(f - s);
            if (prev != ms && (st = push_seg(segs, prev, ms, false))) return st;
            if ((st = push_seg(segs, ms, ms + p->nlit, true))) return st;
            prev = i = ms + p->nlit;
        }
    }
    if (prev != n) return push_seg(segs, prev, n, false);
    return TCF_OK;
}

/* Apply the split behaviour to segs (NormalizedString::split): in place. */
static void apply_behavior(tk_buf *segs, split_beh beh, bool invert) {
    seg *g = segs->p;
    size_t n = segs->n, k = 0;
    if (invert)
        for (size_t i = 0; i < n; i++) g[i].m = !g[i].m;
    switch (beh) {
    case B_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!g[i].m) g[k++] = g[i];
        segs->n = k;
        return;
    case B_ISOLATED:
        for (size_t i = 0; i < n; i++) g[i].m = 0;
        return;
    case B_CONTIGUOUS: {
        bool prevm = false;
        for (size_t i = 0; i < n; i++) {
            bool m = g[i].m;
            if (m == prevm && k) g[k - 1].e = g[i].e;
            else g[k++] = (seg){g[i].s, g[i].e, 0};
            prevm = m;
        }
        segs->n = k;
        return;
    }
    case B_MERGED_PREV: {
        bool prevm = false;
        for (size_t i = 0; i < n; i++) {
            bool m = g[i].m;
            if (m && !prevm && k) g[k - 1].e = g[i].e;
            else g[k++] = (seg){g[i].s, g[i].e, 0};
            prevm = m;
        }
        segs->n = k;
        return;
    }
    case B_MERGED_NEXT: { /* the reference folds from the end; so do we, writing from the end */
        bool prevm = false;
        size_t w = n; /* g[w..n) holds the result */
        for (size_t i = n; i-- > 0;) {
            bool m = g[i].m;
            seg cur = g[i];
            if (m && !prevm && w < n) g[w].s = cur.s;
            else g[--w] = (seg){cur.s, cur.e, 0};
            prevm = m;
        }
        memmove(g, g + w, (n - w) * sizeof *g);
        segs->n = n - w;
        return;
    }
    }
}

/* Emit the segments of s as pieces; the byte-level map is applied when `map`. */
static tcf_status emit_segs(pieces *out, const uint8_t *s, const tk_buf *segs, bool start, bool map,
                            tk_bpe_scratch *x) {
    const seg *g = segs->p;
    tcf_status st;
    for (size_t i = 0; i < segs->n; i++) {
        const uint8_t *p = s + g[i].s;
        size_t n = g[i].e - g[i].s;
        bool st0 = start && g[i].s == 0;
        if (!map) {
            if ((st = push_piece(out, p, n, st0))) return st;
            continue;
        }
        tk_buf *m = &x->map;
        if ((st = tk_buf_reserve(m, n * 2))) return st;
        uint8_t *d = m->p;
        size_t k = 0;
        for (size_t j = 0; j < n; j++) k += (size_t)tk_utf8_put(d + k, byte_cp(p[j]));
        if ((st = push_piece(out, d, k, st0))) return st;
    }
    return TCF_OK;
}

static tcf_status pt_apply(const pt_step *p, const uint8_t *s, size_t n, bool start, pieces *out,
                           tk_bpe_scratch *x) {
    tcf_status st;
    switch (p->k) {
    case PT_SPLIT:
    case PT_DIGITS:
        if ((st = find_matches(p, s, n, x))) return st;
        apply_behavior(&x->segs, p->k == PT_DIGITS ? (p->individual ? B_ISOLATED : B_CONTIGUOUS) : p->beh, p->invert);
        return emit_segs(out, s, &x->segs, start, false, x);
    case PT_BYTELEVEL:
        if (p->prefix_space && n && s[0] != ' ') {
            tk_buf *t = &x->pre;
            if ((st = tk_buf_reserve(t, n + 1))) return st;
            ((uint8_t *)t->p)[0] = ' ';
            memcpy((uint8_t *)t->p + 1, s, n);
            s = t->p;
            n++;
        }
        if (p->re) {
            if ((st = find_matches(p, s, n, x))) return st;
        } else {
            x->segs.n = 0;
            if ((st = push_seg(&x->segs, 0, n, false))) return st;
        }
        return emit_segs(out, s, &x->segs, start, true, x);
    case PT_METASPACE: {
        tk_buf *t = &x->pre;
        size_t cap;
        if (!tcf_mul_ok(n, p->nrepl, &cap)) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: text too long");
        if ((st = tk_buf_reserve(t, cap + p->nrepl))) return st;
        uint8_t *d = t->p;
        size_t k = 0;
        /* the reference replaces ' ' first, then prepends unless the result starts with the replacement */
        bool has = (n && s[0] == ' ') || (n >= p->nrepl && !memcmp(s, p->repl, p->nrepl));
        if (n && !has && (p->scheme == 0 || (p->scheme == 1 && start))) {
            memcpy(d, p->repl, p->nrepl);
            k = p->nrepl;
        }
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') {
                memcpy(d + k, p->repl, p->nrepl);
                k += p->nrepl;
            } else {
                d[k++] = s[i];
            }
        }
        if (!p->split) return push_piece(out, d, k, start);
        pt_step lit = {.k = PT_SPLIT, .lit = (char *)p->repl, .nlit = p->nrepl};
        if ((st = find_matches(&lit, d, k, x))) return st;
        apply_behavior(&x->segs, B_MERGED_NEXT, false);
        return emit_segs(out, d, &x->segs, start, false, x);
    }
    }
    return TCF_OK;
}

/* ---- the BPE model on one word ---------------------------------------------------------- */

typedef struct {
    int32_t id;
    int32_t prev, next;
    uint32_t len; /* bytes of the word covered; 0 = merged away */
} sym;

typedef struct {
    uint32_t rank, pos;
    int32_t id;
} mrg;

static bool mrg_less(mrg a, mrg b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(mrg *h, size_t *n, mrg v) {
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (!mrg_less(v, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static mrg heap_pop(mrg *h, size_t *n) {
    mrg top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        mrg best = v;
        if (l < *n && mrg_less(h[l], best)) m = l, best = h[l];
        if (r < *n && mrg_less(h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = v;
    return top;
}

/* The merge of the pair (a, b): from the table, or (SentencePiece GGUF) the
 * vocab entry spelling a+b, ranked as transformers' generate_merges orders
 * the merges it derives from a vocab without scores: by the merged token's
 * id, then by the length of the left piece (in chars). */
static bool lookup_merge(const tk_bpe *b, const tk_vocab *v, int32_t x, int32_t y, uint32_t *rank, int32_t *id,
                         tk_bpe_scratch *s) {
    if (!b->spm) {
        const merge_ent *e = merge_get(b, x, y);
        if (!e) return false;
        *rank = e->rank;
        *id = e->id;
        return true;
    }
    const char *ta = tk_vocab_token(v, x), *tb = tk_vocab_token(v, y);
    if (!ta || !tb) return false;
    size_t na = strlen(ta), nb = strlen(tb);
    if (tk_buf_reserve(&s->pre, na + nb)) return false;
    memcpy(s->pre.p, ta, na);
    memcpy((char *)s->pre.p + na, tb, nb);
    int32_t r = tk_vocab_find(v, s->pre.p, na + nb);
    if (r < 0) return false;
    uint32_t chars = 0;
    for (size_t i = 0; i < na; i++) chars += ((uint8_t)ta[i] & 0xC0) != 0x80;
    *rank = (uint32_t)r * 64 + (chars < 63 ? chars : 63);
    *id = r;
    return true;
}

static tcf_status push_sym(tk_buf *syms, int32_t id, uint32_t len) {
    tcf_status st = tk_buf_reserve(syms, syms->n + 1);
    if (st) return st;
    sym *y = syms->p;
    int32_t i = (int32_t)syms->n;
    y[i] = (sym){id, i - 1, i + 1, len};
    syms->n++;
    return TCF_OK;
}

static tcf_status push_id(tk_buf *ids, int32_t id) {
    tcf_status st = tk_buf_reserve(ids, ids->n + 1);
    if (st) return st;
    ((int32_t *)ids->p)[ids->n++] = id;
    return TCF_OK;
}

static tcf_status bpe_word(const tk_bpe *b, const tk_vocab *v, const uint8_t *w, size_t n, tk_bpe_scratch *s,
                           tk_buf *ids) {
    tcf_status st;
    if (b->ignore_merges) {
        int32_t id = tk_vocab_find(v, (const char *)w, n);
        if (id >= 0) return push_id(ids, id);
    }
    tk_buf *syms = &s->syms;
    syms->n = 0;
    int32_t unk = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t l = (size_t)utf8_len(w[i]);
        if (l > n - i) l = n - i;
        bool first = i == 0, last = i + l == n;
        const char *key = (const char *)w + i;
        size_t klen = l;
        int32_t id = -1;
        bool fast = l <= 2 && !b->nprefix && !b->nsuffix;
        if (fast) id = b->char_id[utf8_get(w + i, (int)l)];
        else if ((!first && b->nprefix) || (last && b->nsuffix)) {
            tk_buf *t = &s->pre;
            if ((st = tk_buf_reserve(t, b->nprefix + l + b->nsuffix))) return st;
            char *d = t->p;
            klen = 0;
            if (!first) memcpy(d, b->prefix, b->nprefix), klen = b->nprefix;
            memcpy(d + klen, w + i, l);
            klen += l;
            if (last) memcpy(d + klen, b->suffix, b->nsuffix), klen += b->nsuffix;
            key = d;
        }
        if (!fast) id = tk_vocab_find(v, key, klen);
        if (id >= 0) {
            if (unk >= 0) {
                if ((st = push_sym(syms, unk, unk_len))) return st;
                unk = -1;
            }
            if ((st = push_sym(syms, id, (uint32_t)l))) return st;
        } else {
            bool all = b->byte_fallback;
            for (size_t j = 0; j < klen && all; j++) all = b->byte_id[(uint8_t)key[j]] >= 0;
            if (all) { /* a pending unk stays pending until the next vocab hit, as in the reference */
                for (size_t j = 0; j < klen; j++)
                    if ((st = push_sym(syms, b->byte_id[(uint8_t)key[j]], 1))) return st;
            } else if (b->unk_id >= 0) {
                if (unk >= 0 && b->fuse_unk) unk_len += (uint32_t)l;
                else {
                    if (unk >= 0 && (st = push_sym(syms, unk, unk_len))) return st;
                    unk = b->unk_id;
                    unk_len = (uint32_t)l;
                }
            }
        }
        i += l;
    }
    if (unk >= 0 && (st = push_sym(syms, unk, unk_len))) return st;
    size_t ns = syms->n;
    if (!ns) return TCF_OK;
    sym *y = syms->p;
    y[ns - 1].next = -1;
    /* merge_all (word.rs) */
    tk_buf *hb = &s->heap;
    if ((st = tk_buf_reserve(hb, ns * 2 + 4))) return st;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        uint32_t rank;
        int32_t id;
        if (lookup_merge(b, v, y[i].id, y[i + 1].id, &rank, &id, s))
            heap_push(hb->p, &hn, (mrg){rank, (uint32_t)i, id});
    }
    while (hn) {
        mrg top = heap_pop(hb->p, &hn);
        sym *cur = &y[top.pos];
        if (!cur->len || cur->next < 0) continue;
        int32_t nx = cur->next;
        sym right = y[nx];
        uint32_t rank;
        int32_t id;
        if (!lookup_merge(b, v, cur->id, right.id, &rank, &id, s) || id != top.id) continue;
        cur->id = top.id;
        cur->len += right.len;
        cur->next = right.next;
        y[nx].len = 0;
        if (right.next >= 0 && (size_t)right.next < ns) y[right.next].prev = (int32_t)top.pos;
        if ((st = tk_buf_reserve(hb, hn + 2))) return st;
        if (cur->prev >= 0 && lookup_merge(b, v, y[cur->prev].id, cur->id, &rank, &id, s))
            heap_push(hb->p, &hn, (mrg){rank, (uint32_t)cur->prev, id});
        if (cur->next >= 0 && lookup_merge(b, v, cur->id, y[cur->next].id, &rank, &id, s))
            heap_push(hb->p, &hn, (mrg){rank, top.pos, id});
    }
    for (size_t i = 0; i < ns; i++)
        if (y[i].len && (st = push_id(ids, y[i].id))) return st;
    return TCF_OK;
}

/* ---- scratch and the entry point ----------------------------------------------------------- */

void tk_bpe_scratch_init(tk_bpe_scratch *s) {
    tk_buf_init(&s->bytes, s->bytes_st, sizeof s->bytes_st, 1);
    tk_buf_init(&s->a_b, s->a_b_st, sizeof s->a_b_st, 1);
    tk_buf_init(&s->b_b, s->b_b_st, sizeof s->b_b_st, 1);
    tk_buf_init(&s->a_sp, s->a_sp_st, sizeof s->a_sp_st / 12, 12);
    tk_buf_init(&s->b_sp, s->b_sp_st, sizeof s->b_sp_st / 12, 12);
    tk_buf_init(&s->segs, s->segs_st, sizeof s->segs_st / 12, 12);
    tk_buf_init(&s->syms, s->syms_st, sizeof s->syms_st / 16, 16);
    tk_buf_init(&s->heap, s->heap_st, sizeof s->heap_st / 12, 12);
    tk_buf_init(&s->map, s->map_st, sizeof s->map_st, 1);
    tk_buf_init(&s->pre, s->pre_st, sizeof s->pre_st, 1);
    tk_buf_init(&s->cps, NULL, 0, 4);
    s->md = NULL;
}

void tk_bpe_scratch_free(tk_bpe_scratch *s) {
    tk_buf *all[] = {&s->bytes, &s->a_b, &s->b_b, &s->a_sp, &s->b_sp, &s->segs,
                     &s->syms, &s->heap, &s->map, &s->pre, &s->cps};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) tk_buf_free(all[i]);
    pcre2_match_data_free(s->md);
    s->md = NULL;
}

tcf_status tk_bpe_words(const tk_bpe *b, const tk_vocab *v, const uint32_t *t, size_t n, bool at_start,
                        tk_bpe_scratch *s, tk_buf *ids, tk_word_fn fn, void *ctx) {
    if (!n) return TCF_OK;
    _Static_assert(sizeof(span) == 12 && sizeof(seg) == 12 && sizeof(sym) == 16 && sizeof(mrg) == 12, "layout");
    tcf_status st = cps_to_utf8(t, n, &s->bytes);
    if (st) return st;
    pieces cur = {&s->a_b, &s->a_sp}, nxt = {&s->b_b, &s->b_sp};
    cur.bytes->n = cur.sp->n = 0;
    if ((st = push_piece(&cur, s->bytes.p, s->bytes.n, at_start))) return st;
    for (size_t k = 0; k < b->n_pt; k++) {
        nxt.bytes->n = nxt.sp->n = 0;
        const span *sp = cur.sp->p;
        for (size_t i = 0; i < cur.sp->n; i++) {
            const uint8_t *p = (const uint8_t *)cur.bytes->p + sp[i].off;
            if ((st = pt_apply(&b->pt[k], p, sp[i].len, sp[i].start, &nxt, s))) return st;
        }
        pieces t2 = cur;
        cur = nxt;
        nxt = t2;
    }
    const span *sp = cur.sp->p;
    for (size_t i = 0; i < cur.sp->n; i++) {
        const uint8_t *p = (const uint8_t *)cur.bytes->p + sp[i].off;
        if (fn) {
            if ((st = utf8_to_cps(p, sp[i].len, &s->cps))) return st;
            fn(ctx, s->cps.p, s->cps.n, -1);
            continue;
        }
        if ((st = bpe_word(b, v, p, sp[i].len, s, ids))) return st;
    }
    return TCF_OK;
}
