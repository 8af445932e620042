/*
 * test_serve_parse.c — the request parser and result writer of `tcf serve`
 * (src/serve/request.c): accepted bodies, every rejection (status, status
 * code and the text index / byte offset named in the message), the limits,
 * and the exact JSON written for a result.
 */
#include "serve/server.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

static const tcf_serve_limits LIM = {4, 3, 5}; /* max_texts, default top_k, classes */

/* Parse a NUL-terminated body; returns the status. */
static tcf_status parse(const char *body, tcf_serve_request *r) {
    return tcf_serve_parse_request(body, strlen(body), &LIM, r);
}

/* The body must fail with `st` / `http` and a message containing `needle`. */
static void expect_fail(const char *body, size_t len, tcf_status st, int http, const char *needle) {
    tcf_serve_request r;
    tcf_status got = tcf_serve_parse_request(body, len, &LIM, &r);
    CHECK(got == st, "body %.60s: status %d, wanted %d (%s)", body, got, st, r.error);
    CHECK(r.http_status == http, "body %.60s: http %d, wanted %d", body, r.http_status, http);
    CHECK(strstr(r.error, needle) != NULL, "body %.60s: message '%s' lacks '%s'", body, r.error, needle);
    CHECK(strstr(tcf_last_error(), needle) != NULL, "tcf_last_error '%s' lacks '%s'", tcf_last_error(), needle);
    CHECK(r.n == 0 && r.texts == NULL && r.root_ == NULL, "body %.60s: failure left state behind", body);
    tcf_serve_request_free(&r); /* safe after a failure */
}
#define FAIL(body, st, http, needle) expect_fail(body, strlen(body), st, http, needle)

static void test_accepted(void) {
    tcf_serve_request r;
    CHECK(parse("{\"text\": \"I was charged twice\"}", &r) == TCF_OK, "%s", r.error);
    CHECK(r.n == 1 && r.batch == 0 && r.top_k == 3, "n %d batch %d top_k %d", r.n, r.batch, r.top_k);
    CHECK(!strcmp(r.texts[0], "I was charged twice") && r.lens[0] == 19, "text '%s' len %zu", r.texts[0], r.lens[0]);
    tcf_serve_request_free(&r);
    tcf_serve_request_free(&r); /* twice is safe */

    CHECK(parse(" \n{\"texts\": [\"a\", \"caf\\u00e9 \\ud83d\\ude00\", \"x\\ny\"], \"top_k\": 2}\r\n", &r) == TCF_OK,
          "%s", r.error);
    CHECK(r.n == 3 && r.batch == 1 && r.top_k == 2, "n %d batch %d top_k %d", r.n, r.batch, r.top_k);
    CHECK(!strcmp(r.texts[1], "caf\xc3\xa9 \xf0\x9f\x98\x80") && r.lens[1] == 10, "escapes decoded: '%s'", r.texts[1]);
    CHECK(!strcmp(r.texts[2], "x\ny"), "newline kept");
    tcf_serve_request_free(&r);

    /* top_k above the number of classes is clamped (as tcf predict --top) */
    CHECK(parse("{\"top_k\": 99, \"text\": \"hello\"}", &r) == TCF_OK && r.top_k == 5, "top_k %d", r.top_k);
    tcf_serve_request_free(&r);
    CHECK(parse("{\"text\": \"hello\", \"top_k\": 1.0}", &r) == TCF_OK && r.top_k == 1, "top_k 1.0 -> %d", r.top_k);
    tcf_serve_request_free(&r);
    /* exactly max_texts */
    CHECK(parse("{\"texts\": [\"a\", \"b\", \"c\", \"d\"]}", &r) == TCF_OK && r.n == 4, "4 texts: %s", r.error);
    tcf_serve_request_free(&r);
    /* the length bounds the parse: bytes after it are not read */
    const char *b = "{\"text\": \"ab\"}GARBAGE";
    CHECK(tcf_serve_parse_request(b, 14, &LIM, &r) == TCF_OK && !strcmp(r.texts[0], "ab"), "bounded: %s", r.error);
    tcf_serve_request_free(&r);
    /* a single space inside the text is fine; texts may hold any valid UTF-8 */
    CHECK(parse("{\"text\": \" x \"}", &r) == TCF_OK && r.lens[0] == 3, "%s", r.error);
    tcf_serve_request_free(&r);
}

