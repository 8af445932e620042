/*
 * tokenizer.c — BERT-family (WordPiece) tokenizers: loading a Hugging Face
 * tokenizer.json or a bare vocab.txt, and encoding text to ids with exact
 * parity with the Hugging Face `tokenizers` library (tested against it: see
 * tests/test_tokenizer.c and tests/ref/gen_tokenizer_fixtures.py). Also the
 * shared frame of BPE tokenizers: a tokenizer.json whose model is "BPE" gets
 * its normalizer, pre-tokenizer and model from bpe.c (a .gguf path: tok_gguf.c)
 * and its added tokens, post-processor and truncation from here; encoding
 * runs the same added-token split, then bpe.c instead of WordPiece.
 *
 * Format: tokenizer.json as written by `tokenizers` (no formal spec; the
 * serde structs of tokenizers/src/tokenizer/serialization.rs and of each
 * component). Read here:
 *   added_tokens    [{id, content, special, single_word, lstrip, rstrip, normalized}]
 *                   (ids are assigned as the reference does: see added_id)
 *   normalizer      null | BertNormalizer {clean_text, handle_chinese_chars,
 *                   strip_accents (null = follow lowercase), lowercase}
 *   pre_tokenizer   null | BertPreTokenizer | WhitespaceSplit
 *   model           WordPiece {vocab, unk_token, continuing_subword_prefix,
 *                   max_input_chars_per_word}; other types: TCF_ERR_UNSUPPORTED
 *   post_processor  null | TemplateProcessing (single: specials around $A) |
 *                   BertProcessing | RobertaProcessing | Sequence of those
 *                   (ByteLevel members ignored)
 *   truncation      null | {max_length, direction}
 *   padding         null | {pad_id}
 * Absent fields take the defaults of the components (unk "[UNK]", prefix "##",
 * 100 chars, ...) where the reference would refuse the file.
 * A vocab.txt alone (one token per line, id = line number) becomes what
 * transformers (5.x) builds from a directory holding only it: BertNormalizer
 * (do_lower_case, tokenize_chinese_chars, strip_accents from
 * tokenizer_config.json when present; lowercase by default), BertPreTokenizer, WordPiece ("##", 100 chars),
 * [CLS] $A [SEP], the special tokens as non-normalised added tokens, and
 * truncation at tokenizer_config's model_max_length when it is sane (<= 1M).
 *
 * Encoding, as Tokenizer::encode in `tokenizers`:
 *   1. split the input on added tokens with normalized=false (leftmost-longest,
 *      honouring single_word / lstrip / rstrip), so "[MASK]" typed in the text
 *      is the [MASK] id, before any normalisation (and case-sensitively);
 *   2. normalise each remaining piece (bert_norm.c), split it on added tokens
 *      with normalized=true, pre-tokenise, WordPiece (wordpiece.c);
 *   3. truncate the content to max_len minus the number of special tokens
 *      (for one sequence LongestFirst = keep the first ones; direction Left
 *      keeps the last), then add the post-processor's specials.
 * Encode never pads: padding is a batching concern left to the model code.
 * opts NULL means {add_special = 1, max_len = 0}.
 * max_len is opts->max_len, or when 0 the tokenizer.json truncation
 * max_length (0 = no truncation). A max_len smaller than the number of
 * special tokens is TCF_ERR_ARG (the reference silently skips truncation).
 * When the result does not fit in `cap`, encode returns TCF_ERR_ARG and sets
 * *n_ids to the number of ids needed.
 *
 * Invalid UTF-8 (overlongs, surrogates, > U+10FFFF, truncated sequences) is
 * refused with TCF_ERR_UTF8 and a message naming the byte offset; the
 * reference cannot receive such text at all (its API takes Rust/Python
 * strings), so there is nothing to match.
 *
 * Threads: a loaded tokenizer is never written; encode keeps its working
 * memory on the stack and only moves to the heap for long texts.
 */
#include "text/tokenizer_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SPECIALS 8

/* ---- JSON helpers ---------------------------------------------------------- */

static const cJSON *jget(const cJSON *o, const char *key) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static bool jabsent(const cJSON *v) { return !v || cJSON_IsNull(v); }

static tcf_status jbool(const cJSON *o, const char *key, bool def, bool *out, const char *label,
                        const char *where) {
    const cJSON *v = jget(o, key);
    if (jabsent(v)) { *out = def; return TCF_OK; }
    if (!cJSON_IsBool(v))
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s.%s: expected true or false", label, where, key);
    *out = cJSON_IsTrue(v);
    return TCF_OK;
}

static bool jint_value(const cJSON *v, double lo, double hi, int64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != (double)(int64_t)d) return false;
    *out = (int64_t)d;
    return true;
}

static tcf_status jint(const cJSON *o, const char *key, int64_t def, int64_t lo, int64_t hi,
                       int64_t *out, const char *label, const char *where) {
    const cJSON *v = jget(o, key);
    if (jabsent(v)) { *out = def; return TCF_OK; }
    if (!jint_value(v, (double)lo, (double)hi, out))
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s.%s: expected an integer in [%lld, %lld]", label, where,
                        key, (long long)lo, (long long)hi);
    return TCF_OK;
}

/* String member, or `def` when absent; NULL with an error when not a string. */
static tcf_status jstr(const cJSON *o, const char *key, const char *def, const char **out,
                       const char *label, const char *where) {
    const cJSON *v = jget(o, key);
    if (jabsent(v)) { *out = def; return TCF_OK; }
    if (!cJSON_IsString(v))
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s.%s: expected a string", label, where, key);
    *out = v->valuestring;
    return TCF_OK;
}

