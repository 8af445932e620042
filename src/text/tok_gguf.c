/*
 * tok_gguf.c — a tokenizer from GGUF metadata (tokenizer.ggml.*), built the
 * way transformers' GGUF conversion builds a Hugging Face tokenizer from the
 * same keys (integrations/gguf/gguf_tokenizer_mapping.py, transformers 5.24),
 * which is the reference tests/test_bpe.c compares with.
 *
 * Keys read (llama.cpp's names; gguf-py constants.py Keys.Tokenizer):
 *   tokenizer.ggml.model        "gpt2" (byte-level BPE) | "llama" (SentencePiece BPE)
 *   tokenizer.ggml.tokens       [string] the vocab, id = index (required)
 *   tokenizer.ggml.token_type   [int] 1 normal, 2 unknown, 3 control, 4 user
 *                               defined, 6 byte (optional; same length)
 *   tokenizer.ggml.merges       [string] "a b" in rank order (required for gpt2)
 *   tokenizer.ggml.pre          the pre-tokenizer's name (gpt2; default "default")
 *   tokenizer.ggml.{bos,eos,unknown,padding}_token_id   (optional; < n_tokens)
 *   tokenizer.ggml.add_bos_token / add_eos_token  (bools; bos defaults to true
 *                               for "llama", false for "gpt2")
 *   tokenizer.ggml.add_space_prefix  ("llama"; default true)
 * "gpt2": tokens not spelled in the byte-level alphabet are respelled from
 * their UTF-8 bytes; the pre-tokenizer comes from the name (table below:
 * llama.cpp's names; "smollm" / "starcoder" / "refact" split digits one by
 * one before the GPT-2 regex, as their own tokenizer.json files do, where
 * transformers keeps only ByteLevel: see tests/ref/gen_bpe_fixtures.py); an
 * unknown name is TCF_ERR_UNSUPPORTED. "llama": Metaspace (prepend_scheme
 * first, no split), byte fallback, no unk token, merges implied by the vocab.
 * Control tokens (type 3) and the bos/eos/unk/pad tokens are special added
 * tokens, user-defined ones (type 4) plain added tokens (for gpt2 only those
 * spelled in the alphabet); none are normalised.
 */
#include "text/tokenizer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LLAMA3_RE =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const QWEN2_RE =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const GPT4O_RE =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef enum { PRE_GPT2, PRE_DIGITS_GPT2, PRE_SPLIT } pre_kind;

static const struct {
    const char *name;
    pre_kind kind;
    const char *const *re;
} PRE_NAMES[] = {
    {"default", PRE_GPT2, NULL},         {"gpt-2", PRE_GPT2, NULL},          {"gpt2", PRE_GPT2, NULL},
    {"phi-2", PRE_GPT2, NULL},           {"roberta-bpe", PRE_GPT2, NULL},    {"jina-es", PRE_GPT2, NULL},
    {"jina-de", PRE_GPT2, NULL},         {"gigachat", PRE_GPT2, NULL},
    {"smollm", PRE_DIGITS_GPT2, NULL},   {"starcoder", PRE_DIGITS_GPT2, NULL}, {"refact", PRE_DIGITS_GPT2, NULL},
    {"llama3", PRE_SPLIT, &LLAMA3_RE},   {"llama-v3", PRE_SPLIT, &LLAMA3_RE}, {"llama-bpe", PRE_SPLIT, &LLAMA3_RE},
    {"falcon3", PRE_SPLIT, &LLAMA3_RE},  {"dbrx", PRE_SPLIT, &LLAMA3_RE},     {"smaug-bpe", PRE_SPLIT, &LLAMA3_RE},
    {"pixtral", PRE_SPLIT, &LLAMA3_RE},  {"qwen2", PRE_SPLIT, &QWEN2_RE},     {"deepseek-r1-qwen", PRE_SPLIT, &QWEN2_RE},
    {"megrez", PRE_SPLIT, &QWEN2_RE},    {"gpt-4o", PRE_SPLIT, &GPT4O_RE},    {"llama4", PRE_SPLIT, &GPT4O_RE},
};

#define K_MODEL "tokenizer.ggml.model"
#define K_TOKENS "tokenizer.ggml.tokens"
#define K_TYPES "tokenizer.ggml.token_type"
#define K_MERGES "tokenizer.ggml.merges"
#define K_PRE "tokenizer.ggml.pre"

/* An optional token id key: -1 when absent; out of [0, n) is an error. */
static tcf_status opt_id(const tcf_gguf *g, const char *key, int64_t n, const char *L, int32_t *out) {
    *out = -1;
    const tcf_gguf_value *v = tcf_gguf_find(g, key);
    if (!v) return TCF_OK;
    int64_t id;
    tcf_status st = tcf_gguf_value_i64(v, &id);
    if (st) return tcf_fail_prefix(st, "%s", L);
    if (id < 0 || id >= n)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' = %lld is not a token id (the vocab has %lld tokens)", L, key,
                        (long long)id, (long long)n);
    *out = (int32_t)id;
    return TCF_OK;
}

