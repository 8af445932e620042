/*
 * bert_norm.c — the BERT normaliser and the character classes of the BERT
 * pre-tokeniser, matching Hugging Face `tokenizers` codepoint for codepoint;
 * also strict UTF-8 decoding and the growable scratch buffers of src/text.
 *
 * Specification: tokenizers/src/normalizers/bert.rs and
 * tokenizers/src/pre_tokenizers/bert.rs (the Rust crate; the same algorithm as
 * BasicTokenizer in Google's BERT tokenization.py). BertNormalizer runs, each
 * over the whole string:
 *   1. clean_text: drop U+0000, U+FFFD and "control" chars (is_other: Cc, Cf,
 *      Cn, Co — except \t \n \r); map whitespace (\t \n \r or
 *      char::is_whitespace) to ' '.
 *   2. handle_chinese_chars: ' ' c ' ' around the fixed CJK ranges below.
 *   3. strip_accents (defaults to `lowercase` when null): NFD, then drop
 *      nonspacing marks (Mn).
 *   4. lowercase: char::to_lowercase per char (full mapping: 'İ' -> "i̇"; no
 *      context, so no final sigma).
 * The pre-tokeniser splits on char::is_whitespace and isolates punctuation
 * (ASCII punctuation or a P* category).
 *
 * The classes come from utf8proc (Unicode 15 in utf8proc 2.8) corrected by the
 * generated tables of bert_unicode_tables.h: the reference's categories come
 * from older crates (and, found empirically, it never treats unassigned Cn
 * codepoints as control), its case mapping from a newer Rust std. Canonical
 * ordering after NFD uses the reference's combining classes (flip_ccc).
 * tests/test_tokenizer.c checks every codepoint against reference digests.
 */
#include "text/tokenizer_internal.h"

#include "text/bert_unicode_tables.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- growable buffers ----------------------------------------------------- */

tcf_status tk_buf_reserve(tk_buf *b, size_t need) {
    if (need <= b->cap) return TCF_OK;
    size_t cap = b->cap ? b->cap : 16, bytes;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: buffer size overflow");
        cap *= 2;
    }
    if (!tcf_mul_ok(cap, b->esz, &bytes))
        return tcf_fail(TCF_ERR_NOMEM, "tokenizer: buffer size overflow");
    void *p = b->heap ? realloc(b->p, bytes) : malloc(bytes);
    if (!p) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: cannot allocate %zu bytes", bytes);
    if (!b->heap && b->n) memcpy(p, b->p, b->n * b->esz);
    b->p = p;
    b->cap = cap;
    b->heap = true;
    return TCF_OK;
}