static const char *jtype(const cJSON *o) {
    const cJSON *t = jget(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* Parse text of len bytes (copied so that cJSON sees a NUL-terminated buffer). */
static tcf_status parse_json(const char *text, size_t len, const char *label, cJSON **out) {
    *out = NULL;
    size_t bad = tk_utf8_check((const uint8_t *)text, len);
    if (bad != (size_t)-1)
        return tcf_fail(TCF_ERR_FORMAT, "%s: not valid UTF-8 at byte %zu", label, bad);
    char *copy = malloc(len + 1);
    if (!copy) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %zu bytes", label, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
    size_t at = end ? (size_t)(end - copy) : 0;
    free(copy);
    if (!root) return tcf_fail(TCF_ERR_FORMAT, "%s: not valid JSON (error near byte %zu)", label, at);
    *out = root;
    return TCF_OK;
}

/* ---- tokenizer object -------------------------------------------------------- */

void tcf_tokenizer_free(tcf_tokenizer *t) {
    if (!t) return;
    free(t->label);
    tk_vocab_free(&t->wp.vocab);
    free(t->wp.prefix);
    for (size_t i = 0; i < t->n_added; i++) {
        free(t->added[i].cp);
        free(t->added[i].content);
    }
    free(t->added);
    free(t->raw_set.tok);
    free(t->norm_set.tok);
    tk_bpe_free(t->bpe);
    free(t);
}

static tcf_status tok_new(const char *label, tcf_tokenizer **out) {
    tcf_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->label = strdup(label ? label : "tokenizer"))) {
        free(t);
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the tokenizer", label);
    }
    t->pretok = TK_PRETOK_BERT;
    t->wp.max_chars = 100;
    *out = t;
    return TCF_OK;
}

/* The tokenizer's normaliser: BERT's, or the BPE normalizer steps. */
static tcf_status normalize(const tcf_tokenizer *t, const uint32_t *in, size_t n, tk_buf *out, tk_buf *tmp,
                            tk_bpe_scratch *bs) {
    if (t->bpe) return tk_bpe_normalize(t->bpe, in, n, out, tmp, bs);
    return tk_normalize(&t->norm, in, n, out, tmp);
}

static tcf_status set_prefix(tcf_tokenizer *t, const char *prefix) {
    free(t->wp.prefix);
    if (!(t->wp.prefix = strdup(prefix)))
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate", t->label);
    t->wp.prefix_len = strlen(prefix);
    uint64_t h = TK_FNV_BASIS;
    for (size_t i = 0; i < t->wp.prefix_len; i++) h = (h ^ (uint8_t)prefix[i]) * TK_FNV_PRIME;
    t->wp.prefix_hash = h;
    return TCF_OK;
}

/* The id the reference gives an added token (AddedVocabulary::add_tokens, when
 * tokenizer.json is read): that of an earlier added token with the same
 * content, else the model's, else one past the largest added id so far but at
 * least the model's vocab size (its number of entries). The "id" written in
 * the file is not used (the reference only warns when it differs). */
static int32_t added_id(const tcf_tokenizer *t, const char *content, size_t n_before) {
    int64_t max = -1;
    for (size_t i = 0; i < n_before; i++) {
        if (!strcmp(t->added[i].content, content)) return t->added[i].id;
        if (t->added[i].id > max) max = t->added[i].id;
    }
    int32_t vid = tk_vocab_find(&t->wp.vocab, content, strlen(content));
    if (vid >= 0) return vid;
    int64_t size = (int64_t)t->wp.vocab.n_unique;
    return (int32_t)(max >= size || size == 0 ? max + 1 : size);
}

static tcf_status add_added(tcf_tokenizer *t, const char *content, bool special,
                            bool single_word, bool lstrip, bool rstrip, bool normalized) {
    tk_added *a = realloc(t->added, (t->n_added + 1) * sizeof *a);
    if (!a) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate added tokens", t->label);
    t->added = a;
    a = &t->added[t->n_added];
    memset(a, 0, sizeof *a);
    if (!(a->content = strdup(content)))
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate added tokens", t->label);
    t->n_added++;
    a->id = added_id(t, content, t->n_added - 1);
    a->special = special;
    a->single_word = single_word;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->normalized = normalized;
    return TCF_OK;
}

static int cmp_added(const void *pa, const void *pb) {
    const tk_added *a = *(tk_added *const *)pa, *b = *(tk_added *const *)pb;
    if (a->cp[0] != b->cp[0]) return a->cp[0] < b->cp[0] ? -1 : 1;
    if (a->n != b->n) return a->n > b->n ? -1 : 1;
    return 0;
}

/* Codepoints of each added token (normalised when it says so), and the two
 * sorted match sets. Tokens that are empty (after normalisation) never match. */
static tcf_status build_added_sets(tcf_tokenizer *t) {
    tcf_status st = TCF_OK;
    uint32_t s1[64], s2[64], s3[64];
    tk_buf raw, norm, tmp;
    tk_buf_init(&raw, s1, 64, 4);
    tk_buf_init(&norm, s2, 64, 4);
    tk_buf_init(&tmp, s3, 64, 4);
    tk_bpe_scratch *bs = malloc(sizeof *bs);
    if (bs) tk_bpe_scratch_init(bs);
    t->raw_set.tok = calloc(t->n_added + 1, sizeof *t->raw_set.tok);
    t->norm_set.tok = calloc(t->n_added + 1, sizeof *t->norm_set.tok);
    if (!bs || !t->raw_set.tok || !t->norm_set.tok) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate added tokens", t->label);
        goto done;
    }
    for (size_t i = 0; i < t->n_added; i++) {
        tk_added *a = &t->added[i];
        size_t bad;
        bool ascii;
        raw.n = 0;
        if ((st = tk_utf8_decode((const uint8_t *)a->content, strlen(a->content), &raw, &bad, &ascii))) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: added token %d: content is not valid UTF-8", t->label,
                          (int)a->id);
            goto done;
        }
        const tk_buf *src = &raw;
        if (a->normalized) {
            if ((st = normalize(t, raw.p, raw.n, &norm, &tmp, bs))) goto done;
            src = &norm;
        }
        if (!src->n) continue;
        if (!(a->cp = malloc(src->n * sizeof *a->cp))) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate added tokens", t->label);
            goto done;
        }
        memcpy(a->cp, src->p, src->n * sizeof *a->cp);
        a->n = src->n;
        tk_added_set *set = a->normalized ? &t->norm_set : &t->raw_set;
        set->tok[set->n++] = a;
        uint32_t f = a->cp[0] & 255;
        set->first_bits[f >> 6] |= 1ULL << (f & 63);
    }
    qsort(t->raw_set.tok, t->raw_set.n, sizeof *t->raw_set.tok, cmp_added);
    qsort(t->norm_set.tok, t->norm_set.n, sizeof *t->norm_set.tok, cmp_added);
