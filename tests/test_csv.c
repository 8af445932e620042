/*
 * test_csv.c — the RFC 4180 reader: valid shapes (BOM, CRLF/LF, quoted commas,
 * quotes and line ends, no final newline) and every malformed case, each with
 * the path:line in its message. Also reads every shared dataset file.
 */
#include "base/base.h"
#include "check.h"

#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/tcf_test_csvXXXXXX";

static tcf_table *parse(const char *bytes, size_t n, tcf_status *st) {
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
    tcf_table *t = NULL;
    *st = tcf_csv_read(path, &t);
    return t;
}

static void expect_ok(const char *what, const char *bytes, int rows, const char *last_text, int last_line) {
    tcf_status st;
    tcf_table *t = parse(bytes, strlen(bytes), &st);
    CHECK(st == TCF_OK && t, "%s: %s", what, tcf_last_error());
    if (!t) return;
    CHECK(tcf_table_rows(t) == rows, "%s: %d rows", what, tcf_table_rows(t));
    int c = tcf_table_column(t, "text");
    CHECK(c == 0 && tcf_table_column(t, "label") == 1, "%s: columns", what);
    if (rows > 0 && c == 0) {
        CHECK(!strcmp(tcf_table_cell(t, rows - 1, 0), last_text), "%s: last text '%s'", what,
              tcf_table_cell(t, rows - 1, 0));
        CHECK(tcf_table_line(t, rows - 1) == last_line, "%s: line %d", what, tcf_table_line(t, rows - 1));
    }
    tcf_table_free(t);
}

static void expect_bad(const char *what, const char *bytes, tcf_status want, const char *needle) {
    tcf_status st;
    tcf_table *t = parse(bytes, strlen(bytes), &st);
    char where[128];
    snprintf(where, sizeof where, "%s:", path);
    CHECK(st == want && !t && strstr(tcf_last_error(), where) && strstr(tcf_last_error(), needle),
          "%s: status %d '%s'", what, st, tcf_last_error());
    tcf_table_free(t);
}

int main(void) {
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    expect_ok("LF", "text,label\nhello,a\nworld,b\n", 2, "world", 3);
    expect_ok("CRLF, no final newline", "text,label\r\nhello,a\r\nworld,b", 2, "world", 3);
    expect_ok("BOM", "\xEF\xBB\xBFtext,label\r\nhi,a\r\n", 1, "hi", 2);
    expect_ok("quoted comma and quote", "text,label\r\n\"a, \"\"b\"\"\",x\r\n", 1, "a, \"b\"", 2);
    expect_ok("quoted newline", "text,label\r\n\"line1\r\nline2\",x\r\nnext,y\r\n", 2, "next", 4);
    expect_ok("empty field", "text,label\n,x\n", 1, "", 2);
    expect_ok("header only", "text,label\n", 0, "", 0);
    expect_ok("UTF-8 text", "text,label\n\"caf\xC3\xA9 \xF0\x9F\x98\x80\",x\n", 1, "caf\xC3\xA9 \xF0\x9F\x98\x80", 2);

    expect_bad("empty file", "", TCF_ERR_FORMAT, "empty file");
    expect_bad("ragged row", "text,label\na,b\nc\n", TCF_ERR_FORMAT, ":3: 1 fields, but the header has 2");
    expect_bad("extra field", "text,label\na,b,c\n", TCF_ERR_FORMAT, ":2: 3 fields");
    expect_bad("blank line", "text,label\na,b\n\nc,d\n", TCF_ERR_FORMAT, ":3: empty line");
    expect_bad("unclosed quote", "text,label\n\"abc,d\n", TCF_ERR_FORMAT, ":2: quoted field is never closed");
    expect_bad("quote in bare field", "text,label\nab\"c,d\n", TCF_ERR_FORMAT, ":2: quote inside an unquoted field");
    expect_bad("junk after quote", "text,label\n\"ab\"c,d\n", TCF_ERR_FORMAT, ":2: unexpected character after a closing quote");
    expect_bad("invalid UTF-8", "text,label\nok,a\nbad\xC3(,b\n", TCF_ERR_UTF8, ":3: invalid UTF-8");
    expect_bad("duplicate header", "text,text\na,b\n", TCF_ERR_FORMAT, "appears twice");
    {
        tcf_status st;
        tcf_table *tn = parse("text,label\nab\0c,d\n", 17, &st);
        CHECK(st == TCF_ERR_FORMAT && !tn && strstr(tcf_last_error(), ":2: NUL byte"), "NUL byte: %s",
              tcf_last_error());
        tcf_table_free(tn);
    }
    tcf_table *t = NULL;
    CHECK(tcf_csv_read("/nonexistent/x.csv", &t) == TCF_ERR_IO && strstr(tcf_last_error(), "/nonexistent/x.csv"),
          "missing file: %s", tcf_last_error());
    unlink(path);

    /* Every shared dataset file parses, with a text and a label column. */
    const char *root = getenv("TCF_SHARED_DATA") ? getenv("TCF_SHARED_DATA") : "../shared/data";
    const char *sets[] = {"banking77", "clinc150", "clinc150_domain", "clinc150_oos", "snips_slotgated", "trec_coarse", "trec_fine"};
    const char *splits[] = {"train", "valid", "test"};
    long total = 0;
    int files = 0;
    for (int s = 0; s < 7; s++)
        for (int k = 0; k < 3; k++) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s/%s.csv", root, sets[s], splits[k]);
            if (!tcf_file_exists(p)) continue;
            tcf_table *d = NULL;
            tcf_status st = tcf_csv_read(p, &d);
            CHECK(st == TCF_OK && tcf_table_column(d, "text") == 0 && tcf_table_column(d, "label") == 1,
                  "%s: %s", p, tcf_last_error());
            if (d) total += tcf_table_rows(d), files++;
            tcf_table_free(d);
        }
    printf("  shared datasets: %d files, %ld rows\n", files, total);
    CHECK(files >= 17, "found %d shared dataset files under %s", files, root);
    return check_summary("test_csv");
}