void tk_buf_free(tk_buf *b) {
    if (b->heap) free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
    b->heap = false;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Length of the valid sequence starting at s[0] (1..4), or 0 if invalid. */
static int utf8_seq(const uint8_t *s, size_t left, uint32_t *cp) {
    uint8_t b0 = s[0];
    if (b0 < 0x80) { *cp = b0; return 1; }
    if (b0 < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (b0 < 0xE0) {
        if (left < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (b0 < 0xF0) {
        if (left < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (b0 == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (b0 == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        *cp = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (b0 > 0xF4) return 0;
    if (left < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    if (b0 == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (b0 == 0xF4 && s[1] >= 0x90) return 0; /* above U+10FFFF */
    *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

tcf_status tk_utf8_decode(const uint8_t *s, size_t len, tk_buf *out, size_t *bad_off,
                          bool *all_ascii) {
    tcf_status st = tk_buf_reserve(out, out->n + len);
    if (st) return st;
    uint32_t *d = (uint32_t *)out->p + out->n;
    size_t i = 0, k = 0;
    bool ascii = true;
    while (i < len) {
        if (s[i] < 0x80) {
            d[k++] = s[i++];
            continue;
        }
        uint32_t c;
        int n = utf8_seq(s + i, len - i, &c);
        if (!n) {
            *bad_off = i;
            return TCF_ERR_UTF8;
        }
        ascii = false;
        d[k++] = c;
        i += (size_t)n;
    }
    out->n += k;
    *all_ascii = ascii;
    return TCF_OK;
}

size_t tk_utf8_check(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        int n = s[i] < 0x80 ? 1 : utf8_seq(s + i, len - i, &c);
        if (!n) return i;
        i += (size_t)n;
    }
    return (size_t)-1;
}

/* ---- character classes -------------------------------------------------------- */

enum { A_CTRL = 1, A_WS = 2, A_PUNCT = 4, A_WORD = 8 };

/* ASCII classes: control = Cc except \t \n \r (clean_text drops them); whitespace
 * = Rust char::is_whitespace (\t..\r and ' '); punctuation = is_ascii_punctuation. */
static const uint8_t ascii_class[128] = {
    /* 0x00 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 2, 1, 1,
    /* 0x10 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x20 */ 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    /* 0x30 */ 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4, 4,
    /* 0x40 */ 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    /* 0x50 */ 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 12,
    /* 0x60 */ 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
    /* 0x70 */ 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 1,
};

#define N_RANGES(t) (sizeof(t) / sizeof((t)[0]))

static bool in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
    if (c < r[0][0] || c > r[n - 1][1]) return false;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

const char *tk_tables_unicode_version(void) { return TK_TABLES_UNICODE; }

static int category(uint32_t c) { return utf8proc_get_property((utf8proc_int32_t)c)->category; }

bool tk_is_whitespace(uint32_t c) {
    if (c < 128) return ascii_class[c] & A_WS;
    if (c == 0x85) return true;
    int cat = category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool tk_is_control(uint32_t c) {
    if (c < 128) return ascii_class[c] & A_CTRL;
    int cat = category(c);
    bool base = cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO;
    return base != in_ranges(flip_control, N_RANGES(flip_control), c);
}

bool tk_is_punct(uint32_t c) {
    if (c < 128) return ascii_class[c] & A_PUNCT;
    int cat = category(c);
    bool base = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
    return base != in_ranges(flip_punct, N_RANGES(flip_punct), c);
}

/* The ranges of tokenizers' is_chinese_char (bert.rs), including its
 * 0x2B920..0x2CEAF where BERT's original has 0x2B820..0x2CEAF. */
bool tk_is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Regex \w = Alphabetic | M | Nd | Pc | Join_Control. Alphabetic is taken as
 * L* | Nl plus the So letters of Other_Alphabetic (circled/squared Latin); the
 * few Other_Alphabetic marks are covered by M. */
bool tk_is_word_char(uint32_t c) {
    if (c < 128) return ascii_class[c] & A_WORD;
    if (c == 0x200C || c == 0x200D) return true;
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
        (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
        return true;
    int cat = category(c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ND) ||
           cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_PC;
}

static bool ref_is_mn(uint32_t c) {
    if (c < 0x300) return false;
    bool base = category(c) == UTF8PROC_CATEGORY_MN;
    return base != in_ranges(flip_mn, N_RANGES(flip_mn), c);
}

static int ref_ccc(uint32_t c) {
    if (c < 0x300) return 0;
    int k = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
    return k && in_ranges(flip_ccc, N_RANGES(flip_ccc), c) ? 0 : k;
}

/* Canonical decomposition of c into d (up to 4 codepoints; Hangul included). */
static int ref_nfd(uint32_t c, uint32_t d[4]) {
    if (c < 0xC0) { d[0] = c; return 1; }
    for (size_t i = 0; i < N_RANGES(nfd_exc); i++)
        if (nfd_exc[i][0] == c) {
            for (uint32_t k = 0; k < nfd_exc[i][1]; k++) d[k] = nfd_exc[i][2 + k];
            return (int)nfd_exc[i][1];
        }
    utf8proc_int32_t buf[4];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 4, UTF8PROC_DECOMPOSE, &last);
    if (n < 1 || n > 4) { /* no canonical decomposition is longer than 4 */
        d[0] = c;
        return 1;
    }
    for (int k = 0; k < n; k++) d[k] = (uint32_t)buf[k];
    return (int)n;
}

int tk_ref_ccc(uint32_t c) { return ref_ccc(c); }
int tk_ref_nfd(uint32_t c, uint32_t d[4]) { return ref_nfd(c, d); }

/* Rust char::to_lowercase (1 or 2 codepoints). */
static int ref_lower(uint32_t c, uint32_t d[2]) {
    if (c < 128) {
        d[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    if (c >= lower_exc[0][0] && c <= lower_exc[N_RANGES(lower_exc) - 1][0]) {
        size_t lo = 0, hi = N_RANGES(lower_exc);
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (lower_exc[mid][0] < c) lo = mid + 1;
            else hi = mid;
        }
        if (lo < N_RANGES(lower_exc) && lower_exc[lo][0] == c) {
            d[0] = lower_exc[lo][1];
            d[1] = lower_exc[lo][2];
            return d[1] ? 2 : 1;
        }
    }
    d[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

/* ---- the normaliser --------------------------------------------------------------- */

#define PUSH(buf, v) (((uint32_t *)(buf)->p)[(buf)->n++] = (v))

/* Steps 3 (NFD with canonical ordering, drop Mn) of the header comment:
 * in[0..n) -> out. A stable sort by combining class followed by dropping marks
 * equals dropping them first and sorting what is left, so dropped marks never
 * take part in the ordering. */
static tcf_status strip_accents(const uint32_t *in, size_t n, tk_buf *out) {
    tcf_status st = tk_buf_reserve(out, n * 4);
    if (st) return st;
    uint32_t *o = out->p;
    size_t k = 0, run = 0; /* run: first index after the last starter */
    for (size_t i = 0; i < n; i++) {
        uint32_t d[4];
        int nd = ref_nfd(in[i], d);
        for (int j = 0; j < nd; j++) {
            uint32_t c = d[j];
            if (ref_is_mn(c)) continue;
            int cc = ref_ccc(c);
            if (!cc) {
                o[k++] = c;
                run = k;
                continue;
            }
            size_t p = k;
            while (p > run && ref_ccc(o[p - 1]) > cc) {
                o[p] = o[p - 1];
                p--;
            }
            o[p] = c;
            k++;
        }
    }
    out->n = k;
    return TCF_OK;
}

tcf_status tk_normalize(const tk_norm_cfg *cfg, const uint32_t *in, size_t n, tk_buf *out,
                        tk_buf *tmp) {
    out->n = tmp->n = 0;
    tcf_status st;
    if (!cfg->enabled) {
        if ((st = tk_buf_reserve(out, n))) return st;
        memcpy(out->p, in, n * sizeof *in);
        out->n = n;
        return TCF_OK;
    }
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = in[i] < 128;
    if (ascii) { /* steps 2 and 3 do nothing to ASCII */
        if ((st = tk_buf_reserve(out, n))) return st;
        uint32_t *o = out->p;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t c = in[i];
            if (cfg->clean_text) {
                if (ascii_class[c] & A_CTRL) continue;
                if (ascii_class[c] & A_WS) c = ' ';
            }
            if (cfg->lowercase && c >= 'A' && c <= 'Z') c += 32;
            o[k++] = c;
        }
        out->n = k;
        return TCF_OK;
    }
    /* steps 1 and 2: in -> tmp */
    size_t cap;
    if (!tcf_mul_ok(n, 3, &cap)) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: text too long");
    if ((st = tk_buf_reserve(tmp, cap))) return st;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = in[i];
        if (cfg->clean_text) {
            if (c == 0 || c == 0xFFFD || tk_is_control(c)) continue;
            if (tk_is_whitespace(c)) c = ' ';
        }
        if (cfg->handle_cjk && tk_is_cjk(c)) {
            PUSH(tmp, ' ');
            PUSH(tmp, c);
            PUSH(tmp, ' ');
        } else {
            PUSH(tmp, c);
        }
    }
    /* step 3: tmp -> out */
    tk_buf *src = tmp, *dst = out;
    if (cfg->strip_accents) {
        if ((st = strip_accents(tmp->p, tmp->n, out))) return st;
        src = out;
        dst = tmp;
    }
    /* step 4: src -> dst */
    if (cfg->lowercase) {
        if (!tcf_mul_ok(src->n, 2, &cap)) return tcf_fail(TCF_ERR_NOMEM, "tokenizer: text too long");
        if ((st = tk_buf_reserve(dst, cap))) return st;
        dst->n = 0;
        const uint32_t *s = src->p;
        for (size_t i = 0; i < src->n; i++) {
            uint32_t d[2];
            int nd = ref_lower(s[i], d);
            for (int j = 0; j < nd; j++) PUSH(dst, d[j]);
        }
        src = dst;
    }
    if (src != out) { /* the result ended in tmp: swap the buffers' contents */
        tk_buf t = *out;
        *out = *tmp;
        *tmp = t;
    }
    return TCF_OK;
}