static tcf_status opt_bool(const tcf_gguf *g, const char *key, bool def, const char *L, bool *out) {
    *out = def;
    const tcf_gguf_value *v = tcf_gguf_find(g, key);
    if (!v) return TCF_OK;
    int b;
    tcf_status st = tcf_gguf_value_bool(v, &b);
    if (st) return tcf_fail_prefix(st, "%s", L);
    *out = b != 0;
    return TCF_OK;
}

/* A required array of `want` elements (want < 0: any count up to TK_MAX_ID). */
static tcf_status get_arr(const tcf_gguf *g, const char *key, bool strings, int64_t want, const char *L,
                          const tcf_gguf_value **arr, uint64_t *n) {
    tcf_gguf_type et;
    const tcf_gguf_value *v = tcf_gguf_find(g, key);
    if (!v) return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' is missing", L, key);
    if (tcf_gguf_value_type(v) != TCF_GGUF_ARRAY)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' is a %s, expected an array", L, key,
                        tcf_gguf_type_name(tcf_gguf_value_type(v)));
    tcf_status st = tcf_gguf_get_array(g, key, &et, n, arr);
    if (st) return tcf_fail_prefix(st, "%s", L);
    bool ok = strings ? et == TCF_GGUF_STRING : (et <= TCF_GGUF_I32 || et == TCF_GGUF_U64 || et == TCF_GGUF_I64);
    if (!ok)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' is an array of %s, expected %s", L, key, tcf_gguf_type_name(et),
                        strings ? "strings" : "integers");
    if (want >= 0 && *n != (uint64_t)want)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' has %llu entries, but there are %lld tokens", L, key,
                        (unsigned long long)*n, (long long)want);
    if (want < 0 && (*n == 0 || *n >= (uint64_t)TK_MAX_ID))
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' has %llu entries (expected 1 to %d)", L, key,
                        (unsigned long long)*n, TK_MAX_ID - 1);
    return TCF_OK;
}

static tcf_status add_special_id(tcf_tokenizer *t, int32_t id) {
    if (id < 0) return TCF_OK;
    const char *s = tk_vocab_token(&t->wp.vocab, id);
    return s ? tk_tokenizer_add_added(t, s, true, false) : TCF_OK;
}