done:
    tk_buf_free(&raw);
    tk_buf_free(&norm);
    tk_buf_free(&tmp);
    if (bs) tk_bpe_scratch_free(bs);
    free(bs);
    return st;
}

/* Shared end of both loaders (the vocab is finalized): check the unk token,
 * size the id space, build the added-token sets. */
static tcf_status finish(tcf_tokenizer *t, const char *unk) {
    t->wp.unk_id = unk ? tk_vocab_find(&t->wp.vocab, unk, strlen(unk)) : -1;
    if (unk && t->wp.unk_id < 0)
        return tcf_fail(TCF_ERR_FORMAT, "%s: unk_token \"%s\" is not in the vocab", t->label, unk);
    t->vocab_size = t->wp.vocab.n_ids;
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].id >= t->vocab_size) t->vocab_size = t->added[i].id + 1;
    return build_added_sets(t);
}

tcf_status tk_tokenizer_new(const char *label, tcf_tokenizer **out) { return tok_new(label, out); }

tcf_status tk_tokenizer_add_added(tcf_tokenizer *t, const char *content, bool special, bool normalized) {
    return add_added(t, content, special, false, false, false, normalized);
}

tcf_status tk_tokenizer_finish(tcf_tokenizer *t, const char *unk) { return finish(t, unk); }

/* ---- tokenizer.json ------------------------------------------------------------- */

static tcf_status parse_normalizer(tcf_tokenizer *t, const cJSON *n) {
    if (jabsent(n)) return TCF_OK;
    const char *type = jtype(n), *L = t->label;
    if (!type) return tcf_fail(TCF_ERR_FORMAT, "%s: normalizer has no \"type\"", L);
    if (strcmp(type, "BertNormalizer"))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported (only BertNormalizer)", L, type);
    tk_norm_cfg *c = &t->norm;
    tcf_status st;
    c->enabled = true;
    if ((st = jbool(n, "clean_text", true, &c->clean_text, L, "normalizer")) ||
        (st = jbool(n, "handle_chinese_chars", true, &c->handle_cjk, L, "normalizer")) ||
        (st = jbool(n, "lowercase", true, &c->lowercase, L, "normalizer")) ||
        (st = jbool(n, "strip_accents", c->lowercase, &c->strip_accents, L, "normalizer")))
        return st;
    return TCF_OK;
}

static tcf_status parse_pretok(tcf_tokenizer *t, const cJSON *p) {
    if (jabsent(p)) {
        t->pretok = TK_PRETOK_NONE;
        return TCF_OK;
    }
    const char *type = jtype(p);
    if (!type) return tcf_fail(TCF_ERR_FORMAT, "%s: pre_tokenizer has no \"type\"", t->label);
    if (!strcmp(type, "BertPreTokenizer")) t->pretok = TK_PRETOK_BERT;
    else if (!strcmp(type, "WhitespaceSplit")) t->pretok = TK_PRETOK_WHITESPACE;
    else
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" is not supported", t->label, type);
    return TCF_OK;
}

static tcf_status parse_model(tcf_tokenizer *t, const cJSON *m, const char **unk) {
    const char *L = t->label, *type = jtype(m), *prefix = "##";
    if (!cJSON_IsObject(m)) return tcf_fail(TCF_ERR_FORMAT, "%s: no \"model\" object", L);
    if (!type) return tcf_fail(TCF_ERR_FORMAT, "%s: model has no \"type\"", L);
    if (strcmp(type, "WordPiece"))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (WordPiece and BPE are)", L, type);
    tcf_status st;
    int64_t mc;
    if ((st = jstr(m, "unk_token", "[UNK]", unk, L, "model")) ||
        (st = jstr(m, "continuing_subword_prefix", "##", &prefix, L, "model")) ||
        (st = jint(m, "max_input_chars_per_word", 100, 0, (int64_t)1 << 40, &mc, L, "model")) ||
        (st = set_prefix(t, prefix)))
        return st;
    t->wp.max_chars = (size_t)mc;
    const cJSON *vocab = jget(m, "vocab"), *e;
    if (!cJSON_IsObject(vocab)) return tcf_fail(TCF_ERR_FORMAT, "%s: model.vocab is not an object", L);
    cJSON_ArrayForEach(e, vocab) {
        int64_t id;
        if (!jint_value(e, 0, TK_MAX_ID - 1, &id))
            return tcf_fail(TCF_ERR_FORMAT, "%s: vocab entry \"%.64s\": id is not an integer in [0, %d)", L,
                            e->string, TK_MAX_ID);
        if ((st = tk_vocab_add(&t->wp.vocab, e->string, strlen(e->string), (int32_t)id)))
            return tcf_fail_prefix(st, "%s", L);
    }
    if (!t->wp.vocab.n_ent) return tcf_fail(TCF_ERR_FORMAT, "%s: model.vocab is empty", L);
    if ((st = tk_vocab_finalize(&t->wp.vocab))) return tcf_fail_prefix(st, "%s", L);
    return TCF_OK;
}

