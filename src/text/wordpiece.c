/*
 * wordpiece.c — the WordPiece vocabulary (string <-> id) and the greedy
 * longest-match-first split of one word into sub-word ids.
 *
 * Specification: tokenizers/src/models/wordpiece/mod.rs (Hugging Face), the
 * same as WordpieceTokenizer in Google's BERT tokenization.py:
 *   - a word of more than max_input_chars_per_word chars is one unk token;
 *   - otherwise from start = 0, take the longest vocab entry equal to
 *     word[start..end] (with continuing_subword_prefix in front when start > 0),
 *     shrinking end one char at a time; if none matches, the whole word is one
 *     unk token.
 * Lookups go through an open-addressing hash table of FNV-1a 64 hashes. Since
 * FNV-1a is sequential, one forward pass hashes every candidate
 * word[start..end] (seeded with the prefix's state); candidates longer than the
 * longest vocab entry are never looked up, which makes a word
 * O(chars * longest entry) instead of cubic.
 */
#include "text/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv_feed(uint64_t h, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * TK_FNV_PRIME;
    return h;
}

static uint32_t slot_of(uint64_t h, uint32_t mask) {
    return (uint32_t)((h * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

tcf_status tk_vocab_add(tk_vocab *v, const char *s, size_t len, int32_t id) {
    if (len > UINT32_MAX / 2 || v->pool_n > UINT32_MAX / 2)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "vocab larger than 2 GB");
    if (v->n_ent == v->ent_cap) {
        size_t cap = v->ent_cap ? v->ent_cap * 2 : 1024;
        tk_vent *e = realloc(v->ent, cap * sizeof *e);
        if (!e) return tcf_fail(TCF_ERR_NOMEM, "vocab: cannot allocate %zu entries", cap);
        v->ent = e;
        v->ent_cap = cap;
    }
    if (v->pool_n + len + 1 > v->pool_cap) {
        size_t cap = v->pool_cap ? v->pool_cap : 16384;
        while (cap < v->pool_n + len + 1) cap *= 2;
        char *p = realloc(v->pool, cap);
        if (!p) return tcf_fail(TCF_ERR_NOMEM, "vocab: cannot allocate %zu bytes", cap);
        v->pool = p;
        v->pool_cap = cap;
    }
    memcpy(v->pool + v->pool_n, s, len);
    v->pool[v->pool_n + len] = '\0';
    v->ent[v->n_ent++] = (tk_vent){(uint32_t)v->pool_n, (uint32_t)len, id,
                                   (uint32_t)fnv_feed(TK_FNV_BASIS, (const uint8_t *)s, len)};
    v->pool_n += len + 1;
    if (len > v->max_tok_len) v->max_tok_len = len;
    if (id >= v->n_ids) v->n_ids = id + 1;
    return TCF_OK;
}

static bool ent_eq(const tk_vocab *v, const tk_vent *e, uint64_t h, const char *pre, size_t plen,
                   const char *s, size_t len) {
    return e->hash32 == (uint32_t)h && e->len == plen + len &&
           !memcmp(v->pool + e->off, pre, plen) && !memcmp(v->pool + e->off + plen, s, len);
}

/* Entry whose string is pre+s, given h = FNV of those bytes; -1 if absent. */
static int32_t find_h(const tk_vocab *v, uint64_t h, const char *pre, size_t plen, const char *s,
                      size_t len) {
    if (!v->slots) return -1;
    for (uint32_t i = slot_of(h, v->mask);; i = (i + 1) & v->mask) {
        uint32_t k = v->slots[i];
        if (!k) return -1;
        if (ent_eq(v, &v->ent[k - 1], h, pre, plen, s, len)) return (int32_t)(k - 1);
    }
}

tcf_status tk_vocab_finalize(tk_vocab *v) {
    free(v->slots);
    free(v->id_ent);
    size_t cap = 16;
    while (cap < 2 * v->n_ent) cap *= 2;
    v->slots = calloc(cap, sizeof *v->slots);
    v->id_ent = malloc((size_t)(v->n_ids ? v->n_ids : 1) * sizeof *v->id_ent);
    if (!v->slots || !v->id_ent) return tcf_fail(TCF_ERR_NOMEM, "vocab: cannot allocate tables");
    v->mask = (uint32_t)(cap - 1);
    v->n_unique = 0;
    for (int32_t i = 0; i < v->n_ids; i++) v->id_ent[i] = -1;
    for (size_t k = 0; k < v->n_ent; k++) {
        tk_vent *e = &v->ent[k];
        const char *s = v->pool + e->off;
        uint64_t h = fnv_feed(TK_FNV_BASIS, (const uint8_t *)s, e->len);
        uint32_t i = slot_of(h, v->mask);
        while (v->slots[i] && !ent_eq(v, &v->ent[v->slots[i] - 1], h, "", 0, s, e->len))
            i = (i + 1) & v->mask;
        if (!v->slots[i]) v->n_unique++;
        v->slots[i] = (uint32_t)k + 1; /* a later duplicate string replaces the earlier */
        v->id_ent[e->id] = (int32_t)k;
    }
    return TCF_OK;
}

void tk_vocab_free(tk_vocab *v) {
    free(v->pool);
    free(v->ent);
    free(v->slots);
    free(v->id_ent);
    memset(v, 0, sizeof *v);
}

int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len) {
    int32_t k = find_h(v, fnv_feed(TK_FNV_BASIS, (const uint8_t *)s, len), "", 0, s, len);
    return k < 0 ? -1 : v->ent[k].id;
}

const char *tk_vocab_token(const tk_vocab *v, int32_t id) {
    if (id < 0 || id >= v->n_ids || !v->id_ent || v->id_ent[id] < 0) return NULL;
    return v->pool + v->ent[v->id_ent[id]].off;
}

static tcf_status push_id(tk_buf *out, int32_t id) {
    if (out->n == out->cap) {
        tcf_status st = tk_buf_reserve(out, out->n + 1);
        if (st) return st;
    }
    ((int32_t *)out->p)[out->n++] = id;
    return TCF_OK;
}

tcf_status tk_wordpiece_word(const tk_wordpiece *wp, const uint32_t *word, size_t n,
                             tk_wp_scratch *s, tk_buf *out) {
    if (n > wp->max_chars) return push_id(out, wp->unk_id);
    tcf_status st;
    s->bytes.n = s->bounds.n = s->hashes.n = 0;
    if ((st = tk_buf_reserve(&s->bytes, n * 4)) || (st = tk_buf_reserve(&s->bounds, n + 1)) ||
        (st = tk_buf_reserve(&s->hashes, n + 1)))
        return st;
    uint8_t *w = s->bytes.p;
    uint32_t *b = s->bounds.p; /* (n+1) byte offset of each char */
    uint64_t *hs = s->hashes.p;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint32_t)nb;
        nb += (size_t)tk_utf8_put(w + nb, word[i]);
    }
    b[n] = (uint32_t)nb;

    const tk_vocab *v = &wp->vocab;
    size_t mark = out->n;
    for (size_t start = 0; start < n;) {
        const char *pre = start ? wp->prefix : "";
        size_t plen = start ? wp->prefix_len : 0;
        uint64_t h = start ? wp->prefix_hash : TK_FNV_BASIS;
        /* hs[e - start - 1] = hash of pre + word[start..e), for e up to the longest entry */
        size_t e = start;
        while (e < n && plen + (b[e + 1] - b[start]) <= v->max_tok_len) {
            h = fnv_feed(h, w + b[e], b[e + 1] - b[e]);
            hs[e - start] = h;
            e++;
        }
        int32_t k = -1;
        for (; e > start; e--) {
            k = find_h(v, hs[e - start - 1], pre, plen, (const char *)w + b[start], b[e] - b[start]);
            if (k >= 0) break;
        }
        if (k < 0) { /* no sub-word fits: the whole word is unknown */
            out->n = mark;
            return push_id(out, wp->unk_id);
        }
        if ((st = push_id(out, v->ent[k].id))) return st;
        start = e;
    }
    return TCF_OK;
}
