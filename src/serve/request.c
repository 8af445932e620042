/*
 * request.c — the pure half of `tcf serve`: parse and check a POST
 * /v1/classify body (JSON, RFC 8259, parsed by cJSON), and write results as
 * JSON. No I/O, no globals written except cJSON's own error pointer; fuzzed by
 * fuzz/fuzz_serve_request.c.
 *
 * Accepted bodies (anything else is a 400 naming what was wrong):
 *   {"text": "..."}  or  {"texts": ["...", ...]}, optionally with "top_k": N.
 * Each text must be a non-empty string (not only white space) of valid UTF-8
 * without U+0000; "texts" must hold 1 .. max_texts of them (more: 413).
 */
#include "serve/server.h"
#include "base/base.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tcf_status req_fail(tcf_serve_request *r, tcf_status st, int http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static tcf_status req_fail(tcf_serve_request *r, tcf_status st, int http, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    r->http_status = http;
    cJSON_Delete(r->root_);
    free(r->texts), free(r->lens);
    r->root_ = NULL, r->texts = NULL, r->lens = NULL, r->n = 0;
    return tcf_fail(st, "request: %s", r->error);
}

static const char *type_name(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an unknown value";
}

/* Printable-ASCII copy of a key for an error message (at most 40 bytes). */
static void key_for_msg(const char *k, char *dst, size_t cap) {
    size_t j = 0;
    for (; k && *k && j + 4 < cap && j < 40; k++)
        dst[j++] = (*k >= 0x20 && *k < 0x7f) ? *k : '?';
    if (k && *k) dst[j++] = '.', dst[j++] = '.', dst[j++] = '.';
    dst[j] = '\0';
}

/* True if a string literal in the (already parsed, so well-formed) JSON text
 * holds the escape \u0000: cJSON would end the C string there and silently
 * drop the rest of the text. */
static int has_nul_escape(const char *s, size_t n) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in_str) {
            if (s[i] == '"') in_str = 1;
        } else if (s[i] == '"') {
            in_str = 0;
        } else if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] == 'u' && i + 5 < n && !memcmp(s + i + 2, "0000", 4)) return 1;
            i++; /* the escaped character (for \u, the 4 hex digits are plain bytes) */
        }
    }
    return 0;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\n\r\v\f", s[i])) return 0;
    return 1;
}

/* Check one text; `what` names it ("text" or "texts[3]"). */
static tcf_status check_text(tcf_serve_request *r, const cJSON *v, const char *what, int i) {
    if (!cJSON_IsString(v) || !v->valuestring)
        return req_fail(r, TCF_ERR_FORMAT, 400, "%s is %s, not a string", what, type_name(v));
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (blank(s, n))
        return req_fail(r, TCF_ERR_FORMAT, 400, "%s is empty%s", what, n ? " (only white space)" : "");
    int64_t bad = tcf_utf8_invalid_at(s, n);
    if (bad >= 0)
        return req_fail(r, TCF_ERR_UTF8, 400, "%s: invalid UTF-8 at byte %lld of the text", what,
                        (long long)bad);
    r->texts[i] = s;
    r->lens[i] = n;
    return TCF_OK;
}

tcf_status tcf_serve_parse_request(const char *body, size_t len, const tcf_serve_limits *lim,
                                   tcf_serve_request *out) {
    memset(out, 0, sizeof *out);
    out->top_k = lim->default_top_k < 1 ? 1 : lim->default_top_k;
    size_t skip = 0;
    while (skip < len && body[skip] && strchr(" \t\n\r", body[skip])) skip++;
    if (skip == len)
        return req_fail(out, TCF_ERR_FORMAT, 400,
                        "the body is empty; send a JSON object {\"text\": ...} or {\"texts\": [...]}");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        return req_fail(out, TCF_ERR_FORMAT, 400, "malformed JSON near byte %zu of the body", at);
    }
    out->root_ = root;
    size_t at = end ? (size_t)(end - body) : len;
    while (at < len && body[at] && strchr(" \t\n\r", body[at])) at++;
    if (at < len)
        return req_fail(out, TCF_ERR_FORMAT, 400, "unexpected bytes after the JSON value at byte %zu", at);
    if (!cJSON_IsObject(root))
        return req_fail(out, TCF_ERR_FORMAT, 400, "the body is %s; expected a JSON object "
                        "{\"text\": ...} or {\"texts\": [...]}", type_name(root));
    if (has_nul_escape(body, len))
        return req_fail(out, TCF_ERR_FORMAT, 400, "a string holds \\u0000 (NUL), which a text cannot hold");

    const cJSON *text = NULL, *texts = NULL, *top = NULL;
    for (const cJSON *it = root->child; it; it = it->next) {
        const cJSON **slot = NULL;
        if (it->string && !strcmp(it->string, "text")) slot = &text;
        else if (it->string && !strcmp(it->string, "texts")) slot = &texts;
        else if (it->string && !strcmp(it->string, "top_k")) slot = &top;
        char key[48];
        key_for_msg(it->string, key, sizeof key);
        if (!slot)
            return req_fail(out, TCF_ERR_FORMAT, 400, "unknown key \"%s\" (known: text, texts, top_k)", key);
        if (*slot) return req_fail(out, TCF_ERR_FORMAT, 400, "key \"%s\" given twice", key);
        *slot = it;
    }
    if (text && texts) return req_fail(out, TCF_ERR_FORMAT, 400, "give \"text\" or \"texts\", not both");
    if (!text && !texts) return req_fail(out, TCF_ERR_FORMAT, 400, "missing \"text\" (a string) or \"texts\" (an array of strings)");
    if (top) {
        double d = top->valuedouble;
        if (!cJSON_IsNumber(top) || !(d >= 1 && d <= 1e6) || d != (double)(int)d)
            return req_fail(out, TCF_ERR_FORMAT, 400, "\"top_k\" must be an integer >= 1, got %s",
                            cJSON_IsNumber(top) ? "another number" : type_name(top));
        out->top_k = (int)d;
    }
    if (lim->n_classes > 0 && out->top_k > lim->n_classes) out->top_k = lim->n_classes;

    if (text) {
        out->n = 1;
        out->texts = malloc(sizeof *out->texts);
        out->lens = malloc(sizeof *out->lens);
        if (!out->texts || !out->lens) return req_fail(out, TCF_ERR_NOMEM, 500, "out of memory");
        return check_text(out, text, "text", 0);
    }
    if (!cJSON_IsArray(texts))
        return req_fail(out, TCF_ERR_FORMAT, 400, "\"texts\" is %s, not an array of strings", type_name(texts));
    int n = 0;
    for (const cJSON *it = texts->child; it; it = it->next)
        if (++n > lim->max_texts) break;
    if (n == 0) return req_fail(out, TCF_ERR_FORMAT, 400, "\"texts\" is empty");
    if (n > lim->max_texts) {
        n = cJSON_GetArraySize(texts);
        return req_fail(out, TCF_ERR_ARG, 413, "\"texts\" has %d entries, over the limit of %d per request",
                        n, lim->max_texts);
    }
    out->batch = 1;
    out->n = n;
    out->texts = malloc(sizeof *out->texts * (size_t)n);
    out->lens = malloc(sizeof *out->lens * (size_t)n);
    if (!out->texts || !out->lens) return req_fail(out, TCF_ERR_NOMEM, 500, "out of memory");
    int i = 0;
    for (const cJSON *it = texts->child; it; it = it->next, i++) {
        char what[32];
        snprintf(what, sizeof what, "texts[%d]", i);
        tcf_status st = check_text(out, it, what, i);
        if (st) return st;
    }
    return TCF_OK;
}