static tcf_status parse_added(tcf_tokenizer *t, const cJSON *arr) {
    const char *L = t->label;
    if (jabsent(arr)) return TCF_OK;
    if (!cJSON_IsArray(arr)) return tcf_fail(TCF_ERR_FORMAT, "%s: added_tokens is not an array", L);
    const cJSON *a;
    cJSON_ArrayForEach(a, arr) {
        int64_t id = -1;
        const char *content = NULL;
        bool special = false, sw = false, ls = false, rs = false, nz = true;
        tcf_status st;
        if (!cJSON_IsObject(a)) return tcf_fail(TCF_ERR_FORMAT, "%s: added_tokens: entry is not an object", L);
        if ((st = jint(a, "id", -1, 0, TK_MAX_ID - 1, &id, L, "added_tokens[]")) ||
            (st = jstr(a, "content", NULL, &content, L, "added_tokens[]")) ||
            (st = jbool(a, "special", false, &special, L, "added_tokens[]")) ||
            (st = jbool(a, "single_word", false, &sw, L, "added_tokens[]")) ||
            (st = jbool(a, "lstrip", false, &ls, L, "added_tokens[]")) ||
            (st = jbool(a, "rstrip", false, &rs, L, "added_tokens[]")) ||
            (st = jbool(a, "normalized", true, &nz, L, "added_tokens[]")))
            return st;
        if (id < 0 || !content)
            return tcf_fail(TCF_ERR_FORMAT, "%s: added_tokens: entry without \"id\" or \"content\"", L);
        if (t->n_added >= TK_MAX_ID / 2)
            return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: more than %d added tokens", L, TK_MAX_ID / 2);
        if ((st = add_added(t, content, special, sw, ls, rs, nz))) return st;
    }
    return TCF_OK;
}

static tcf_status push_special(tcf_tokenizer *t, bool after, int64_t id) {
    int *n = after ? &t->n_post : &t->n_pre;
    if (*n >= MAX_SPECIALS)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: post_processor adds more than %d tokens on one side",
                        t->label, MAX_SPECIALS);
    (after ? t->post_ids : t->pre_ids)[(*n)++] = (int32_t)id;
    return TCF_OK;
}

/* BertProcessing / RobertaProcessing: "cls": [token, id], "sep": [token, id]. */
static tcf_status parse_pair_special(tcf_tokenizer *t, const cJSON *pp, const char *key, bool after) {
    const cJSON *v = jget(pp, key);
    int64_t id;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(cJSON_GetArrayItem(v, 0)) ||
        !jint_value(cJSON_GetArrayItem(v, 1), 0, TK_MAX_ID - 1, &id))
        return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor.%s: expected [token, id]", t->label, key);
    return push_special(t, after, id);
}

static tcf_status parse_template(tcf_tokenizer *t, const cJSON *pp) {
    const char *L = t->label;
    const cJSON *single = jget(pp, "single"), *specials = jget(pp, "special_tokens"), *it;
    if (!cJSON_IsArray(single))
        return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor.single is not an array", L);
    bool seen = false;
    cJSON_ArrayForEach(it, single) {
        const cJSON *seq = jget(it, "Sequence"), *sp = jget(it, "SpecialToken");
        if (seq) {
            const cJSON *id = jget(seq, "id");
            if (!cJSON_IsString(id) || strcmp(id->valuestring, "A") || seen)
                return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: post_processor.single: only one sequence $A is supported", L);
            seen = true;
        } else if (sp) {
            const cJSON *name = jget(sp, "id");
            if (!cJSON_IsString(name))
                return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor.single: SpecialToken without id", L);
            const cJSON *def = jget(specials, name->valuestring), *ids = jget(def, "ids"), *x;
            if (!cJSON_IsArray(ids))
                return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor: special token \"%.64s\" is not in special_tokens",
                                L, name->valuestring);
            cJSON_ArrayForEach(x, ids) {
                int64_t id;
                tcf_status st;
                if (!jint_value(x, 0, TK_MAX_ID - 1, &id))
                    return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor: special token \"%.64s\": bad id", L,
                                    name->valuestring);
                if ((st = push_special(t, seen, id))) return st;
            }
        } else {
            return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor.single: unknown piece", L);
        }
    }
    if (!seen) return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor.single has no $A", L);
    return TCF_OK;
}

static tcf_status parse_post(tcf_tokenizer *t, const cJSON *pp, int depth) {
    if (jabsent(pp)) return TCF_OK;
    const char *type = jtype(pp), *L = t->label;
    if (!type) return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor has no \"type\"", L);
    tcf_status st;
    if (!strcmp(type, "TemplateProcessing")) return parse_template(t, pp);
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        if ((st = parse_pair_special(t, pp, "cls", false))) return st;
        return parse_pair_special(t, pp, "sep", true);
    }
    if (!strcmp(type, "ByteLevel")) return TCF_OK; /* changes offsets only */
    if (!strcmp(type, "Sequence") && depth == 0) {
        const cJSON *list = jget(pp, "processors"), *p;
        if (!cJSON_IsArray(list)) return tcf_fail(TCF_ERR_FORMAT, "%s: post_processor.processors is not an array", L);
        cJSON_ArrayForEach(p, list) {
            if ((st = parse_post(t, p, depth + 1))) return st;
        }
        return TCF_OK;
    }
    return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: post_processor type \"%s\" is not supported", L, type);
}

