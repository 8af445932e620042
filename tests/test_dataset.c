/*
 * test_dataset.c — the labelled-dataset layer (src/io/dataset.h): CSV and JSON
 * Lines loading (BOM, CRLF, quoted fields, unicode escapes, string and integer
 * labels, format sniffing), every error case with its path:line, the label
 * order rule, label sets given for validation files, the stratified split
 * (sizes, disjointness, union, determinism), the summary, and every shared
 * and demo dataset file.
 */
#include "io/dataset.h"

#include "base/base.h"
#include "check.h"

#include <string.h>
#include <unistd.h>

/* Valid lines of the seed-42 split in test_split. */
#define GOLDEN_SPLIT_42 "2,9,12,18"

static char dir[] = "/tmp/tcf_test_datasetXXXXXX";
static char cur[512]; /* path of the file last written */

static const char *put(const char *name, const char *bytes, size_t n) {
    snprintf(cur, sizeof cur, "%s/%s", dir, name);
    FILE *f = fopen(cur, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
    return cur;
}

static tcf_dataset *load_ok(const char *what, const char *name, const char *bytes, const tcf_labels *labels,
                            int n) {
    tcf_dataset *ds = NULL;
    tcf_status st = tcf_dataset_load(put(name, bytes, strlen(bytes)), labels, &ds);
    CHECK(st == TCF_OK && ds, "%s: %s", what, tcf_last_error());
    if (ds) CHECK(tcf_dataset_count(ds) == n, "%s: %d examples, want %d", what, tcf_dataset_count(ds), n);
    return ds;
}

/* The load fails with `want` and a message holding "<path><needle>". */
static void expect_bad_n(const char *what, const char *name, const char *bytes, size_t n, const tcf_labels *labels,
                         tcf_status want, const char *needle) {
    tcf_dataset *ds = NULL;
    tcf_status st = tcf_dataset_load(put(name, bytes, n), labels, &ds);
    char expect[768];
    snprintf(expect, sizeof expect, "%s%s", cur, needle);
    CHECK(st == want && !ds && strstr(tcf_last_error(), expect), "%s: status %d '%s' (want '%s')", what, st,
          tcf_last_error(), expect);
    tcf_dataset_free(ds);
}

static void expect_bad(const char *what, const char *name, const char *bytes, const tcf_labels *labels,
                       tcf_status want, const char *needle) {
    expect_bad_n(what, name, bytes, strlen(bytes), labels, want, needle);
}

/* Label names of ds joined by '|'. */
static const char *label_list(const tcf_dataset *ds, char *buf, size_t cap) {
    const tcf_labels *l = tcf_dataset_labels(ds);
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < tcf_labels_count(l) && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", k ? "|" : "", tcf_labels_name(l, k));
    return buf;
}

static const char *label_of(const tcf_dataset *ds, int i) {
    return tcf_labels_name(tcf_dataset_labels(ds), tcf_dataset_label(ds, i));
}

static void test_csv_valid(void) {
    char buf[256];
    tcf_dataset *ds = load_ok("BOM + CRLF", "a.csv", "\xEF\xBB\xBFtext,label\r\nhello,b\r\nworld,a\r\n", NULL, 2);
    if (ds) {
        CHECK(!strcmp(label_list(ds, buf, sizeof buf), "a|b"), "labels %s", buf);
        CHECK(!strcmp(tcf_dataset_text(ds, 0), "hello") && tcf_dataset_text_len(ds, 0) == 5, "text 0");
        CHECK(tcf_dataset_label(ds, 0) == 1 && tcf_dataset_label(ds, 1) == 0, "label ids");
        CHECK(tcf_dataset_line(ds, 0) == 2 && tcf_dataset_line(ds, 1) == 3, "lines %d %d", tcf_dataset_line(ds, 0),
              tcf_dataset_line(ds, 1));
        CHECK(!strcmp(tcf_dataset_path(ds), cur), "path %s", tcf_dataset_path(ds));
        CHECK(tcf_dataset_texts(ds)[1] == tcf_dataset_text(ds, 1) && tcf_dataset_text_lens(ds)[1] == 5 &&
                  tcf_dataset_label_ids(ds)[1] == 0,
              "array accessors");
    }
    tcf_dataset_free(ds);

    /* Extra columns in any order, quoted commas and line ends: lines stay right. */
    ds = load_ok("quoted fields, extra columns", "b.csv",
                 "id,label,text,note\n1,x,\"a, b\",n\n2,y,\"line1\nline2\",n\n3,x,\"say \"\"hi\"\"\",n\n4,y,last,n", NULL, 4);
    if (ds) {
        CHECK(!strcmp(tcf_dataset_text(ds, 0), "a, b"), "text 0 '%s'", tcf_dataset_text(ds, 0));
        CHECK(!strcmp(tcf_dataset_text(ds, 1), "line1\nline2"), "text 1 '%s'", tcf_dataset_text(ds, 1));
        CHECK(!strcmp(tcf_dataset_text(ds, 2), "say \"hi\""), "text 2 '%s'", tcf_dataset_text(ds, 2));
        int want[] = {2, 3, 5, 6};
        for (int i = 0; i < 4; i++)
            CHECK(tcf_dataset_line(ds, i) == want[i], "row %d line %d want %d", i, tcf_dataset_line(ds, i), want[i]);
        CHECK(!strcmp(label_of(ds, 3), "y"), "label 3");
    }
    tcf_dataset_free(ds);

    /* A CSV under an unknown extension is sniffed as CSV. */
    ds = load_ok("sniffed CSV", "c.data", "text,label\nx,1\ny,0\n", NULL, 2);
    tcf_dataset_free(ds);
}

static void test_jsonl_valid(void) {
    char buf[256];
    tcf_dataset *ds = load_ok("JSONL escapes, BOM, CRLF, trailing blank lines", "a.jsonl",
                              "\xEF\xBB\xBF{\"text\": \"caf\\u00e9 \\ud83d\\ude00\", \"label\": \"pos\"}\r\n"
                              "{\"label\": \"neg\", \"id\": 7, \"text\": \"tab\\there \\\"q\\\" \xC3\xA9\"}\r\n"
                              "{\"text\": \"multi\\nline\", \"label\": \"neg\", \"meta\": {\"a\": [1, 2]}}\r\n"
                              "\r\n  \n\n",
                              NULL, 3);
    if (ds) {
        CHECK(!strcmp(tcf_dataset_text(ds, 0), "caf\xC3\xA9 \xF0\x9F\x98\x80"), "escaped text '%s'",
              tcf_dataset_text(ds, 0));
        CHECK(tcf_dataset_text_len(ds, 0) == 10, "len %zu", tcf_dataset_text_len(ds, 0));
        CHECK(!strcmp(tcf_dataset_text(ds, 1), "tab\there \"q\" \xC3\xA9"), "text 1 '%s'", tcf_dataset_text(ds, 1));
        CHECK(!strcmp(tcf_dataset_text(ds, 2), "multi\nline"), "text 2");
        CHECK(!strcmp(label_list(ds, buf, sizeof buf), "neg|pos"), "labels %s", buf);
        CHECK(tcf_dataset_line(ds, 2) == 3, "line %d", tcf_dataset_line(ds, 2));
    }
    tcf_dataset_free(ds);

    /* Integer labels are names "N", ordered numerically; 3 and "3" are one label. */
    ds = load_ok("integer labels", "b.jsonl",
                 "{\"text\": \"a\", \"label\": 10}\n{\"text\": \"b\", \"label\": 2}\n{\"text\": \"c\", \"label\": \"0\"}\n"
                 "{\"text\": \"d\", \"label\": 2.0}\n{\"text\": \"e\", \"label\": \"2\"}\n{\"text\": \"f\", \"label\": 1}\n",
                 NULL, 6);
    if (ds) {
        CHECK(!strcmp(label_list(ds, buf, sizeof buf), "0|1|2|10"), "labels %s", buf);
        CHECK(tcf_dataset_label(ds, 1) == 2 && tcf_dataset_label(ds, 3) == 2 && tcf_dataset_label(ds, 4) == 2,
              "2, 2.0 and \"2\" are one label");
        CHECK(tcf_dataset_label(ds, 0) == 3, "10 is index 3");
    }
    tcf_dataset_free(ds);
    ds = load_ok("negative integer labels", "c.jsonl",
                 "{\"text\": \"a\", \"label\": -1}\n{\"text\": \"b\", \"label\": 1}\n{\"text\": \"c\", \"label\": 0}\n", NULL, 3);
    if (ds) CHECK(!strcmp(label_list(ds, buf, sizeof buf), "-1|0|1"), "labels %s", buf);
    tcf_dataset_free(ds);

    /* Byte order when any label is not a canonical integer. */
    ds = load_ok("string labels byte order", "d.jsonl",
                 "{\"text\": \"a\", \"label\": \"b\"}\n{\"text\": \"b\", \"label\": \"B\"}\n{\"text\": \"c\", \"label\": \"a\"}\n"
                 "{\"text\": \"d\", \"label\": \"10\"}\n{\"text\": \"e\", \"label\": \"9\"}\n",
                 NULL, 5);
    if (ds) CHECK(!strcmp(label_list(ds, buf, sizeof buf), "10|9|B|a|b"), "labels %s", buf);
    tcf_dataset_free(ds);
    ds = load_ok("leading zero is not canonical", "e.csv", "text,label\na,01\nb,2\nc,10\n", NULL, 3);
    if (ds) CHECK(!strcmp(label_list(ds, buf, sizeof buf), "01|10|2"), "labels %s", buf);
    tcf_dataset_free(ds);
    ds = load_ok("CSV numeric labels", "f.csv", "text,label\na,10\nb,2\nc,0\nd,1\n", NULL, 4);
    if (ds) CHECK(!strcmp(label_list(ds, buf, sizeof buf), "0|1|2|10"), "labels %s", buf);
    tcf_dataset_free(ds);

    /* Unknown extension, JSONL content (leading white space): sniffed. */
    ds = load_ok("sniffed JSONL", "g.txt", " \t{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"}", NULL,
                 2);
    if (ds) CHECK(tcf_dataset_line(ds, 1) == 2, "line %d", tcf_dataset_line(ds, 1));
    tcf_dataset_free(ds);
    ds = load_ok(".ndjson", "h.NDJSON", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"}\n", NULL, 2);
    tcf_dataset_free(ds);
}

