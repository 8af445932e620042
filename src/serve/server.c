/*
 * server.c — the HTTP half of `tcf serve`: libmicrohttpd (MHD) in front of a
 * tcf_classifier, with micro-batching, bearer-token auth, Prometheus metrics
 * and a graceful stop. The request body rules live in request.c; the API a
 * client sees is in README.md.
 *
 * Threads and why:
 *   - MHD runs one internal epoll thread (MHD_USE_EPOLL_INTERNAL_THREAD) for
 *     all sockets: reading, parsing the JSON body (request.c), writing. A
 *     POST /v1/classify whose body checks out becomes a job on the batch
 *     queue and its connection is *suspended* (MHD_suspend_connection), so
 *     waiting for the model holds no thread: 64 or 1000 waiting clients cost
 *     a socket and a job each, not a thread each (thread-per-connection mode
 *     would park a thread per client, and slow clients would hold them).
 *   - One batcher thread takes jobs off the queue: it waits up to max_wait_ms
 *     after the oldest job arrived, or until max_batch texts are queued,
 *     calls tcf_classifier_classify once for all of them (the classifier
 *     spreads each forward pass over the tcf thread pool), writes each job's
 *     response and resumes its connection; MHD then sends it.
 *   A job is never split between batches; one larger than max_batch goes
 *   alone (the classifier cuts it into passes of max_batch).
 *
 * Shutdown (tcf_server_shutdown): new requests get 503 with Connection:
 * close, the listening socket is closed (MHD_quiesce_daemon), requests in
 * flight finish, the batcher drains its queue, then MHD stops.
 */
#include "serve/server.h"
#include "base/base.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void tcf_serve_defaults(tcf_serve_opts *o) {
    *o = (tcf_serve_opts){
        .host = "127.0.0.1",
        .port = 8080,
        .api_key = NULL,
        .top_k = 3,
        .max_batch = 32,
        .max_wait_ms = 5,
        .max_body_bytes = 1 << 20,
        .max_texts = 256,
        .max_tokens = 0,
        .timeout_s = 10,
        .connection_limit = 256,
        .abstain_below = -1,
        .verbose = 0,
    };
}

/* ---- metrics ------------------------------------------------------------- */

static const int metric_codes[] = {200, 400, 401, 404, 405, 413, 415, 500, 503};
#define N_CODES ((int)(sizeof metric_codes / sizeof *metric_codes))
static const double dur_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_DUR ((int)(sizeof dur_buckets / sizeof *dur_buckets))
static const int batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define N_BATCH ((int)(sizeof batch_buckets / sizeof *batch_buckets))

typedef struct {
    pthread_mutex_t lock;
    uint64_t by_code[N_CODES + 1];  /* the last slot: any other code */
    uint64_t aborted;               /* requests that ended without a response */
    uint64_t dur_le[N_DUR], dur_count;
    double dur_sum;
    uint64_t batch_le[N_BATCH], batch_count, batch_sum;
    uint64_t texts, errors;
    double classify_sum;
} metrics;

/* ---- jobs, requests, the server ------------------------------------------ */

typedef struct job {
    struct job *next;
    struct MHD_Connection *conn;
    tcf_serve_request req;
    double t_enq;
    /* written by the batcher before it resumes the connection */
    int status;
    char *resp;
    size_t resp_len;
} job;

enum { ST_NEW, ST_BODY, ST_QUEUED, ST_ANSWERED }; /* req_ctx.state */

typedef struct {
    int state;
    double t0;
    char *body;
    size_t len, cap;
    int too_big;
    int route;         /* R_* */
    int code;          /* the status code answered (0: none yet) */
    int n_texts;
    char method[8], url[48];
    job j;
} req_ctx;