static void test_rejected(void) {
    FAIL("", TCF_ERR_FORMAT, 400, "the body is empty");
    FAIL("  \r\n", TCF_ERR_FORMAT, 400, "the body is empty");
    FAIL("{", TCF_ERR_FORMAT, 400, "malformed JSON near byte");
    FAIL("{\"text\": \"abc}", TCF_ERR_FORMAT, 400, "malformed JSON");
    FAIL("{\"text\": 'abc'}", TCF_ERR_FORMAT, 400, "malformed JSON");
    FAIL("{\"text\": \"a\"} {}", TCF_ERR_FORMAT, 400, "unexpected bytes after the JSON value at byte 14");
    FAIL("[\"a\"]", TCF_ERR_FORMAT, 400, "the body is an array; expected a JSON object");
    FAIL("\"just a string\"", TCF_ERR_FORMAT, 400, "the body is a string");
    FAIL("{}", TCF_ERR_FORMAT, 400, "missing \"text\"");
    FAIL("{\"txt\": \"hello\"}", TCF_ERR_FORMAT, 400, "unknown key \"txt\"");
    FAIL("{\"text\": \"a\", \"text\": \"b\"}", TCF_ERR_FORMAT, 400, "key \"text\" given twice");
    FAIL("{\"text\": \"a\", \"texts\": [\"b\"]}", TCF_ERR_FORMAT, 400, "not both");
    FAIL("{\"text\": 5}", TCF_ERR_FORMAT, 400, "text is a number, not a string");
    FAIL("{\"text\": null}", TCF_ERR_FORMAT, 400, "text is null, not a string");
    FAIL("{\"text\": [\"a\"]}", TCF_ERR_FORMAT, 400, "text is an array, not a string");
    FAIL("{\"texts\": \"a\"}", TCF_ERR_FORMAT, 400, "\"texts\" is a string, not an array");
    FAIL("{\"texts\": []}", TCF_ERR_FORMAT, 400, "\"texts\" is empty");
    FAIL("{\"texts\": [\"a\", {\"b\": 1}]}", TCF_ERR_FORMAT, 400, "texts[1] is an object, not a string");
    FAIL("{\"text\": \"\"}", TCF_ERR_FORMAT, 400, "text is empty");
    FAIL("{\"texts\": [\"ok\", \" \\t\\n \"]}", TCF_ERR_FORMAT, 400, "texts[1] is empty (only white space)");
    FAIL("{\"text\": \"a\", \"top_k\": 0}", TCF_ERR_FORMAT, 400, "\"top_k\" must be an integer >= 1");
    FAIL("{\"text\": \"a\", \"top_k\": 2.5}", TCF_ERR_FORMAT, 400, "\"top_k\" must be an integer >= 1, got another number");
    FAIL("{\"text\": \"a\", \"top_k\": \"3\"}", TCF_ERR_FORMAT, 400, "got a string");
    FAIL("{\"text\": \"a\", \"top_k\": 1e300}", TCF_ERR_FORMAT, 400, "\"top_k\" must be an integer");
    FAIL("{\"text\": \"a\\u0000b\"}", TCF_ERR_FORMAT, 400, "\\u0000");
    FAIL("{\"text\": \"\\ud800\"}", TCF_ERR_FORMAT, 400, "malformed JSON"); /* lone surrogate */
    /* \\u0000 is an escaped backslash then plain text: fine */
    tcf_serve_request r;
    CHECK(parse("{\"text\": \"a\\\\u0000b\"}", &r) == TCF_OK && !strcmp(r.texts[0], "a\\u0000b"), "%s", r.error);
    tcf_serve_request_free(&r);
    /* unknown keys are shown as printable ASCII only */
    FAIL("{\"t\x01\xff\": 1}", TCF_ERR_FORMAT, 400, "unknown key \"t??\"");
}