static void test_errors(void) {
    /* CSV */
    expect_bad("CSV empty file", "e.csv", "", NULL, TCF_ERR_FORMAT, ": empty file");
    expect_bad("CSV header only", "e.csv", "text,label\n", NULL, TCF_ERR_FORMAT, ": no examples");
    expect_bad("CSV misspelt header", "e.csv", "txt,label\na,b\n", NULL, TCF_ERR_FORMAT,
               ":1: the header has no column \"text\" (found \"txt\", \"label\"; expected \"text\" and \"label\"");
    expect_bad("CSV no label column", "e.csv", "text,lable,x\na,b,c\n", NULL, TCF_ERR_FORMAT,
               ":1: the header has no column \"label\" (found \"text\", \"lable\", \"x\"");
    expect_bad("CSV neither column", "e.csv", "a,b\n1,2\n", NULL, TCF_ERR_FORMAT, ":1: the header has no columns \"text\" and \"label\"");
    expect_bad("CSV header case", "e.csv", "Text,Label\na,b\n", NULL, TCF_ERR_FORMAT,
               ":1: the header has no columns \"text\" and \"label\" (found \"Text\", \"Label\"; expected \"text\" and "
               "\"label\", names are case-sensitive");
    expect_bad("CSV empty text", "e.csv", "text,label\na,x\n,y\n", NULL, TCF_ERR_FORMAT, ":3: text is empty");
    expect_bad("CSV blank text", "e.csv", "text,label\na,x\n\" \t \",y\n", NULL, TCF_ERR_FORMAT,
               ":3: text is empty (only white space)");
    expect_bad("CSV empty label", "e.csv", "text,label\r\na,x\r\n\"multi\r\nline\",y\r\nb,\r\n", NULL, TCF_ERR_FORMAT,
               ":5: label is empty");
    expect_bad("CSV invalid UTF-8", "e.csv", "text,label\na,x\nb\xC3(,y\n", NULL, TCF_ERR_UTF8, ":3: invalid UTF-8");
    expect_bad("CSV one class", "e.csv", "text,label\na,x\nb,x\n", NULL, TCF_ERR_FORMAT, ": every one of the 2 examples has the label \"x\": a classifier needs at least 2 classes");
    expect_bad("CSV ragged (from the reader)", "e.csv", "text,label\na,x\nb\n", NULL, TCF_ERR_FORMAT, ":3: 1 fields");
    /* JSONL */
    expect_bad("JSONL empty file", "e.jsonl", "", NULL, TCF_ERR_FORMAT, ": empty file");
    expect_bad("JSONL only blank lines", "e.jsonl", "\n \r\n\n", NULL, TCF_ERR_FORMAT, ": empty file");
    expect_bad("JSONL blank line inside", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": \"b\", \"label\": \"y\"}\n",
               NULL, TCF_ERR_FORMAT, ":2: blank line");
    expect_bad("JSONL invalid JSON", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\" \"label\": \"y\"}\n", NULL,
               TCF_ERR_FORMAT, ":2: invalid JSON (column 14)");
    expect_bad("JSONL trailing junk", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"} x\n", NULL, TCF_ERR_FORMAT,
               ":1: invalid JSON");
    expect_bad("JSONL two objects on a line", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}{\"text\": \"b\", \"label\": \"y\"}\n",
               NULL, TCF_ERR_FORMAT, ":1: invalid JSON");
    expect_bad("JSONL not an object", "e.jsonl", "\"hello\"\n", NULL, TCF_ERR_FORMAT, ":1: expected a JSON object");
    expect_bad("JSONL missing text", "e.jsonl", "{\"txt\": \"a\", \"label\": \"x\"}\n", NULL, TCF_ERR_FORMAT,
               ":1: missing key \"text\"");
    expect_bad("JSONL missing label", "e.jsonl", "{\"text\": \"a\", \"Label\": \"x\"}\n", NULL, TCF_ERR_FORMAT,
               ":1: missing key \"label\"");
    expect_bad("JSONL duplicate key", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\", \"label\": \"y\"}\n", NULL, TCF_ERR_FORMAT,
               ":1: key \"label\" appears twice");
    expect_bad("JSONL text not a string", "e.jsonl", "{\"text\": 5, \"label\": \"x\"}\n", NULL, TCF_ERR_FORMAT,
               ":1: \"text\" must be a string");
    expect_bad("JSONL label bool", "e.jsonl", "{\"text\": \"a\", \"label\": true}\n", NULL, TCF_ERR_FORMAT,
               ":1: \"label\" must be a string or an integer");
    expect_bad("JSONL label null", "e.jsonl", "{\"text\": \"a\", \"label\": null}\n", NULL, TCF_ERR_FORMAT,
               ":1: \"label\" must be a string or an integer");
    expect_bad("JSONL label list", "e.jsonl", "{\"text\": \"a\", \"label\": [\"x\"]}\n", NULL, TCF_ERR_FORMAT,
               ":1: \"label\" must be a string or an integer");
    expect_bad("JSONL label fraction", "e.jsonl", "{\"text\": \"a\", \"label\": 1.5}\n", NULL, TCF_ERR_FORMAT,
               ":1: \"label\" is a number but not an integer");
    expect_bad("JSONL label huge", "e.jsonl", "{\"text\": \"a\", \"label\": 1e300}\n", NULL, TCF_ERR_FORMAT,
               ":1: \"label\" is a number but not an integer");
    expect_bad("JSONL empty text", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"\", \"label\": \"y\"}\n", NULL,
               TCF_ERR_FORMAT, ":2: text is empty");
    expect_bad("JSONL empty label", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \" \"}\n", NULL,
               TCF_ERR_FORMAT, ":2: label is empty");
    expect_bad("JSONL invalid UTF-8", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\xFF\", \"label\": \"y\"}\n",
               NULL, TCF_ERR_UTF8, ":2: invalid UTF-8");
    expect_bad("JSONL overlong UTF-8", "e.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"\xC0\xAF\", \"label\": \"y\"}\n",
               NULL, TCF_ERR_UTF8, ":2: invalid UTF-8");
    expect_bad("JSONL lone surrogate escape", "e.jsonl", "{\"text\": \"a\\udc00\", \"label\": \"x\"}\n", NULL, TCF_ERR_FORMAT,
               ":1: invalid JSON");
    expect_bad("JSONL \\u0000", "e.jsonl", "{\"text\": \"a\\u0000b\", \"label\": \"x\"}\n", NULL, TCF_ERR_FORMAT,
               ":1: the escape \\u0000 is not allowed");
    static const char nul[] = "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"a\0b\", \"label\": \"y\"}\n";
    expect_bad_n("JSONL NUL byte", "e.jsonl", nul, sizeof nul - 1, NULL, TCF_ERR_FORMAT, ":2: NUL byte");
    expect_bad("JSONL one class", "e.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"1\"}\n", NULL,
               TCF_ERR_FORMAT, ": every one of the 2 examples has the label \"1\": a classifier needs at least 2 classes");
    expect_bad("JSON array", "e.json", "[{\"text\": \"a\", \"label\": \"x\"}]\n", NULL, TCF_ERR_UNSUPPORTED,
               ":1: starts with '[': a JSON array is not supported");

    /* An escaped backslash before "u0000" is just text. */
    tcf_dataset *ds = load_ok("escaped backslash then u0000", "ok.jsonl",
                              "{\"text\": \"a\\\\u0000\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"y\"}\n", NULL, 2);
    if (ds) CHECK(!strcmp(tcf_dataset_text(ds, 0), "a\\u0000"), "text '%s'", tcf_dataset_text(ds, 0));
    tcf_dataset_free(ds);

    tcf_dataset *missing = NULL;
    CHECK(tcf_dataset_load("/nonexistent/x.csv", NULL, &missing) == TCF_ERR_IO &&
              strstr(tcf_last_error(), "/nonexistent/x.csv"),
          "missing file: %s", tcf_last_error());
    CHECK(tcf_dataset_load("/nonexistent/x.jsonl", NULL, &missing) == TCF_ERR_IO &&
              strstr(tcf_last_error(), "/nonexistent/x.jsonl"),
          "missing file: %s", tcf_last_error());
    CHECK(tcf_dataset_load("/nonexistent/x", NULL, &missing) == TCF_ERR_IO, "missing file: %s", tcf_last_error());
}