struct tcf_server {
    tcf_classifier *clf;
    tcf_serve_opts o;
    char *api_key;
    size_t api_key_len;
    int K;
    const char **labels;  /* (K) */
    int port;
    struct MHD_Daemon *d;
    atomic_int stopping;
    atomic_int inflight;
    int shut;
    /* batch queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    job *head, *tail;
    int queued_texts;
    int batcher_stop;
    pthread_t batcher;
    int batcher_started;
    metrics m;
};

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_buf(tcf_server *s, req_ctx *rc, struct MHD_Connection *conn, int code,
                                char *body, size_t len, const char *ctype, const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (code == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&s->stopping)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)code, r);
    MHD_destroy_response(r);
    rc->code = code;
    rc->state = ST_ANSWERED;
    return ok;
}

/* {"error": {"code": C, "message": "..."}} */
static char *error_json(int code, const char *msg, size_t *len) {
    char *b = NULL;
    size_t cap = 0;
    *len = 0;
    if (tcf_serve_buf_printf(&b, len, &cap, "{\"error\": {\"code\": %d, \"message\": ", code) ||
        tcf_serve_buf_json_str(&b, len, &cap, msg) || tcf_serve_buf_printf(&b, len, &cap, "}}\n")) {
        free(b);
        return NULL;
    }
    return b;
}

static enum MHD_Result send_error(tcf_server *s, req_ctx *rc, struct MHD_Connection *conn, int code,
                                  const char *allow, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result send_error(tcf_server *s, req_ctx *rc, struct MHD_Connection *conn, int code,
                                  const char *allow, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len;
    char *b = error_json(code, msg, &len);
    if (!b) return MHD_NO;
    return send_buf(s, rc, conn, code, b, len, "application/json", allow);
}

/* ---- metrics ------------------------------------------------------------- */

static void metrics_request(metrics *m, int code, double secs) {
    pthread_mutex_lock(&m->lock);
    if (!code) {
        m->aborted++;
    } else {
        int i = 0;
        while (i < N_CODES && metric_codes[i] != code) i++;
        m->by_code[i]++;
        if (code >= 400) m->errors++;
        for (int b = 0; b < N_DUR; b++)
            if (secs <= dur_buckets[b]) m->dur_le[b]++;
        m->dur_count++;
        m->dur_sum += secs;
    }
    pthread_mutex_unlock(&m->lock);
}

static void metrics_batch(metrics *m, int n, double secs) {
    pthread_mutex_lock(&m->lock);
    for (int b = 0; b < N_BATCH; b++)
        if (n <= batch_buckets[b]) m->batch_le[b]++;
    m->batch_count++;
    m->batch_sum += (uint64_t)n;
    m->texts += (uint64_t)n;
    m->classify_sum += secs;
    pthread_mutex_unlock(&m->lock);
}

static long long process_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lld %lld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory stream's own fd */
}

/* Prometheus text exposition format 0.0.4. */
static char *metrics_text(tcf_server *s, size_t *len) {
    metrics *m = &s->m;
    char *b = NULL;
    size_t cap = 0;
    int e = 0;
    *len = 0;
    pthread_mutex_lock(&m->lock);
    e |= tcf_serve_buf_printf(&b, len, &cap, "# HELP tcf_requests_total HTTP requests answered, by status code.\n"
                                             "# TYPE tcf_requests_total counter\n");
    for (int i = 0; i <= N_CODES; i++) {
        if (i < N_CODES) e |= tcf_serve_buf_printf(&b, len, &cap, "tcf_requests_total{code=\"%d\"} %llu\n",
                                                   metric_codes[i], (unsigned long long)m->by_code[i]);
        else e |= tcf_serve_buf_printf(&b, len, &cap, "tcf_requests_total{code=\"other\"} %llu\n",
                                       (unsigned long long)m->by_code[i]);
    }
    e |= tcf_serve_buf_printf(&b, len, &cap,
                              "# HELP tcf_requests_aborted_total Requests that ended without a response (client gone, timeout).\n"
                              "# TYPE tcf_requests_aborted_total counter\ntcf_requests_aborted_total %llu\n"
                              "# HELP tcf_errors_total Requests answered with a 4xx or 5xx status.\n"
                              "# TYPE tcf_errors_total counter\ntcf_errors_total %llu\n"
                              "# HELP tcf_texts_total Texts classified.\n"
                              "# TYPE tcf_texts_total counter\ntcf_texts_total %llu\n"
                              "# HELP tcf_classify_seconds_total Time spent in the model (classify calls).\n"
                              "# TYPE tcf_classify_seconds_total counter\ntcf_classify_seconds_total %.6f\n"
                              "# HELP tcf_request_duration_seconds Time from the request's headers to its response being sent.\n"
                              "# TYPE tcf_request_duration_seconds histogram\n",
                              (unsigned long long)m->aborted, (unsigned long long)m->errors,
                              (unsigned long long)m->texts, m->classify_sum);
    for (int i = 0; i < N_DUR; i++)
        e |= tcf_serve_buf_printf(&b, len, &cap, "tcf_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                                  dur_buckets[i], (unsigned long long)m->dur_le[i]);
    e |= tcf_serve_buf_printf(&b, len, &cap,
                              "tcf_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                              "tcf_request_duration_seconds_sum %.6f\ntcf_request_duration_seconds_count %llu\n"
                              "# HELP tcf_batch_size Texts per classify call (micro-batch size).\n"
                              "# TYPE tcf_batch_size histogram\n",
                              (unsigned long long)m->dur_count, m->dur_sum, (unsigned long long)m->dur_count);
    for (int i = 0; i < N_BATCH; i++)
        e |= tcf_serve_buf_printf(&b, len, &cap, "tcf_batch_size_bucket{le=\"%d\"} %llu\n", batch_buckets[i],
                                  (unsigned long long)m->batch_le[i]);
    e |= tcf_serve_buf_printf(&b, len, &cap,
                              "tcf_batch_size_bucket{le=\"+Inf\"} %llu\ntcf_batch_size_sum %llu\ntcf_batch_size_count %llu\n",
                              (unsigned long long)m->batch_count, (unsigned long long)m->batch_sum,
                              (unsigned long long)m->batch_count);
    pthread_mutex_unlock(&m->lock);
    e |= tcf_serve_buf_printf(&b, len, &cap,
                              "# HELP tcf_requests_in_flight Requests received and not yet answered.\n"
                              "# TYPE tcf_requests_in_flight gauge\ntcf_requests_in_flight %d\n"
                              "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                              "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n"
                              "# HELP process_open_fds Number of open file descriptors.\n"
                              "# TYPE process_open_fds gauge\nprocess_open_fds %d\n",
                              atomic_load(&s->inflight) - 1 /* this one */, process_rss(), open_fds());
    if (e) {
        free(b);
        return NULL;
    }
    return b;
}

/* ---- the batcher --------------------------------------------------------- */

/* Answer the jobs of one batch: check token counts, classify every text that
 * passed in one call, write each job's response. */
static void run_batch(tcf_server *s, job **jobs, int n_jobs) {
    const tcf_tokenizer *tok = tcf_classifier_tokenizer(s->clf);
    int model_len = tcf_classifier_max_len(s->clf), K = s->K;
    int count_to = (s->o.max_tokens > model_len ? s->o.max_tokens : model_len) + 1;
    tcf_encode_opts eo = {1, count_to};
    int total = 0;
    for (int j = 0; j < n_jobs; j++) total += jobs[j]->req.n;
    const char **texts = malloc(sizeof *texts * (size_t)total);
    size_t *lens = malloc(sizeof *lens * (size_t)total);
    uint8_t *trunc = malloc((size_t)total);
    float *probs = malloc(sizeof(float) * (size_t)total * (size_t)K); /* (total, K) */
    int *first = malloc(sizeof(int) * (size_t)n_jobs);                 /* job j's first row */
    if (!texts || !lens || !trunc || !probs || !first) {
        for (int j = 0; j < n_jobs; j++) jobs[j]->status = 500;
        goto answer;
    }
    int n = 0;
    for (int j = 0; j < n_jobs; j++) {
        job *jb = jobs[j];
        first[j] = n;
        jb->status = 200;
        for (int i = 0; i < jb->req.n && jb->status == 200; i++) {
            int n_ids = 0;
            tcf_status st = tcf_tokenizer_encode(tok, jb->req.texts[i], jb->req.lens[i], &eo, NULL, 0, &n_ids);
            if (st != TCF_OK && st != TCF_ERR_ARG) { /* cap 0: TCF_ERR_ARG + the count is the usual outcome */
                jb->status = 400;
                jb->resp = error_json(400, tcf_last_error(), &jb->resp_len);
            } else if (s->o.max_tokens > 0 && n_ids > s->o.max_tokens) {
                char msg[160];
                if (jb->req.batch)
                    snprintf(msg, sizeof msg, "texts[%d] has more than %d tokens (the limit set by --max-tokens)", i,
                             s->o.max_tokens);
                else
                    snprintf(msg, sizeof msg, "text has more than %d tokens (the limit set by --max-tokens)",
                             s->o.max_tokens);
                jb->status = 413;
                jb->resp = error_json(413, msg, &jb->resp_len);
            } else {
                texts[n + i] = jb->req.texts[i];
                lens[n + i] = jb->req.lens[i];
                trunc[n + i] = n_ids > model_len;
            }
        }
        if (jb->status == 200) n += jb->req.n;
        else first[j] = -1;
    }
    if (n > 0) {
        double t0 = tcf_now();
        tcf_status st = tcf_classifier_classify(s->clf, n, texts, lens, probs);
        if (st) {
            /* cannot happen for checked texts; answer each job on its own so one
             * failing text does not fail its neighbours */
            for (int j = 0; j < n_jobs; j++) {
                if (first[j] < 0) continue;
                if (tcf_classifier_classify(s->clf, jobs[j]->req.n, texts + first[j], lens + first[j],
                                            probs + (size_t)first[j] * K)) {
                    jobs[j]->status = 500;
                    jobs[j]->resp = error_json(500, tcf_last_error(), &jobs[j]->resp_len);
                    first[j] = -1;
                }
            }
        }
        metrics_batch(&s->m, n, tcf_now() - t0);
    }
    for (int j = 0; j < n_jobs; j++) {
        job *jb = jobs[j];
        if (first[j] < 0) continue;
        char *b = NULL;
        size_t len = 0, cap = 0;
        int e = jb->req.batch ? tcf_serve_buf_printf(&b, &len, &cap, "{\"results\": [") : 0;
        for (int i = 0; i < jb->req.n && !e; i++) {
            int r = first[j] + i;
            e = (i && tcf_serve_buf_printf(&b, &len, &cap, ", ")) ||
                tcf_serve_format_result(probs + (size_t)r * K, K, s->labels, jb->req.top_k, trunc[r],
                                        s->o.abstain_below, &b, &len, &cap);
        }
        if (!e) e = tcf_serve_buf_printf(&b, &len, &cap, jb->req.batch ? "]}\n" : "\n");
        if (e) {
            free(b);
            jb->status = 500;
        } else {
            jb->resp = b, jb->resp_len = len;
        }
    }
answer:
    for (int j = 0; j < n_jobs; j++) {
        if (jobs[j]->status != 200 && !jobs[j]->resp)
            jobs[j]->resp = error_json(jobs[j]->status, "out of memory", &jobs[j]->resp_len);
        MHD_resume_connection(jobs[j]->conn);
    }
    free(texts), free(lens), free(trunc), free(probs), free(first);
}

static void *batcher_main(void *arg) {
    tcf_server *s = arg;
    int cap = 64;
    job **batch = malloc(sizeof *batch * (size_t)cap);
    pthread_mutex_lock(&s->qlock);
    for (;;) {
        while (!s->head && !s->batcher_stop) pthread_cond_wait(&s->qcond, &s->qlock);
        if (!s->head) break; /* stopping and drained */
        /* wait for more texts until the oldest job has waited max_wait_ms */
        double deadline = s->head->t_enq + s->o.max_wait_ms / 1e3;
        while (s->queued_texts < s->o.max_batch && !s->batcher_stop) {
            double now = tcf_now();
            if (now >= deadline) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wake = ts.tv_sec + ts.tv_nsec / 1e9 + (deadline - now);
            ts.tv_sec = (time_t)wake;
            ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&s->qcond, &s->qlock, &ts);
        }
        int n_jobs = 0, n_texts = 0;
        while (s->head && (n_jobs == 0 || n_texts + s->head->req.n <= s->o.max_batch)) {
            job *jb = s->head;
            s->head = jb->next;
            if (!s->head) s->tail = NULL;
            n_texts += jb->req.n;
            s->queued_texts -= jb->req.n;
            if (n_jobs == cap) {
                job **nb = realloc(batch, sizeof *batch * (size_t)cap * 2);
                if (!nb) { /* put it back; the next round takes it */
                    jb->next = s->head, s->head = jb;
                    if (!s->tail) s->tail = jb;
                    s->queued_texts += jb->req.n;
                    break;
                }
                batch = nb, cap *= 2;
            }
            batch[n_jobs++] = jb;
        }
        pthread_mutex_unlock(&s->qlock);
        run_batch(s, batch, n_jobs);
        pthread_mutex_lock(&s->qlock);
    }
    pthread_mutex_unlock(&s->qlock);
    free(batch);
    return NULL;
}

/* ---- MHD callbacks ------------------------------------------------------- */

/* Time independent of where the first differing byte is (the key's length
 * alone decides the work done). */
static int key_matches(const tcf_server *s, const char *given) {
    size_t n = strlen(given);
    unsigned char diff = n != s->api_key_len;
    for (size_t i = 0; i < s->api_key_len; i++)
        diff |= (unsigned char)s->api_key[i] ^ (unsigned char)(i < n ? given[i] : 0);
    return diff == 0;
}

static int authorized(tcf_server *s, struct MHD_Connection *conn) {
    if (!s->api_key) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    return key_matches(s, h);
}

/* "application/json" or "text/json", parameters (";charset=utf-8") allowed. */
static int is_json_type(const char *ct) {
    size_t n = !strncasecmp(ct, "application/json", 16) ? 16 : !strncasecmp(ct, "text/json", 9) ? 9 : 0;
    return n && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static void copy_clean(char *dst, size_t cap, const char *src) {
    size_t j = 0;
    for (; src && *src && j + 1 < cap; src++) dst[j++] = (*src > 0x20 && *src < 0x7f) ? *src : '?';
    dst[j] = '\0';
}

/* What a request asks for, decided from its headers. */
enum { R_CLASSIFY = 1, R_HEALTH, R_METRICS, R_NOT_FOUND, R_NOT_ALLOWED };

/* The headers are in. Answers at once (which makes MHD close the connection
 * after the answer: the body is never read) only when the body is unwanted:
 * shutting down, a wrong key, a wrong Content-Type, a Content-Length over the
 * limit. Everything else is answered once the (possibly empty) body is in, so
 * that keep-alive connections stay open. */
static enum MHD_Result on_headers(tcf_server *s, req_ctx *rc, struct MHD_Connection *conn, const char *url,
                                  const char *method) {
    int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    if (atomic_load(&s->stopping)) return send_error(s, rc, conn, 503, NULL, "the server is shutting down");
    rc->state = ST_BODY;
    if (!strcmp(url, "/healthz") || !strcmp(url, "/metrics")) {
        rc->route = !get ? R_NOT_ALLOWED : url[1] == 'h' ? R_HEALTH : R_METRICS;
        return MHD_YES;
    }
    if (strcmp(url, "/v1/classify")) {
        rc->route = R_NOT_FOUND;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST)) {
        rc->route = R_NOT_ALLOWED;
        return MHD_YES;
    }
    rc->route = R_CLASSIFY;
    if (!authorized(s, conn))
        return send_error(s, rc, conn, 401, NULL, "missing or wrong bearer token (Authorization: Bearer KEY)");
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && !is_json_type(ct)) {
        char t[48];
        copy_clean(t, sizeof t, ct);
        return send_error(s, rc, conn, 415, NULL, "Content-Type must be application/json, got %s", t);
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        unsigned long long v = strtoull(cl, NULL, 10);
        if (v > s->o.max_body_bytes)
            return send_error(s, rc, conn, 413, NULL, "the body is %llu bytes, over the limit of %zu "
                              "(--max-body-bytes)", v, s->o.max_body_bytes);
        if (v > 0 && (rc->body = malloc((size_t)v + 1))) rc->cap = (size_t)v + 1;
    }
    return MHD_YES;
}