static tcf_status parse_truncation(tcf_tokenizer *t, const cJSON *tr, const cJSON *pad) {
    const char *L = t->label;
    tcf_status st;
    if (!jabsent(tr)) {
        int64_t ml = 0;
        const char *dir = "Right";
        if (!cJSON_IsObject(tr)) return tcf_fail(TCF_ERR_FORMAT, "%s: truncation is not an object", L);
        if ((st = jint(tr, "max_length", 0, 1, 1 << 30, &ml, L, "truncation")) ||
            (st = jstr(tr, "direction", "Right", &dir, L, "truncation")))
            return st;
        if (strcmp(dir, "Right") && strcmp(dir, "Left"))
            return tcf_fail(TCF_ERR_FORMAT, "%s: truncation.direction \"%.32s\" is neither Right nor Left", L, dir);
        t->max_len = (int)ml;
        t->trunc_left = !strcmp(dir, "Left");
    }
    t->pad_id = -1;
    if (!jabsent(pad)) {
        int64_t id;
        if ((st = jint(pad, "pad_id", -1, 0, TK_MAX_ID - 1, &id, L, "padding"))) return st;
        t->pad_id = (int32_t)id;
    }
    return TCF_OK;
}

static tcf_status load_json_root(tcf_tokenizer *t, const cJSON *root) {
    const char *unk = NULL;
    tcf_status st;
    if (!cJSON_IsObject(root)) return tcf_fail(TCF_ERR_FORMAT, "%s: not a JSON object", t->label);
    const char *mtype = jtype(jget(root, "model"));
    if (mtype && !strcmp(mtype, "BPE")) {
        if ((st = tk_bpe_new(t->label, &t->bpe)) ||
            (st = tk_bpe_from_json(t->bpe, &t->wp.vocab, root, t->label, &unk)) ||
            (st = parse_added(t, jget(root, "added_tokens"))) ||
            (st = parse_post(t, jget(root, "post_processor"), 0)) ||
            (st = parse_truncation(t, jget(root, "truncation"), jget(root, "padding"))))
            return st;
        return finish(t, NULL);
    }
    if ((st = parse_normalizer(t, jget(root, "normalizer"))) ||
        (st = parse_pretok(t, jget(root, "pre_tokenizer"))) ||
        (st = parse_model(t, jget(root, "model"), &unk)) ||
        (st = parse_added(t, jget(root, "added_tokens"))) ||
        (st = parse_post(t, jget(root, "post_processor"), 0)) ||
        (st = parse_truncation(t, jget(root, "truncation"), jget(root, "padding"))))
        return st;
    return finish(t, unk);
}

/* Fall back to the "[PAD]" token, then 0, when padding does not name a pad id. */
static void default_pad(tcf_tokenizer *t, const char *pad_token) {
    if (t->pad_id >= 0) return;
    int32_t id = pad_token ? tcf_tokenizer_token_id(t, pad_token) : -1;
    if (id < 0) id = tcf_tokenizer_token_id(t, "[PAD]");
    t->pad_id = id >= 0 ? id : 0;
}

tcf_status tcf_tokenizer_load_json(const char *json, size_t len, const char *label,
                                   tcf_tokenizer **out) {
    if (!out || (!json && len)) return tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_load_json: NULL argument");
    *out = NULL;
    tcf_tokenizer *t = NULL;
    cJSON *root = NULL;
    tcf_status st = tok_new(label, &t);
    if (st) return st;
    if ((st = parse_json(json ? json : "", len, t->label, &root))) {
        tcf_tokenizer_free(t);
        return st;
    }
    st = load_json_root(t, root);
    cJSON_Delete(root);
    if (st) {
        tcf_tokenizer_free(t);
        return st;
    }
    default_pad(t, NULL);
    *out = t;
    return TCF_OK;
}

/* ---- vocab.txt + tokenizer_config.json ------------------------------------------ */

typedef struct {
    bool lower, cjk, strip, strip_set;
    const char *unk, *cls, *sep, *pad, *mask;
    int64_t max_len;
    const cJSON *extra; /* additional_special_tokens */
} bert_config;

/* A special token in tokenizer_config.json: "[X]" or {"content": "[X]", ...}. */
static tcf_status cfg_token(const cJSON *cfg, const char *key, const char *def, const char **out,
                            const char *label) {
    const cJSON *v = jget(cfg, key);
    if (jabsent(v)) { *out = def; return TCF_OK; }
    if (cJSON_IsObject(v)) v = jget(v, "content");
    if (!cJSON_IsString(v)) return tcf_fail(TCF_ERR_FORMAT, "%s: %s: expected a string", label, key);
    *out = v->valuestring;
    return TCF_OK;
}

static tcf_status read_bert_config(const cJSON *cfg, const char *label, bert_config *c) {
    tcf_status st;
    const cJSON *sa = jget(cfg, "strip_accents"), *ml = jget(cfg, "model_max_length");
    c->strip_set = !jabsent(sa);
    if ((st = jbool(cfg, "do_lower_case", true, &c->lower, label, "config")) ||
        (st = jbool(cfg, "tokenize_chinese_chars", true, &c->cjk, label, "config")) ||
        (st = jbool(cfg, "strip_accents", false, &c->strip, label, "config")) ||
        (st = cfg_token(cfg, "unk_token", "[UNK]", &c->unk, label)) ||
        (st = cfg_token(cfg, "cls_token", "[CLS]", &c->cls, label)) ||
        (st = cfg_token(cfg, "sep_token", "[SEP]", &c->sep, label)) ||
        (st = cfg_token(cfg, "pad_token", "[PAD]", &c->pad, label)) ||
        (st = cfg_token(cfg, "mask_token", "[MASK]", &c->mask, label)))
        return st;
    /* transformers writes 1e30 for "no limit": only a sane value becomes truncation */
    if (!jint_value(ml, 1, 1000000, &c->max_len)) c->max_len = 0;
    c->extra = jget(cfg, "additional_special_tokens");
    return TCF_OK;
}

