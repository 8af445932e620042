/*
 * server.h — `tcf serve`: an HTTP API in front of a tcf_classifier.
 * Internal to tcf (the CLI and the tests use it); not part of include/tcf.h.
 *
 * Two parts:
 *   - request.c: the pure functions — parse and validate a POST /v1/classify
 *     body against the limits (tcf_serve_parse_request; fuzzed by
 *     fuzz/fuzz_serve_request.c), and write one text's result as JSON.
 *   - server.c: libmicrohttpd (one epoll thread, connections suspended while
 *     their texts wait for the model), the micro-batcher thread, bearer-token
 *     auth, Prometheus metrics and the graceful shutdown.
 *
 * The HTTP API (what a client sees) is described in README.md ("tcf serve").
 */
#ifndef TCF_SERVE_SERVER_H
#define TCF_SERVE_SERVER_H

#include "tcf.h"

#include <stddef.h>

/* ---- request parsing (pure) ---------------------------------------------- */

typedef struct {
    int max_texts;      /* texts per request (413 past it) */
    int default_top_k;  /* "top" length when the request gives no "top_k" */
    int n_classes;      /* top_k is clamped to this (as `tcf predict --top`) */
} tcf_serve_limits;

/* A parsed POST /v1/classify body.
 *   {"text": "..."}            -> n = 1, batch = 0 (answer: one object)
 *   {"texts": ["...", ...]}    -> n >= 1, batch = 1 (answer: {"results": [...]})
 * Optional "top_k": integer >= 1 (clamped to n_classes). Any other key is an
 * error (a misspelt key fails loudly instead of being ignored). */
typedef struct {
    int n;
    const char **texts;  /* (n) NUL-terminated, valid UTF-8, non-empty; owned */
    size_t *lens;        /* (n) bytes, without the NUL */
    int batch;
    int top_k;
    int http_status;     /* on failure: 400 or 413 */
    char error[256];     /* on failure: what was wrong, naming the text index
                            and byte offset where there is one */
    void *root_;         /* the cJSON tree the texts point into */
} tcf_serve_request;

/* Parse `len` bytes of `body` (need not be NUL-terminated). On success the
 * caller owns *out and frees it with tcf_serve_request_free. On failure
 * returns TCF_ERR_FORMAT (bad JSON, wrong types, empty text: http_status 400),
 * TCF_ERR_UTF8 (400) or TCF_ERR_ARG (too many texts: 413), with out->error and
 * tcf_last_error() saying why, and nothing left to free (freeing is still
 * safe). */
tcf_status tcf_serve_parse_request(const char *body, size_t len, const tcf_serve_limits *lim,
                                   tcf_serve_request *out);
void tcf_serve_request_free(tcf_serve_request *r);

/* One text's result as a JSON object, the fields of `tcf predict` plus two:
 *   {"label": L, "score": S, "top": [[L, S], ...], "truncated": B[, "abstain": B]}
 * probs (K) are the class probabilities, labels (K) their names; "top" lists
 * the top_k most probable (ties: lower index first); "abstain" is written
 * when abstain_below >= 0 and is true when score < abstain_below.
 * Appends to the growing buffer *buf (length *len, capacity *cap; realloc'd).
 * Returns 0, or -1 when out of memory. */
int tcf_serve_format_result(const float *probs, int K, const char *const *labels, int top_k,
                            int truncated, double abstain_below, char **buf, size_t *len,
                            size_t *cap);
/* Append printf-style text / a JSON string literal (escaped) to the buffer. */
int tcf_serve_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tcf_serve_buf_json_str(char **buf, size_t *len, size_t *cap, const char *s);

/* ---- the server ---------------------------------------------------------- */

typedef struct {
    const char *host;        /* numeric address or name to bind; "127.0.0.1" default */
    int port;                /* 0: any free port (tcf_server_port tells which) */
    const char *api_key;     /* NULL: no auth; else "Authorization: Bearer KEY" */
    int top_k;               /* default length of "top" (3) */
    int max_batch;           /* texts per classify call (32) */
    int max_wait_ms;         /* how long the first queued text waits for more (5) */
    size_t max_body_bytes;   /* 1 MiB */
    int max_texts;           /* 256 */
    int max_tokens;          /* 0: truncate long texts to the model's length;
                                N: reject a text of more than N tokens (413) */
    int timeout_s;           /* idle / slow client timeout (10) */
    int connection_limit;    /* concurrent connections (256) */
    double abstain_below;    /* < 0: off */
    int verbose;             /* one log line per request */
} tcf_serve_opts;

void tcf_serve_defaults(tcf_serve_opts *o);

typedef struct tcf_server tcf_server;

/* Start serving classifier c (borrowed: it must outlive the server) on
 * o->host:o->port. Returns once the socket listens; requests are handled on
 * the server's own threads. */
tcf_status tcf_server_start(tcf_classifier *c, const tcf_serve_opts *o, tcf_server **out);
/* The bound port (useful with port 0). */
int tcf_server_port(const tcf_server *s);
/* Graceful stop: stop accepting connections, answer new requests on open
 * connections with 503, let the requests in flight finish (at most grace_s
 * seconds of waiting), then stop the threads. Returns the number of requests
 * still unfinished when the grace time ran out (0 normally). */
int tcf_server_shutdown(tcf_server *s, double grace_s);
/* Shut down (if not done) and free. NULL is a no-op. */
void tcf_server_free(tcf_server *s);

#endif