static void test_labels(void) {
    const char *names[] = {"b", "a", "c"};
    tcf_labels *l = NULL;
    CHECK(tcf_labels_from_names(names, 3, &l) == TCF_OK && l, "%s", tcf_last_error());
    if (l) {
        CHECK(tcf_labels_count(l) == 3 && !strcmp(tcf_labels_name(l, 0), "b"), "order kept");
        CHECK(tcf_labels_index(l, "a") == 1 && tcf_labels_index(l, "b") == 0 && tcf_labels_index(l, "c") == 2,
              "index");
        CHECK(tcf_labels_index(l, "d") == -1 && tcf_labels_index(l, "") == -1 && tcf_labels_index(l, "A") == -1,
              "absent");
        CHECK(tcf_labels_names(l)[2] != names[2] && !strcmp(tcf_labels_names(l)[2], "c"), "names are copies");
    }
    /* A given label set: unseen label is an error naming file:line and label;
     * classes absent from the file stay in the set. */
    tcf_dataset *ds = load_ok("valid with given labels", "v.csv", "text,label\nx,c\ny,c\n", l, 2);
    if (ds) {
        CHECK(tcf_labels_count(tcf_dataset_labels(ds)) == 3 && tcf_dataset_label(ds, 0) == 2, "given label set");
        int counts[3];
        tcf_dataset_class_counts(ds, counts);
        CHECK(counts[0] == 0 && counts[1] == 0 && counts[2] == 2, "counts %d %d %d", counts[0], counts[1], counts[2]);
    }
    tcf_dataset_free(ds);
    expect_bad("unseen label CSV", "v.csv", "text,label\nx,a\ny,zzz\n", l, TCF_ERR_FORMAT,
               ":3: label \"zzz\" is not one of the 3 training labels");
    expect_bad("unseen label JSONL", "v.jsonl", "{\"text\": \"x\", \"label\": \"a\"}\n{\"text\": \"y\", \"label\": 7}\n", l,
               TCF_ERR_FORMAT, ":2: label \"7\" is not one of the 3 training labels");
    tcf_labels_free(l);

    const char *dup[] = {"a", "b", "a"}, *empty[] = {"a", ""};
    l = NULL;
    CHECK(tcf_labels_from_names(dup, 3, &l) == TCF_ERR_ARG && !l && strstr(tcf_last_error(), "\"a\" appears twice"),
          "dup: %s", tcf_last_error());
    CHECK(tcf_labels_from_names(empty, 2, &l) == TCF_ERR_ARG && !l, "empty name");
    CHECK(tcf_labels_from_names(names, 0, &l) == TCF_ERR_ARG && !l, "no names");
    tcf_labels_free(NULL);
    tcf_dataset_free(NULL);

    /* Train set built from the data, then a valid file loaded with it; the
     * valid set outlives the train set. */
    tcf_dataset *tr = load_ok("train", "t.jsonl",
                              "{\"text\": \"a\", \"label\": \"neg\"}\n{\"text\": \"b\", \"label\": \"pos\"}\n", NULL, 2);
    tcf_dataset *va = tr ? load_ok("valid", "v2.csv", "text,label\nc,pos\n", tcf_dataset_labels(tr), 1) : NULL;
    tcf_dataset_free(tr);
    if (va) CHECK(!strcmp(label_of(va, 0), "pos") && tcf_dataset_label(va, 0) == 1, "valid label");
    tcf_dataset_free(va);
}