static void test_utf8(void) {
    /* raw invalid bytes inside the JSON string: named by text index and byte offset */
    FAIL("{\"text\": \"ab\xff\"}", TCF_ERR_UTF8, 400, "text: invalid UTF-8 at byte 2 of the text");
    FAIL("{\"texts\": [\"fine\", \"caf\xc3\xa9 \xc0\xaf\"]}", TCF_ERR_UTF8, 400, "texts[1]: invalid UTF-8 at byte 6");
    FAIL("{\"text\": \"\xed\xa0\x80\"}", TCF_ERR_UTF8, 400, "invalid UTF-8 at byte 0"); /* encoded surrogate */
    FAIL("{\"text\": \"x\xf4\x90\x80\x80\"}", TCF_ERR_UTF8, 400, "invalid UTF-8 at byte 1"); /* past U+10FFFF */
    FAIL("{\"text\": \"\xe2\x82\"}", TCF_ERR_UTF8, 400, "invalid UTF-8 at byte 0");          /* cut short */
}

static void test_limits(void) {
    FAIL("{\"texts\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", TCF_ERR_ARG, 413,
         "\"texts\" has 5 entries, over the limit of 4 per request");
    /* 100k texts: 413 with the real count, no per-text work */
    int n = 100000;
    size_t cap = (size_t)n * 6 + 32, len = 0;
    char *b = malloc(cap);
    len += (size_t)sprintf(b, "{\"texts\": [");
    for (int i = 0; i < n; i++) len += (size_t)sprintf(b + len, i ? ",\"t%d\"" : "\"t%d\"", i % 10);
    len += (size_t)sprintf(b + len, "]}");
    expect_fail(b, len, TCF_ERR_ARG, 413, "\"texts\" has 100000 entries, over the limit of 4");
    free(b);
    /* nesting 100k deep must not overflow the stack (cJSON caps depth) */
    n = 100000;
    b = malloc((size_t)n * 2 + 16);
    len = (size_t)sprintf(b, "{\"text\": ");
    memset(b + len, '[', (size_t)n), len += (size_t)n;
    memset(b + len, ']', (size_t)n), len += (size_t)n;
    b[len++] = '}';
    expect_fail(b, len, TCF_ERR_FORMAT, 400, "malformed JSON");
    free(b);
}

static void test_format(void) {
    const char *labels[] = {"billing", "say \"hi\"", "tab\there", "refund", "other"};
    const float p[] = {0.10f, 0.30f, 0.05f, 0.30f, 0.25f};
    char *b = NULL;
    size_t len = 0, cap = 0;
    CHECK(tcf_serve_format_result(p, 5, labels, 3, 0, -1, &b, &len, &cap) == 0, "format");
    const char *want = "{\"label\": \"say \\\"hi\\\"\", \"score\": 0.300000012, \"top\": [[\"say \\\"hi\\\"\", 0.300000012], "
                       "[\"refund\", 0.300000012], [\"other\", 0.25]], \"truncated\": false}";
    CHECK(len == strlen(b) && !strcmp(b, want), "got  %s\nwant %s", b, want);
    len = 0;
    CHECK(tcf_serve_format_result(p, 5, labels, 9, 1, 0.35, &b, &len, &cap) == 0, "format");
    CHECK(strstr(b, "[\"tab\\u0009here\", 0.0500000007]]") != NULL, "top_k clamped to K, control escaped: %s", b);
    CHECK(strstr(b, "\"truncated\": true, \"abstain\": true}") != NULL, "truncated + abstain: %s", b);
    len = 0;
    CHECK(tcf_serve_format_result(p, 5, labels, 1, 0, 0.3, &b, &len, &cap) == 0, "format");
    CHECK(strstr(b, "\"top\": [[\"say \\\"hi\\\"\", 0.300000012]], \"truncated\": false, \"abstain\": false}") != NULL,
          "abstain false at exactly the threshold (0.3f >= 0.3): %s", b);
    /* appends to what is there */
    size_t before = len;
    CHECK(tcf_serve_buf_printf(&b, &len, &cap, ", %d", 7) == 0 && len == before + 3 && !strcmp(b + before, ", 7"),
          "append");
    free(b);
}

int main(void) {
    test_accepted();
    test_rejected();
    test_utf8();
    test_limits();
    test_format();
    return check_summary("test_serve_parse");
}
