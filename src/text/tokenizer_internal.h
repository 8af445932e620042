/*
 * tokenizer_internal.h — what the files of src/text share: the tokenizer
 * object, growable scratch buffers, UTF-8 decoding, the BERT normaliser and
 * pre-tokeniser (bert_norm.c) and the WordPiece vocabulary (wordpiece.c).
 * Not part of the public API (see include/tcf.h, section "tokenizer").
 */
#ifndef TCF_TOKENIZER_INTERNAL_H
#define TCF_TOKENIZER_INTERNAL_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable buffer --------------------------------------------------------
 * Starts on caller-provided (usually stack) storage and moves to the heap only
 * when it outgrows it, so the common encode path does not allocate. */
typedef struct {
    void *p;
    size_t n, cap; /* elements */
    size_t esz;    /* bytes per element */
    bool heap;
} tk_buf;

static inline void tk_buf_init(tk_buf *b, void *stack, size_t cap, size_t esz) {
    b->p = stack;
    b->n = 0;
    b->cap = cap;
    b->esz = esz;
    b->heap = false;
}
/* Make room for `need` elements in total. TCF_ERR_NOMEM (message set) on failure. */
tcf_status tk_buf_reserve(tk_buf *b, size_t need);
void tk_buf_free(tk_buf *b);

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Decode strict UTF-8 (RFC 3629: no overlongs, surrogates or values above
 * U+10FFFF) into codepoints appended to `out` (uint32_t elements). On invalid
 * input returns TCF_ERR_UTF8 with *bad_off = offset of the first byte of the
 * offending sequence and no message set. *all_ascii tells whether every byte
 * was < 0x80. */
tcf_status tk_utf8_decode(const uint8_t *s, size_t len, tk_buf *out, size_t *bad_off,
                          bool *all_ascii);