/* Rows "t<i>,<label i>" written in a shuffled order give the same label set. */
static void test_label_order_independence(void) {
    enum { N = 60 };
    const char *labs[] = {"weather", "Alarm", "book_flight", "alarm", "\xC3\xA9t\xC3\xA9", "zz", "b-2", "b_1"};
    int order[N];
    for (int i = 0; i < N; i++) order[i] = i;
    char first[1024] = "", list[1024];
    for (int trial = 0; trial < 4; trial++) {
        uint64_t rng = 1000 + (uint64_t)trial;
        if (trial) tcf_shuffle_int(order, N, &rng);
        char csv[4096];
        size_t used = (size_t)snprintf(csv, sizeof csv, "text,label\n");
        for (int i = 0; i < N; i++)
            used += (size_t)snprintf(csv + used, sizeof csv - used, "t%d,%s\n", order[i], labs[order[i] % 8]);
        tcf_dataset *ds = load_ok("shuffled rows", "s.csv", csv, NULL, N);
        if (!ds) continue;
        label_list(ds, list, sizeof list);
        if (!trial) {
            strcpy(first, list);
            CHECK(!strcmp(list, "Alarm|alarm|b-2|b_1|book_flight|weather|zz|\xC3\xA9t\xC3\xA9"), "byte order: %s", list);
        }
        CHECK(!strcmp(list, first), "trial %d: %s vs %s", trial, list, first);
        for (int i = 0; i < N; i++) {
            int id = atoi(tcf_dataset_text(ds, i) + 1);
            CHECK(!strcmp(label_of(ds, i), labs[id % 8]), "row %d label", i);
        }
        tcf_dataset_free(ds);
    }
}