void tcf_serve_request_free(tcf_serve_request *r) {
    if (!r) return;
    cJSON_Delete(r->root_);
    free(r->texts), free(r->lens);
    r->root_ = NULL, r->texts = NULL, r->lens = NULL, r->n = 0;
}

/* ---- output -------------------------------------------------------------- */

static int buf_reserve(char **buf, size_t *len, size_t *cap, size_t more) {
    if (*len + more + 1 <= *cap) return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < *len + more + 1) {
        if (nc > ((size_t)-1) / 2) return -1;
        nc *= 2;
    }
    char *nb = realloc(*buf, nc);
    if (!nb) return -1;
    *buf = nb, *cap = nc;
    return 0;
}

int tcf_serve_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(buf, len, cap, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
    return 0;
}

int tcf_serve_buf_json_str(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (buf_reserve(buf, len, cap, 6 * n + 2)) return -1;
    char *p = *buf + *len;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') *p++ = '\\', *p++ = (char)c;
        else if (c < 0x20 || c == 0x7f) p += sprintf(p, "\\u%04x", c);
        else *p++ = (char)c;
    }
    *p++ = '"';
    *p = '\0';
    *len = (size_t)(p - *buf);
    return 0;
}

int tcf_serve_format_result(const float *probs, int K, const char *const *labels, int top_k,
                            int truncated, double abstain_below, char **buf, size_t *len,
                            size_t *cap) {
    if (top_k > K) top_k = K;
    if (top_k < 1) top_k = 1;
    /* top_k most probable, ties to the lower class index: a selection that
     * passes over the classes already taken (top_k is small) */
    int idx[64], *order = top_k <= 64 ? idx : malloc(sizeof(int) * (size_t)top_k);
    if (!order) return -1;
    for (int a = 0; a < top_k; a++) {
        int best = -1;
        for (int k = 0; k < K; k++) {
            int taken = 0;
            for (int b = 0; b < a && !taken; b++) taken = order[b] == k;
            if (!taken && (best < 0 || probs[k] > probs[best])) best = k;
        }
        order[a] = best;
    }
    float score = probs[order[0]];
    int rc = tcf_serve_buf_printf(buf, len, cap, "{\"label\": ") ||
             tcf_serve_buf_json_str(buf, len, cap, labels[order[0]]) ||
             tcf_serve_buf_printf(buf, len, cap, ", \"score\": %.9g, \"top\": [", score);
    for (int a = 0; a < top_k && !rc; a++)
        rc = tcf_serve_buf_printf(buf, len, cap, a ? ", [" : "[") ||
             tcf_serve_buf_json_str(buf, len, cap, labels[order[a]]) ||
             tcf_serve_buf_printf(buf, len, cap, ", %.9g]", probs[order[a]]);
    if (!rc) rc = tcf_serve_buf_printf(buf, len, cap, "], \"truncated\": %s", truncated ? "true" : "false");
    if (!rc && abstain_below >= 0)
        rc = tcf_serve_buf_printf(buf, len, cap, ", \"abstain\": %s", score < abstain_below ? "true" : "false");
    if (!rc) rc = tcf_serve_buf_printf(buf, len, cap, "}");
    if (order != idx) free(order);
    return rc ? -1 : 0;
}