static tcf_status load_vocab_txt(const char *path, const char *cfg_path, tcf_tokenizer **out) {
    char *text = NULL, *ctext = NULL;
    size_t len, clen;
    cJSON *cfg = NULL;
    tcf_tokenizer *t = NULL;
    bert_config c;
    tcf_status st = tcf_read_file(path, &text, &len);
    if (st) return st;
    if ((st = tok_new(path, &t))) goto done;
    if (cfg_path) {
        if ((st = tcf_read_file(cfg_path, &ctext, &clen)) || (st = parse_json(ctext, clen, cfg_path, &cfg)))
            goto done;
    }
    if ((st = read_bert_config(cfg, cfg_path ? cfg_path : path, &c))) goto done;
    size_t bad = tk_utf8_check((const uint8_t *)text, len);
    if (bad != (size_t)-1) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not valid UTF-8 at byte %zu", path, bad);
        goto done;
    }
    /* one token per line; "\n" or "\r\n" ends a line; no line after a final "\n" */
    int32_t id = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, n = e - i;
        if (n && text[i + n - 1] == '\r') n--;
        if (id >= TK_MAX_ID) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: more than %d tokens", path, TK_MAX_ID);
            goto done;
        }
        if ((st = tk_vocab_add(&t->wp.vocab, text + i, n, id++))) {
            st = tcf_fail_prefix(st, "%s", path);
            goto done;
        }
        i = e + 1;
    }
    if (!id) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: empty vocab", path);
        goto done;
    }
    t->norm = (tk_norm_cfg){true, true, c.cjk, c.strip_set ? c.strip : c.lower, c.lower};
    t->pretok = TK_PRETOK_BERT;
    t->wp.max_chars = 100;
    t->max_len = (int)c.max_len;
    if ((st = set_prefix(t, "##"))) goto done;
    /* hashed before add_added looks ids up */
    if ((st = tk_vocab_finalize(&t->wp.vocab))) goto done;
    const char *specials[] = {c.pad, c.unk, c.cls, c.sep, c.mask};
    for (size_t k = 0; k < 5; k++) {
        if (tk_vocab_find(&t->wp.vocab, specials[k], strlen(specials[k])) < 0) continue;
        if ((st = add_added(t, specials[k], true, false, false, false, false))) goto done;
    }
    const cJSON *x, *extra = cJSON_IsArray(c.extra) ? c.extra : NULL;
    cJSON_ArrayForEach(x, extra) {
        const cJSON *s = cJSON_IsObject(x) ? jget(x, "content") : x;
        if (cJSON_IsString(s) && tk_vocab_find(&t->wp.vocab, s->valuestring, strlen(s->valuestring)) >= 0 &&
            (st = add_added(t, s->valuestring, true, false, false, false, false)))
            goto done;
    }
    int32_t cls = tk_vocab_find(&t->wp.vocab, c.cls, strlen(c.cls));
    int32_t sep = tk_vocab_find(&t->wp.vocab, c.sep, strlen(c.sep));
    if (cls < 0 || sep < 0) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: the vocab lacks \"%s\" or \"%s\"", path, c.cls, c.sep);
        goto done;
    }
    t->pre_ids[t->n_pre++] = cls;
    t->post_ids[t->n_post++] = sep;
    if ((st = finish(t, c.unk))) goto done;
    t->pad_id = -1;
    default_pad(t, c.pad);
done:
    free(text);
    free(ctext);
    cJSON_Delete(cfg);
    if (st) {
        tcf_tokenizer_free(t);
        t = NULL;
    }
    *out = t;
    return st;
}

/* ---- tcf_tokenizer_load ----------------------------------------------------------- */

static bool is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The pad token named by <dir>/tokenizer_config.json, if any (for padding: null). */
static tcf_status config_pad(tcf_tokenizer *t, const char *cfg_path) {
    char *text;
    size_t len;
    cJSON *cfg;
    const char *pad = NULL;
    tcf_status st;
    if ((st = tcf_read_file(cfg_path, &text, &len))) return st;
    st = parse_json(text, len, cfg_path, &cfg);
    free(text);
    if (st) return st;
    st = cfg_token(cfg, "pad_token", NULL, &pad, cfg_path);
    if (!st && pad) {
        int32_t id = tcf_tokenizer_token_id(t, pad);
        if (id >= 0) t->pad_id = id;
    }
    cJSON_Delete(cfg);
    return st;
}

static tcf_status load_json_file(const char *path, const char *cfg_path, tcf_tokenizer **out) {
    char *text;
    size_t len;
    tcf_status st = tcf_read_file(path, &text, &len);
    if (st) return st;
    tcf_tokenizer *t = NULL;
    const char *L = path;
    st = tok_new(L, &t);
    cJSON *root = NULL;
    if (!st) st = parse_json(text, len, L, &root);
    free(text);
    if (!st) st = load_json_root(t, root);
    cJSON_Delete(root);
    if (!st && t->pad_id < 0 && cfg_path) st = config_pad(t, cfg_path);
    if (st) {
        tcf_tokenizer_free(t);
        return st;
    }
    default_pad(t, NULL);
    *out = t;
    return TCF_OK;
}

tcf_status tcf_tokenizer_load(const char *path, tcf_tokenizer **out) {
    if (!path || !out) return tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_load: NULL argument");
    *out = NULL;
    char p[4096], cfg[4096];
    tcf_status st;
    if (is_dir(path)) {
        if ((st = tcf_path_join(cfg, sizeof cfg, path, "tokenizer_config.json"))) return st;
        const char *c = tcf_file_exists(cfg) ? cfg : NULL;
        if ((st = tcf_path_join(p, sizeof p, path, "tokenizer.json"))) return st;
        if (tcf_file_exists(p)) return load_json_file(p, c, out);
        if ((st = tcf_path_join(p, sizeof p, path, "vocab.txt"))) return st;
        if (tcf_file_exists(p)) return load_vocab_txt(p, c, out);
        return tcf_fail(TCF_ERR_IO, "%s: directory has no tokenizer.json or vocab.txt", path);
    }
    if (ends_with(path, ".txt")) {
        /* tokenizer_config.json beside the vocab, if there is one */
        const char *slash = strrchr(path, '/');
        int dl = slash ? (int)(slash - path) : 1;
        int n = snprintf(cfg, sizeof cfg, "%.*s/tokenizer_config.json", dl, slash ? path : ".");
        bool has = n > 0 && (size_t)n < sizeof cfg && tcf_file_exists(cfg);
        return load_vocab_txt(path, has ? cfg : NULL, out);
    }
    if (ends_with(path, ".gguf")) {
        tcf_gguf *g;
        if ((st = tcf_gguf_open(path, &g))) return st;
        st = tcf_tokenizer_load_gguf(g, path, out);
        tcf_gguf_free(g);
        return st;
    }
    return load_json_file(path, NULL, out);
}