/* Sorted source lines of ds into out; returns the count. */
static int lines_of(const tcf_dataset *ds, int *out) {
    int n = tcf_dataset_count(ds);
    for (int i = 0; i < n; i++) out[i] = tcf_dataset_line(ds, i);
    return n;
}

static void test_split(void) {
    /* splitmix64 reference outputs for seed 0 (Vigna's splitmix64.c). */
    uint64_t s = 0;
    uint64_t r0 = tcf_splitmix64(&s), r1 = tcf_splitmix64(&s), r2 = tcf_splitmix64(&s);
    CHECK(r0 == 0xE220A8397B1DCDAFull && r1 == 0x6E789E6AA1B965F4ull && r2 == 0x06C45D188009454Full,
          "splitmix64(0): %016llx %016llx %016llx", (unsigned long long)r0, (unsigned long long)r1,
          (unsigned long long)r2);

    /* Classes: A x10, B x5, C x2, D x1, interleaved. */
    char csv[2048];
    size_t used = (size_t)snprintf(csv, sizeof csv, "text,label\n");
    const char *cls = "AAAAAAAAAABBBBBCCD";
    int n = (int)strlen(cls);
    for (int i = 0; i < n; i++) {
        int j = (i * 7) % n; /* 7 and 18 are coprime: a permutation */
        used += (size_t)snprintf(csv + used, sizeof csv - used, "row%d,%c\n", j, cls[j]);
    }
    tcf_dataset *ds = load_ok("split source", "split.csv", csv, NULL, n);
    if (!ds) return;
    tcf_dataset *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL, *tr3 = NULL, *va3 = NULL;
    CHECK(tcf_dataset_split_stratified(ds, 0.2, 42, &tr, &va) == TCF_OK && tr && va, "%s", tcf_last_error());
    if (!tr || !va) goto out;
    int ct[4], cv[4];
    tcf_dataset_class_counts(tr, ct);
    tcf_dataset_class_counts(va, cv);
    /* v = round(0.2 c), at least 1 if c >= 2, capped at c - 1; 0 if c == 1. */
    CHECK(cv[0] == 2 && cv[1] == 1 && cv[2] == 1 && cv[3] == 0, "valid per class %d %d %d %d", cv[0], cv[1], cv[2], cv[3]);
    CHECK(ct[0] == 8 && ct[1] == 4 && ct[2] == 1 && ct[3] == 1, "train per class %d %d %d %d", ct[0], ct[1], ct[2], ct[3]);
    CHECK(tcf_labels_count(tcf_dataset_labels(tr)) == 4 && tcf_labels_count(tcf_dataset_labels(va)) == 4 &&
              !strcmp(tcf_labels_name(tcf_dataset_labels(va), 3), "D"),
          "both keep the full label set");
    /* Disjoint, union = original: every source line exactly once. */
    int seen[64] = {0}, lines[64];
    int k = lines_of(tr, lines);
    for (int i = 0; i < k; i++) seen[lines[i]]++;
    k = lines_of(va, lines);
    for (int i = 0; i < k; i++) seen[lines[i]]++;
    int once = 0;
    for (int l = 2; l < 2 + n; l++) once += seen[l] == 1;
    CHECK(once == n && tcf_dataset_count(tr) + tcf_dataset_count(va) == n, "%d of %d lines exactly once", once, n);
    /* Texts and labels travel with their lines; file order is kept. */
    for (int i = 0; i < tcf_dataset_count(va); i++) {
        int j = tcf_dataset_line(va, i) - 2;
        CHECK(!strcmp(tcf_dataset_text(va, i), tcf_dataset_text(ds, j)) && tcf_dataset_label(va, i) == tcf_dataset_label(ds, j),
              "valid row %d", i);
        if (i) CHECK(tcf_dataset_line(va, i) > tcf_dataset_line(va, i - 1), "file order");
    }
    /* Golden valid lines for seed 42: the split must not change across
     * machines or versions (update only with a documented reason). */
    char got[256] = "";
    used = 0;
    for (int i = 0; i < tcf_dataset_count(va); i++)
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%d", i ? "," : "", tcf_dataset_line(va, i));
    printf("  split seed 42, valid lines: %s\n", got);
    CHECK(!strcmp(got, GOLDEN_SPLIT_42), "golden split: %s vs %s", got, GOLDEN_SPLIT_42);
    /* Same seed, same split; other seeds differ. */
    CHECK(tcf_dataset_split_stratified(ds, 0.2, 42, &tr2, &va2) == TCF_OK, "%s", tcf_last_error());
    int same = tr2 && va2 && tcf_dataset_count(va2) == tcf_dataset_count(va);
    for (int i = 0; same && i < tcf_dataset_count(va); i++) same = tcf_dataset_line(va, i) == tcf_dataset_line(va2, i);
    CHECK(same, "seed 42 twice gives the same split");
    CHECK(tcf_dataset_split_stratified(ds, 0.2, 43, &tr3, &va3) == TCF_OK, "%s", tcf_last_error());
    int differ = 0;
    for (int i = 0; va3 && i < tcf_dataset_count(va3); i++) differ |= tcf_dataset_line(va, i) != tcf_dataset_line(va3, i);
    CHECK(differ, "seed 43 gives another split");
    /* Bad fractions. */
    tcf_dataset *a = NULL, *b = NULL;
    CHECK(tcf_dataset_split_stratified(ds, 0.0, 1, &a, &b) == TCF_ERR_ARG && !a && !b, "fraction 0");
    CHECK(tcf_dataset_split_stratified(ds, 1.0, 1, &a, &b) == TCF_ERR_ARG && !a && !b, "fraction 1");
    CHECK(tcf_dataset_split_stratified(ds, NAN, 1, &a, &b) == TCF_ERR_ARG && !a && !b, "fraction NaN");
    int bad_idx[] = {0, 99};
    CHECK(tcf_dataset_subset(ds, bad_idx, 2, &a) == TCF_ERR_ARG && !a, "subset out of range");
    int sub_idx[] = {3, 3, 0};
    CHECK(tcf_dataset_subset(ds, sub_idx, 3, &a) == TCF_OK && a && tcf_dataset_count(a) == 3 &&
              !strcmp(tcf_dataset_text(a, 1), tcf_dataset_text(ds, 3)) && tcf_dataset_line(a, 2) == 2,
          "subset");
    tcf_dataset_free(a);
    /* A large fraction still leaves one example of each class in train. */
    CHECK(tcf_dataset_split_stratified(ds, 0.99, 7, &a, &b) == TCF_OK, "%s", tcf_last_error());
    if (a) {
        tcf_dataset_class_counts(a, ct);
        CHECK(ct[0] == 1 && ct[1] == 1 && ct[2] == 1 && ct[3] == 1, "0.99: train %d %d %d %d", ct[0], ct[1], ct[2], ct[3]);
    }
    tcf_dataset_free(a), tcf_dataset_free(b);
out:
    tcf_dataset_free(tr), tcf_dataset_free(va), tcf_dataset_free(tr2), tcf_dataset_free(va2);
    tcf_dataset_free(tr3), tcf_dataset_free(va3);
    tcf_dataset_free(ds);
}

