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
};

/* Call fn(ctx, word, n_word, is_added, added_id) for each pre-tokenised word
 * and each added token of `text` (the stage just before WordPiece), in order.
 * Used by the tests to compare normalisation + pre-tokenisation with the
 * reference word by word. */
typedef void (*tk_word_fn)(void *ctx, const uint32_t *word, size_t n, int32_t added_id);
tcf_status tk_tokenizer_words(const tcf_tokenizer *tok, const char *text, size_t len,
                              tk_word_fn fn, void *ctx);

#endif /* TCF_TOKENIZER_INTERNAL_H */