static tcf_status load(tcf_tokenizer *t, const tcf_gguf *g) {
    const char *L = t->label, *model;
    tcf_status st;
    const tcf_gguf_value *v = tcf_gguf_find(g, K_MODEL);
    if (!v) return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' is missing (no tokenizer in this GGUF)", L, K_MODEL);
    if ((st = tcf_gguf_value_str(v, &model, NULL))) return tcf_fail_prefix(st, "%s", L);
    bool gpt2 = !strcmp(model, "gpt2"), llama = !strcmp(model, "llama");
    if (!gpt2 && !llama)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: %s \"%.40s\" is not supported (gpt2 and llama are)", L, K_MODEL, model);
    const tcf_gguf_value *toks, *types = NULL, *merges = NULL;
    uint64_t n, nt;
    if ((st = get_arr(g, K_TOKENS, true, -1, L, &toks, &n))) return st;
    if (tcf_gguf_find(g, K_TYPES) && (st = get_arr(g, K_TYPES, false, (int64_t)n, L, &types, &nt))) return st;
    if ((st = tk_bpe_new(L, &t->bpe))) return st;
    tk_bpe *b = t->bpe;
    char *sp = NULL;
    size_t sp_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if ((st = tcf_gguf_array_str(toks, i, &s, &len))) {
            free(sp);
            return tcf_fail_prefix(st, "%s", L);
        }
        if (gpt2 && !tk_bytelevel_spelled(s, len)) {
            if (len * 2 > sp_cap) {
                char *q = realloc(sp, len * 2 + 16);
                if (!q) {
                    free(sp);
                    return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", L);
                }
                sp = q;
                sp_cap = len * 2 + 16;
            }
            len = tk_bytelevel_spell(s, len, sp);
            s = sp;
        }
        if ((st = tk_vocab_add(&t->wp.vocab, s, len, (int32_t)i))) {
            free(sp);
            return tcf_fail_prefix(st, "%s: %s[%llu]", L, K_TOKENS, (unsigned long long)i);
        }
    }
    free(sp);
    if ((st = tk_vocab_finalize(&t->wp.vocab))) return tcf_fail_prefix(st, "%s", L);
    if ((st = tk_bpe_model_finish(b, &t->wp.vocab, NULL, NULL, L))) return st;
    int32_t bos, eos, unk, pad;
    if ((st = opt_id(g, "tokenizer.ggml.bos_token_id", (int64_t)n, L, &bos)) ||
        (st = opt_id(g, "tokenizer.ggml.eos_token_id", (int64_t)n, L, &eos)) ||
        (st = opt_id(g, "tokenizer.ggml.unknown_token_id", (int64_t)n, L, &unk)) ||
        (st = opt_id(g, "tokenizer.ggml.padding_token_id", (int64_t)n, L, &pad)))
        return st;
    bool add_bos, add_eos, space_prefix;
    if ((st = opt_bool(g, "tokenizer.ggml.add_bos_token", llama, L, &add_bos)) ||
        (st = opt_bool(g, "tokenizer.ggml.add_eos_token", false, L, &add_eos)) ||
        (st = opt_bool(g, "tokenizer.ggml.add_space_prefix", true, L, &space_prefix)))
        return st;
    if (gpt2) {
        const char *pre = "default";
        const tcf_gguf_value *pv = tcf_gguf_find(g, K_PRE);
        if (pv && (st = tcf_gguf_value_str(pv, &pre, NULL))) return tcf_fail_prefix(st, "%s", L);
        int k = -1;
        for (size_t i = 0; i < sizeof PRE_NAMES / sizeof *PRE_NAMES && k < 0; i++)
            if (!strcmp(pre, PRE_NAMES[i].name)) k = (int)i;
        if (k < 0)
            return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: %s \"%.40s\" names a pre-tokenizer tcf does not know", L, K_PRE,
                            pre);
        switch (PRE_NAMES[k].kind) {
        case PRE_DIGITS_GPT2:
            if ((st = tk_bpe_add_pretok_digits(b, true, L))) return st;
            /* fall through */
        case PRE_GPT2:
            st = tk_bpe_add_pretok_bytelevel(b, true, false, L);
            break;
        case PRE_SPLIT:
            if (!(st = tk_bpe_add_pretok_regex(b, *PRE_NAMES[k].re, L)))
                st = tk_bpe_add_pretok_bytelevel(b, false, false, L);
            break;
        }
        if (st) return st;
        tk_bpe_set_model(b, -1, false, false, false);
        uint64_t nm;
        if ((st = get_arr(g, K_MERGES, true, -1, L, &merges, &nm))) return st;
        if ((st = tk_bpe_merges_reserve(b, nm, L))) return st;
        for (uint64_t i = 0; i < nm; i++) {
            const char *s, *space;
            size_t len;
            if ((st = tcf_gguf_array_str(merges, i, &s, &len))) return tcf_fail_prefix(st, "%s", L);
            space = memchr(s, ' ', len);
            if (!space || memchr(space + 1, ' ', len - (size_t)(space - s) - 1))
                return tcf_fail(TCF_ERR_FORMAT, "%s: %s[%llu] \"%.64s\" is not two tokens separated by one space", L,
                                K_MERGES, (unsigned long long)i, s);
            if ((st = tk_bpe_add_merge(b, &t->wp.vocab, s, (size_t)(space - s), space + 1,
                                       len - (size_t)(space - s) - 1, (uint32_t)i, L, K_MERGES " entry")))
                return st;
        }
    } else {
        /* LlamaTokenizer as transformers builds it: Metaspace first, byte fallback */
        tk_bpe_set_model(b, -1, true, true, false);
        tk_bpe_set_spm(b);
        if ((st = tk_bpe_add_pretok_metaspace(b, space_prefix ? 1 : 2, false, L))) return st;
    }
    for (uint64_t i = 0; types && i < n; i++) {
        int64_t ty;
        if ((st = tcf_gguf_array_i64(types, i, &ty))) return tcf_fail_prefix(st, "%s", L);
        if (ty != 3 && ty != 4) continue;
        const char *s;
        size_t len;
        if ((st = tcf_gguf_array_str(toks, i, &s, &len))) return tcf_fail_prefix(st, "%s", L);
        if (strlen(s) != len) continue; /* a NUL inside: cannot be typed in text */
        if (gpt2 && !tk_bytelevel_spelled(s, len)) continue; /* not in the vocab as spelled */
        if ((st = tk_tokenizer_add_added(t, s, ty == 3, false))) return st;
    }
    int32_t sids[] = {bos, eos, unk, pad};
    for (int i = 0; i < 4; i++)
        if ((st = add_special_id(t, sids[i]))) return st;
    if (add_bos && bos >= 0) t->pre_ids[t->n_pre++] = bos;
    if (add_eos && eos >= 0) t->post_ids[t->n_post++] = eos;
    t->pad_id = pad >= 0 ? pad : eos >= 0 ? eos : 0;
    return tk_tokenizer_finish(t, NULL);
}

tcf_status tcf_tokenizer_load_gguf(const tcf_gguf *g, const char *label, tcf_tokenizer **out) {
    if (!g || !out) return tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_load_gguf: NULL argument");
    *out = NULL;
    tcf_tokenizer *t;
    tcf_status st = tk_tokenizer_new(label ? label : "gguf", &t);
    if (st) return st;
    if ((st = load(t, g))) {
        tcf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return TCF_OK;
}