/* ---- encode ---------------------------------------------------------------------- */

enum { ST_RAW = 512, ST_NORM = 1024, ST_IDS = 256, ST_WORD = 128 };

typedef struct {
    tk_buf raw, norm, tmp, ids; /* uint32, uint32, uint32, int32 */
    tk_wp_scratch wp;
    tk_bpe_scratch bpe;
    uint32_t raw_st[ST_RAW], norm_st[ST_NORM], tmp_st[ST_NORM];
    int32_t ids_st[ST_IDS];
    uint8_t bytes_st[ST_WORD * 4];
    uint32_t bounds_st[ST_WORD + 1];
    uint64_t hashes_st[ST_WORD + 1];
} scratch;

static void scratch_init(scratch *s) {
    tk_buf_init(&s->raw, s->raw_st, ST_RAW, 4);
    tk_buf_init(&s->norm, s->norm_st, ST_NORM, 4);
    tk_buf_init(&s->tmp, s->tmp_st, ST_NORM, 4);
    tk_buf_init(&s->ids, s->ids_st, ST_IDS, 4);
    tk_buf_init(&s->wp.bytes, s->bytes_st, ST_WORD * 4, 1);
    tk_buf_init(&s->wp.bounds, s->bounds_st, ST_WORD + 1, 4);
    tk_buf_init(&s->wp.hashes, s->hashes_st, ST_WORD + 1, 8);
    tk_bpe_scratch_init(&s->bpe);
}

static void scratch_free(scratch *s) {
    tk_buf_free(&s->raw);
    tk_buf_free(&s->norm);
    tk_buf_free(&s->tmp);
    tk_buf_free(&s->ids);
    tk_buf_free(&s->wp.bytes);
    tk_buf_free(&s->wp.bounds);
    tk_buf_free(&s->wp.hashes);
    tk_bpe_scratch_free(&s->bpe);
}

/* One pass over a text: ids into s->ids, or words to fn (tests). */
typedef struct {
    const tcf_tokenizer *tok;
    scratch *s;
    size_t limit; /* stop once this many content ids exist (Right truncation) */
    tk_word_fn fn;
    void *ctx;
} walk;

static bool walk_done(const walk *w) { return !w->fn && w->s->ids.n >= w->limit; }

static tcf_status emit_added(walk *w, int32_t id) {
    if (w->fn) {
        w->fn(w->ctx, NULL, 0, id);
        return TCF_OK;
    }
    tcf_status st = tk_buf_reserve(&w->s->ids, w->s->ids.n + 1);
    if (st) return st;
    ((int32_t *)w->s->ids.p)[w->s->ids.n++] = id;
    return TCF_OK;
}

static tcf_status emit_word(walk *w, const uint32_t *word, size_t n) {
    if (w->fn) {
        w->fn(w->ctx, word, n, -1);
        return TCF_OK;
    }
    return tk_wordpiece_word(&w->tok->wp, word, n, &w->s->wp, &w->s->ids);
}

/* Pre-tokenise normalised text t[0..n) (bert.rs: split on whitespace, isolate
 * punctuation) and emit each word. */