/* Offset of the first invalid byte sequence, or (size_t)-1 if `s` is valid. */
size_t tk_utf8_check(const uint8_t *s, size_t len);
/* Encode one codepoint (< 0x110000, not a surrogate); returns bytes written (1..4). */
static inline int tk_utf8_put(uint8_t *d, uint32_t c) {
    if (c < 0x80) { d[0] = (uint8_t)c; return 1; }
    if (c < 0x800) { d[0] = (uint8_t)(0xC0 | (c >> 6)); d[1] = (uint8_t)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (c >> 12));
        d[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (c >> 18));
    d[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* ---- BERT normaliser and pre-tokeniser (bert_norm.c) ------------------------ */

typedef struct {
    bool enabled;       /* false: no normaliser at all */
    bool clean_text;    /* drop NUL, U+FFFD and control chars; whitespace -> ' ' */
    bool handle_cjk;    /* put spaces around CJK ideographs */
    bool strip_accents; /* NFD, then drop nonspacing marks */
    bool lowercase;     /* Rust char::to_lowercase, char by char */
} tk_norm_cfg;

typedef enum {
    TK_PRETOK_NONE = 0,   /* the whole normalised segment is one word */
    TK_PRETOK_BERT,       /* split on whitespace, isolate punctuation */
    TK_PRETOK_WHITESPACE, /* WhitespaceSplit: split on whitespace only */
} tk_pretok;

/* Character classes as the reference computes them (see bert_norm.c). */
bool tk_is_whitespace(uint32_t c);
bool tk_is_control(uint32_t c);
bool tk_is_punct(uint32_t c);
bool tk_is_cjk(uint32_t c);
/* Approximation of the regex class \w (Unicode), used by single_word added tokens. */
bool tk_is_word_char(uint32_t c);
/* The reference's canonical combining class and canonical decomposition (up
 * to 4 codepoints) of c: utf8proc corrected by bert_unicode_tables.h. */
int tk_ref_ccc(uint32_t c);
int tk_ref_nfd(uint32_t c, uint32_t d[4]);
/* Unicode version the exception tables of bert_norm.c were generated against. */
const char *tk_tables_unicode_version(void);

/* Normalise codepoints in[0..n) into `out` (uint32_t elements, reset first).
 * `tmp` is a second uint32_t buffer used as workspace. */
tcf_status tk_normalize(const tk_norm_cfg *cfg, const uint32_t *in, size_t n, tk_buf *out,
                        tk_buf *tmp);

/* ---- WordPiece vocabulary (wordpiece.c) ------------------------------------
 * Token strings live in one pool; an open-addressing hash table (FNV-1a 64 of
 * the bytes) maps string -> id. FNV-1a is sequential, so WordPiece can hash all
 * prefixes of a word in one pass (see tk_wordpiece_word). */
#define TK_FNV_BASIS 0xcbf29ce484222325ULL
#define TK_FNV_PRIME 0x100000001b3ULL
#define TK_MAX_ID (1 << 24) /* ids at or above this are refused at load */

typedef struct {
    uint32_t off, len; /* bytes in pool */
    int32_t id;
    uint32_t hash32;   /* low half of the FNV hash, checked before memcmp */
} tk_vent;

typedef struct {
    char *pool;
    size_t pool_n, pool_cap;
    tk_vent *ent;
    size_t n_ent, ent_cap;
    uint32_t *slots;   /* (mask+1) entry index + 1; 0 = empty */
    uint32_t mask;
    int32_t *id_ent;   /* (n_ids) entry index of each id, -1 for holes */
    int32_t n_ids;     /* max id + 1 */
    size_t max_tok_len; /* longest token, bytes */
    size_t n_unique;    /* distinct strings (the reference's vocab size) */
} tk_vocab;

/* Append a token (later duplicates of a string win, as in a hash map). */
tcf_status tk_vocab_add(tk_vocab *v, const char *s, size_t len, int32_t id);
/* Build the hash table and the id map after the last add. */
tcf_status tk_vocab_finalize(tk_vocab *v);
void tk_vocab_free(tk_vocab *v);
int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len);
const char *tk_vocab_token(const tk_vocab *v, int32_t id);

typedef struct {
    tk_vocab vocab;
    int32_t unk_id;
    char *prefix; /* continuing_subword_prefix, NUL-terminated */
    size_t prefix_len;
    uint64_t prefix_hash; /* FNV-1a state after the prefix bytes */
    size_t max_chars;     /* max_input_chars_per_word */
} tk_wordpiece;

/* Per-call workspace of tk_wordpiece. */
typedef struct {
    tk_buf bytes;  /* uint8_t: the word in UTF-8 */
    tk_buf bounds; /* uint32_t: byte offset of each char, plus the end */
    tk_buf hashes; /* uint64_t: FNV state after each char from the current start */
} tk_wp_scratch;

/* WordPiece (greedy longest-match-first) of one word of n codepoints; ids are
 * appended to `out` (int32_t elements). */
tcf_status tk_wordpiece_word(const tk_wordpiece *wp, const uint32_t *word, size_t n,
                             tk_wp_scratch *s, tk_buf *out);

/* ---- BPE (bpe.c) ------------------------------------------------------------
 * Normalizers, pre-tokenizers and the BPE model of byte-level and
 * SentencePiece-style tokenizers; the vocab is the tokenizer's tk_vocab. */
typedef struct tk_bpe tk_bpe;

/* Per-call workspace of the BPE path (stack storage first, heap when outgrown). */
typedef struct {
    tk_buf bytes;      /* uint8: the text in UTF-8; normalisation scratch */
    tk_buf a_b, b_b;   /* uint8: piece arenas of two successive pre-tokenizer steps */
    tk_buf a_sp, b_sp; /* 12-byte spans of those pieces */
    tk_buf segs;       /* 12-byte match segments of one piece */
    tk_buf syms, heap; /* the symbols and merge queue of one word */
    tk_buf map, pre;   /* uint8: byte-level mapped piece; prefixed piece / lookup key */
    tk_buf cps;        /* uint32: lowercase workspace; words for tk_word_fn */
    void *md;          /* pcre2_match_data, created on first use */
    uint8_t bytes_st[1024], a_b_st[1024], b_b_st[1024], map_st[512], pre_st[512];
    uint32_t a_sp_st[3 * 96], b_sp_st[3 * 96], segs_st[3 * 96], syms_st[4 * 96], heap_st[3 * 192];
} tk_bpe_scratch;

extern const char *const tk_gpt2_regex;
tcf_status tk_bpe_new(const char *label, tk_bpe **out);
void tk_bpe_free(tk_bpe *b);
/* tokenizer.json: normalizer, pre_tokenizer and model (type BPE) into b and v
 * (finalized). *unk is model.unk_token or NULL. root is a cJSON object. */
struct cJSON;
tcf_status tk_bpe_from_json(tk_bpe *b, tk_vocab *v, const struct cJSON *root, const char *label, const char **unk);
/* Pieces for building a tokenizer by hand (GGUF metadata, tok_gguf.c). */
tcf_status tk_bpe_add_norm_prepend(tk_bpe *b, const char *s, const char *label);
tcf_status tk_bpe_add_norm_replace(tk_bpe *b, const char *from, const char *to, const char *label);
/* Split with a regex, behavior Isolated */
tcf_status tk_bpe_add_pretok_regex(tk_bpe *b, const char *regex, const char *label);
tcf_status tk_bpe_add_pretok_bytelevel(tk_bpe *b, bool use_regex, bool prefix_space, const char *label);
tcf_status tk_bpe_add_pretok_digits(tk_bpe *b, bool individual, const char *label);
/* Metaspace "▁": scheme 0 always, 1 first, 2 never. */
tcf_status tk_bpe_add_pretok_metaspace(tk_bpe *b, int scheme, bool split, const char *label);
tcf_status tk_bpe_model_finish(tk_bpe *b, const tk_vocab *v, const char *prefix, const char *suffix,
                               const char *label);
void tk_bpe_set_model(tk_bpe *b, int32_t unk_id, bool byte_fallback, bool fuse_unk, bool ignore_merges);
tcf_status tk_bpe_merges_reserve(tk_bpe *b, size_t n, const char *label);
tcf_status tk_bpe_add_merge(tk_bpe *b, const tk_vocab *v, const char *a, size_t na, const char *c, size_t nc,
                            uint32_t rank, const char *label, const char *where);
/* SentencePiece (GGUF "llama"): no merge list; a pair merges when the vocab
 * spells it (order: see lookup_merge in bpe.c). */
void tk_bpe_set_spm(tk_bpe *b);
/* Byte-level alphabet: is s already spelled in it; spell raw bytes s in it
 * (dst holds 2n bytes; returns the length). */
bool tk_bytelevel_spelled(const char *s, size_t n);
size_t tk_bytelevel_spell(const char *s, size_t n, char *dst);
bool tk_bpe_has_norm(const tk_bpe *b);
void tk_bpe_scratch_init(tk_bpe_scratch *s);
void tk_bpe_scratch_free(tk_bpe_scratch *s);
/* Normalise codepoints in[0..n) into out (tmp: workspace). */
tcf_status tk_bpe_normalize(const tk_bpe *b, const uint32_t *in, size_t n, tk_buf *out, tk_buf *tmp,
                            tk_bpe_scratch *s);
/* Pre-tokenise normalised text t[0..n) and append the BPE ids of each piece to
 * ids (int32), or with fn pass each final piece to fn instead. at_start: t is
 * at offset 0 of the input (Metaspace prepend_scheme "first"). */
typedef void (*tk_word_fn)(void *ctx, const uint32_t *word, size_t n, int32_t added_id);
tcf_status tk_bpe_words(const tk_bpe *b, const tk_vocab *v, const uint32_t *t, size_t n, bool at_start,
                        tk_bpe_scratch *s, tk_buf *ids, tk_word_fn fn, void *ctx);
/* Compile a tokenizer.json / GGUF regex (PCRE2, UTF + UCP); errors name label and where. */
struct pcre2_real_code_8;
tcf_status tk_regex_compile(const char *pat, size_t n, const char *label, const char *where,
                            struct pcre2_real_code_8 **out);

/* ---- the tokenizer object (tokenizer.c) ----------------------------------- */

typedef struct {
    uint32_t *cp; /* content as codepoints (normalised when `normalized`) */
    size_t n;
    int32_t id;
    char *content; /* original UTF-8 content, NUL-terminated */
    bool special, single_word, lstrip, rstrip, normalized;
} tk_added;

/* A set of added tokens matched leftmost-longest, sorted by (first cp, length
 * descending); `first_bits` is a 256-bit filter on first cp & 255. */
typedef struct {
    tk_added **tok;
    size_t n;
    uint64_t first_bits[4];
} tk_added_set;

struct tcf_tokenizer {
    char *label;
    tk_norm_cfg norm;
    tk_pretok pretok;
    tk_wordpiece wp;
    tk_added *added; /* (n_added) in file order */
    size_t n_added;
    tk_added_set raw_set;  /* normalized == false: matched on the input text */
    tk_added_set norm_set; /* normalized == true: matched on normalised text */
    int32_t pre_ids[8], post_ids[8]; /* post-processor specials around $A */
    int n_pre, n_post;
    int max_len;     /* truncation max_length, 0 = none */
    bool trunc_left; /* truncation direction Left: keep the last tokens */
    int32_t pad_id;
    int32_t vocab_size; /* max id + 1 over the model and added tokens */
    tk_bpe *bpe;        /* non-NULL: a BPE model (bpe.c) instead of WordPiece; vocab in wp.vocab */
};

/* Call fn(ctx, word, n_word, is_added, added_id) for each pre-tokenised word
 * and each added token of `text` (the stage just before WordPiece), in order.
 * Used by the tests to compare normalisation + pre-tokenisation with the
 * reference word by word. */
tcf_status tk_tokenizer_words(const tcf_tokenizer *tok, const char *text, size_t len,
                              tk_word_fn fn, void *ctx);

/* For loaders outside tokenizer.c (tok_gguf.c): a new empty tokenizer, an
 * added token (id as the reference assigns it), and the shared end of loading
 * (unk may be NULL: no unk check). */
tcf_status tk_tokenizer_new(const char *label, tcf_tokenizer **out);
tcf_status tk_tokenizer_add_added(tcf_tokenizer *t, const char *content, bool special, bool normalized);
tcf_status tk_tokenizer_finish(tcf_tokenizer *t, const char *unk);

#endif /* TCF_TOKENIZER_INTERNAL_H */