/* Part of the body. Only /v1/classify keeps it; other paths drop it. A body
 * still arriving 3 x timeout_s after its headers closes the connection: MHD's
 * idle timeout alone lets a client trickle a byte every few seconds for ever. */
static enum MHD_Result on_body(tcf_server *s, req_ctx *rc, const char *data, size_t n) {
    if (tcf_now() - rc->t0 > 3.0 * s->o.timeout_s) return MHD_NO;
    if (rc->route != R_CLASSIFY || rc->too_big) return MHD_YES;
    if (rc->len + n > s->o.max_body_bytes) {
        rc->too_big = 1; /* keep reading (to answer 413), keep nothing */
        free(rc->body);
        rc->body = NULL, rc->len = rc->cap = 0;
        return MHD_YES;
    }
    if (rc->len + n + 1 > rc->cap) {
        size_t nc = rc->cap ? rc->cap : 4096;
        while (nc < rc->len + n + 1) nc *= 2;
        char *nb = realloc(rc->body, nc);
        if (!nb) return MHD_NO;
        rc->body = nb, rc->cap = nc;
    }
    memcpy(rc->body + rc->len, data, n);
    rc->len += n;
    return MHD_YES;
}

/* The whole request is in: answer it, or queue its texts for the batcher. */
static enum MHD_Result on_complete(tcf_server *s, req_ctx *rc, struct MHD_Connection *conn) {
    switch (rc->route) {
    case R_HEALTH: {
        size_t len = 0, cap = 0;
        char *b = NULL;
        if (tcf_serve_buf_printf(&b, &len, &cap, "{\"status\": \"ok\", \"classes\": %d}\n", s->K)) {
            free(b);
            return MHD_NO;
        }
        return send_buf(s, rc, conn, 200, b, len, "application/json", NULL);
    }
    case R_METRICS: {
        if (!authorized(s, conn))
            return send_error(s, rc, conn, 401, NULL, "missing or wrong bearer token (Authorization: Bearer KEY)");
        size_t len;
        char *b = metrics_text(s, &len);
        if (!b) return MHD_NO;
        return send_buf(s, rc, conn, 200, b, len, "text/plain; version=0.0.4; charset=utf-8", NULL);
    }
    case R_NOT_FOUND:
        return send_error(s, rc, conn, 404, NULL, "no such path: %s (paths: POST /v1/classify, GET /healthz, "
                          "GET /metrics)", rc->url);
    case R_NOT_ALLOWED:
        if (!strcmp(rc->url, "/v1/classify"))
            return send_error(s, rc, conn, 405, "POST", "/v1/classify takes POST, not %s", rc->method);
        return send_error(s, rc, conn, 405, "GET, HEAD", "%s takes GET or HEAD, not %s", rc->url, rc->method);
    }
    if (rc->too_big)
        return send_error(s, rc, conn, 413, NULL, "the body is over the limit of %zu bytes (--max-body-bytes)",
                          s->o.max_body_bytes);
    tcf_serve_limits lim = {s->o.max_texts, s->o.top_k, s->K};
    job *jb = &rc->j;
    if (tcf_serve_parse_request(rc->body ? rc->body : "", rc->len, &lim, &jb->req))
        return send_error(s, rc, conn, jb->req.http_status, NULL, "%s", jb->req.error);
    rc->n_texts = jb->req.n;
    jb->conn = conn;
    jb->t_enq = tcf_now();
    pthread_mutex_lock(&s->qlock);
    if (s->batcher_stop) {
        pthread_mutex_unlock(&s->qlock);
        return send_error(s, rc, conn, 503, NULL, "the server is shutting down");
    }
    rc->state = ST_QUEUED;
    MHD_suspend_connection(conn);
    if (s->tail) s->tail->next = jb;
    else s->head = jb;
    s->tail = jb;
    s->queued_texts += jb->req.n;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls) {
    tcf_server *s = cls;
    req_ctx *rc = *con_cls;
    if (!rc) {
        rc = calloc(1, sizeof *rc);
        if (!rc) return MHD_NO;
        *con_cls = rc;
        rc->t0 = tcf_now();
        copy_clean(rc->method, sizeof rc->method, method);
        copy_clean(rc->url, sizeof rc->url, url);
        atomic_fetch_add(&s->inflight, 1);
        return on_headers(s, rc, conn, url, method);
    }
    if (rc->state == ST_BODY && *upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return on_body(s, rc, upload_data, n);
    }
    if (rc->state == ST_BODY) return on_complete(s, rc, conn);
    if (rc->state == ST_QUEUED) { /* resumed by the batcher */
        job *jb = &rc->j;
        char *b = jb->resp;
        jb->resp = NULL;
        return send_buf(s, rc, conn, jb->status, b, jb->resp_len, "application/json", NULL);
    }
    return MHD_NO; /* called again after answering: cannot happen */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    tcf_server *s = cls;
    req_ctx *rc = *con_cls;
    if (!rc) return;
    double dt = tcf_now() - rc->t0;
    int code = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? rc->code : 0;
    metrics_request(&s->m, code, dt);
    if (s->o.verbose)
        fprintf(stderr, "tcf serve: %s %s %d%s %d text%s %.1f ms\n", rc->method, rc->url, rc->code,
                code ? "" : " (not sent)", rc->n_texts, rc->n_texts == 1 ? "" : "s", dt * 1e3);
    tcf_serve_request_free(&rc->j.req);
    free(rc->j.resp);
    free(rc->body);
    free(rc);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    fputs("tcf serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- start / stop -------------------------------------------------------- */

tcf_status tcf_server_start(tcf_classifier *c, const tcf_serve_opts *o, tcf_server **out) {
    *out = NULL;
    if (!c || !o) return tcf_fail(TCF_ERR_ARG, "tcf_server_start: NULL argument");
    if (o->max_batch < 1 || o->max_wait_ms < 0 || o->max_texts < 1 || o->top_k < 1 || o->timeout_s < 0 ||
        o->connection_limit < 1 || o->port < 0 || o->port > 65535 || o->max_body_bytes < 2)
        return tcf_fail(TCF_ERR_ARG, "tcf_server_start: an option is out of range");
    tcf_server *s = calloc(1, sizeof *s);
    if (!s) return tcf_fail(TCF_ERR_NOMEM, "tcf_server_start: out of memory");
    s->clf = c;
    s->o = *o;
    s->o.host = NULL; /* not kept */
    s->K = tcf_classifier_n_classes(c);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_mutex_init(&s->m.lock, NULL);
    s->labels = malloc(sizeof *s->labels * (size_t)(s->K > 0 ? s->K : 1));
    if (!s->labels) goto nomem;
    for (int k = 0; k < s->K; k++) s->labels[k] = tcf_classifier_label(c, k);
    if (o->api_key) {
        s->api_key = strdup(o->api_key);
        if (!s->api_key) goto nomem;
        s->api_key_len = strlen(s->api_key);
    }

    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        tcf_server_free(s);
        return tcf_fail(TCF_ERR_ARG, "cannot resolve --host %s: %s", host, gai_strerror(gai));
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (pthread_create(&s->batcher, NULL, batcher_main, s)) {
        freeaddrinfo(ai);
        tcf_server_free(s);
        return tcf_fail(TCF_ERR_NOMEM, "cannot start the batcher thread");
    }
    s->batcher_started = 1;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->connection_limit,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        tcf_server_free(s);
        return tcf_fail(TCF_ERR_IO, "cannot listen on %s:%d (address in use, or not this machine's?)",
                        host, o->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    *out = s;
    return TCF_OK;
nomem:
    tcf_server_free(s);
    return tcf_fail(TCF_ERR_NOMEM, "tcf_server_start: out of memory");
}

int tcf_server_port(const tcf_server *s) { return s ? s->port : 0; }

int tcf_server_shutdown(tcf_server *s, double grace_s) {
    if (!s || s->shut) return 0;
    s->shut = 1;
    atomic_store(&s->stopping, 1);
    if (s->d) {
        MHD_socket fd = MHD_quiesce_daemon(s->d);
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    double t0 = tcf_now();
    while (atomic_load(&s->inflight) > 0 && tcf_now() - t0 < grace_s) usleep(10000);
    int left = atomic_load(&s->inflight);
    if (s->batcher_started) {
        pthread_mutex_lock(&s->qlock);
        s->batcher_stop = 1;
        pthread_cond_broadcast(&s->qcond);
        pthread_mutex_unlock(&s->qlock);
        pthread_join(s->batcher, NULL); /* drains the queue: every suspended connection is resumed */
        s->batcher_started = 0;
    }
    if (s->d) MHD_stop_daemon(s->d);
    s->d = NULL;
    return left;
}

void tcf_server_free(tcf_server *s) {
    if (!s) return;
    tcf_server_shutdown(s, 0);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->m.lock);
    free(s->labels);
    free(s->api_key);
    free(s);
}