static void test_summary(void) {
    tcf_dataset *ds = load_ok("summary", "sum.csv", "text,label\nhello,b\nab,a\nabcd,b\nx,c\n", NULL, 4);
    if (!ds) return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tcf_dataset_summary(ds, f);
    fclose(f);
    CHECK(strstr(buf, ": 4 examples, 3 classes\n") != NULL, "summary:\n%s", buf);
    CHECK(strstr(buf, "min 1, median 2, max 5") != NULL, "lengths:\n%s", buf);
    const char *pb = strstr(buf, "2  b\n"), *pa = strstr(buf, "1  a\n"), *pc = strstr(buf, "1  c\n");
    CHECK(pb && pa && pc && pb < pa && pa < pc, "classes by count, ties in label order:\n%s", buf);
    free(buf);
    tcf_dataset_free(ds);
}

/* Every shared dataset (train builds the label set, valid/test use it) and the
 * demo set load cleanly. */
static void test_real_data(void) {
    const char *root = getenv("TCF_SHARED_DATA") ? getenv("TCF_SHARED_DATA") : "../shared/data";
    const char *sets[] = {"banking77", "clinc150", "clinc150_domain", "clinc150_oos", "snips_slotgated", "trec_coarse", "trec_fine", NULL};
    const char *splits[] = {"train", "valid", "test"};
    int files = 0;
    for (int s = 0; s < 8; s++) { /* sets[7] == NULL: the demo set */
        char dir_path[512];
        if (sets[s]) snprintf(dir_path, sizeof dir_path, "%s/%s", root, sets[s]);
        else snprintf(dir_path, sizeof dir_path, "data/demo");
        tcf_dataset *train = NULL;
        for (int k = 0; k < 3; k++) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s.csv", dir_path, splits[k]);
            if (!tcf_file_exists(p)) {
                CHECK(k > 0, "%s missing", p);
                continue;
            }
            tcf_dataset *ds = NULL;
            tcf_status st = tcf_dataset_load(p, k ? (train ? tcf_dataset_labels(train) : NULL) : NULL, &ds);
            CHECK(st == TCF_OK && ds, "%s: %s", p, tcf_last_error());
            if (!ds) continue;
            int K = tcf_labels_count(tcf_dataset_labels(ds)), *counts = calloc((size_t)K, sizeof(int)), present = 0;
            tcf_dataset_class_counts(ds, counts);
            for (int c = 0; c < K; c++) present += counts[c] > 0;
            free(counts);
            printf("  %-40s %6d examples, %3d classes (%d present)\n", p, tcf_dataset_count(ds), K, present);
            if (sets[s]) files++;
            if (k == 0) train = ds;
            else tcf_dataset_free(ds);
        }
        if (!sets[s] && train) tcf_dataset_summary(train, stdout);
        tcf_dataset_free(train);
    }
    CHECK(files >= 17, "found %d shared dataset files under %s (set TCF_SHARED_DATA)", files, root);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    test_csv_valid();
    test_jsonl_valid();
    test_errors();
    test_labels();
    test_label_order_independence();
    test_split();
    test_summary();
    test_real_data();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_dataset");
}