static tcf_status words(walk *w, const uint32_t *t, size_t n, bool start) {
    tcf_status st;
    if (w->tok->bpe)
        return tk_bpe_words(w->tok->bpe, &w->tok->wp.vocab, t, n, start, &w->s->bpe, &w->s->ids, w->fn, w->ctx);
    tk_pretok mode = w->tok->pretok;
    if (mode == TK_PRETOK_NONE) return n ? emit_word(w, t, n) : TCF_OK;
    bool punct = mode == TK_PRETOK_BERT;
    for (size_t i = 0; i < n && !walk_done(w);) {
        if (tk_is_whitespace(t[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (!(punct && tk_is_punct(t[i])))
            while (j < n && !tk_is_whitespace(t[j]) && !(punct && tk_is_punct(t[j]))) j++;
        if ((st = emit_word(w, t + i, j - i))) return st;
        i = j;
    }
    return TCF_OK;
}

/* Leftmost-longest match of `set` in t[from..n). */
static const tk_added *next_match(const tk_added_set *set, const uint32_t *t, size_t n, size_t from,
                                  size_t *at) {
    for (size_t i = from; i < n; i++) {
        uint32_t c = t[i], f = c & 255;
        if (!(set->first_bits[f >> 6] >> (f & 63) & 1)) continue;
        size_t lo = 0, hi = set->n;
        while (lo < hi) { /* first token whose first codepoint is >= c */
            size_t mid = (lo + hi) / 2;
            if (set->tok[mid]->cp[0] < c) lo = mid + 1;
            else hi = mid;
        }
        for (; lo < set->n && set->tok[lo]->cp[0] == c; lo++) {
            const tk_added *a = set->tok[lo];
            if (a->n <= n - i && !memcmp(a->cp, t + i, a->n * sizeof *t)) {
                *at = i;
                return a;
            }
        }
    }
    return NULL;
}

static tcf_status gap(walk *w, const uint32_t *t, size_t n, bool raw, bool start);

/* Split t[0..n) on the added tokens of `set` (AddedVocabulary::find_matches in
 * tokenizers/src/tokenizer/added_vocabulary.rs) and pass the rest on. */
static tcf_status split_added(walk *w, const tk_added_set *set, const uint32_t *t, size_t n, bool raw,
                              bool first) {
    tcf_status st;
    size_t off = 0, pos = 0, ms;
    bool at0 = first; /* t starts at offset 0 of the input */
    const tk_added *a;
    while (!walk_done(w) && (a = next_match(set, t, n, pos, &ms))) {
        size_t me = ms + a->n, start = ms, stop = me;
        pos = me; /* matching resumes after the raw match, even a rejected one */
        if (a->single_word && ((ms > 0 && tk_is_word_char(t[ms - 1])) || (me < n && tk_is_word_char(t[me]))))
            continue;
        if (a->lstrip)
            while (start > off && tk_is_whitespace(t[start - 1])) start--;
        if (a->rstrip)
            while (stop < n && tk_is_whitespace(t[stop])) stop++;
        if (start < off) start = off;
        if (off < start && (st = gap(w, t + off, start - off, raw, at0 && off == 0))) return st;
        if ((st = emit_added(w, a->id))) return st;
        off = stop;
    }
    if (off < n && !walk_done(w)) return gap(w, t + off, n - off, raw, at0 && off == 0);
    return TCF_OK;
}

/* Text between added tokens: raw input (normalise it first) or normalised. */
static tcf_status gap(walk *w, const uint32_t *t, size_t n, bool raw, bool start) {
    if (!raw) return words(w, t, n, start);
    scratch *s = w->s;
    tcf_status st = normalize(w->tok, t, n, &s->norm, &s->tmp, &s->bpe);
    if (st) return st;
    if (w->tok->norm_set.n) return split_added(w, &w->tok->norm_set, s->norm.p, s->norm.n, false, start);
    return words(w, s->norm.p, s->norm.n, start);
}

static tcf_status walk_text(walk *w, const char *text, size_t len) {
    size_t bad = 0;
    bool ascii;
    tcf_status st = tk_utf8_decode((const uint8_t *)text, len, &w->s->raw, &bad, &ascii);
    if (st == TCF_ERR_UTF8) {
        unsigned b = (unsigned char)text[bad];
        return tcf_fail(TCF_ERR_UTF8, "invalid UTF-8 at byte offset %zu (byte 0x%02x)", bad, b);
    }
    if (st) return st;
    const uint32_t *t = w->s->raw.p;
    size_t n = w->s->raw.n;
    if (w->tok->raw_set.n) return split_added(w, &w->tok->raw_set, t, n, true, true);
    return gap(w, t, n, true, true);
}

tcf_status tcf_tokenizer_encode(const tcf_tokenizer *tok, const char *text, size_t len,
                                const tcf_encode_opts *opts, int32_t *ids, int cap, int *n_ids) {
    if (n_ids) *n_ids = 0;
    if (!tok || !n_ids || (!text && len) || cap < 0 || (!ids && cap > 0))
        return tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_encode: NULL or negative argument");
    int add = opts ? opts->add_special : 1;
    int max_len = opts && opts->max_len ? opts->max_len : tok->max_len;
    if (max_len < 0) return tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_encode: max_len %d is negative", max_len);
    size_t n_spec = add ? (size_t)(tok->n_pre + tok->n_post) : 0, limit = SIZE_MAX;
    if (max_len) {
        if ((size_t)max_len < n_spec)
            return tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_encode: max_len %d leaves no room for the %zu special tokens",
                            max_len, n_spec);
        limit = (size_t)max_len - n_spec;
    }
    scratch s;
    scratch_init(&s);
    walk w = {tok, &s, tok->trunc_left ? SIZE_MAX : limit, NULL, NULL};
    tcf_status st = walk_text(&w, text ? text : "", len);
    if (!st) {
        size_t n = s.ids.n, keep = n < limit ? n : limit, first = tok->trunc_left ? n - keep : 0;
        size_t total = keep + n_spec;
        *n_ids = total > INT32_MAX ? INT32_MAX : (int)total;
        if (total > (size_t)cap) {
            st = tcf_fail(TCF_ERR_ARG, "tcf_tokenizer_encode: the text needs %zu ids, more than cap %d", total, cap);
        } else {
            int k = 0;
            for (int i = 0; add && i < tok->n_pre; i++) ids[k++] = tok->pre_ids[i];
            if (keep) memcpy(ids + k, (int32_t *)s.ids.p + first, keep * sizeof *ids);
            k += (int)keep;
            for (int i = 0; add && i < tok->n_post; i++) ids[k++] = tok->post_ids[i];
        }
    }
    scratch_free(&s);
    return st;
}

tcf_status tk_tokenizer_words(const tcf_tokenizer *tok, const char *text, size_t len, tk_word_fn fn,
                              void *ctx) {
    scratch s;
    scratch_init(&s);
    walk w = {tok, &s, SIZE_MAX, fn, ctx};
    tcf_status st = walk_text(&w, text, len);
    scratch_free(&s);
    return st;
}

/* ---- accessors --------------------------------------------------------------------- */

int tcf_tokenizer_vocab_size(const tcf_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

int32_t tcf_tokenizer_token_id(const tcf_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    for (size_t i = 0; i < tok->n_added; i++) /* added tokens first, as the reference */
        if (!strcmp(tok->added[i].content, token)) return tok->added[i].id;
    return tk_vocab_find(&tok->wp.vocab, token, strlen(token));
}

const char *tcf_tokenizer_token(const tcf_tokenizer *tok, int32_t id) {
    if (!tok) return NULL;
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id == id) return tok->added[i].content;
    return tk_vocab_token(&tok->wp.vocab, id);
}

int32_t tcf_tokenizer_pad_id(const tcf_tokenizer *tok) { return tok ? tok->pad_id : 0; }

int tcf_tokenizer_max_len(const tcf_tokenizer *tok) { return tok ? tok->max_len : 0; }
