/*
 * csv.c — RFC 4180 CSV reader for labelled datasets.
 *
 * Format (RFC 4180, plus what real files do): an optional UTF-8 BOM; records
 * end in CRLF or LF (a final line end is optional); fields are separated by
 * commas; a field that starts with '"' is quoted: it ends at the next lone '"',
 * "" stands for one '"', and it may hold commas and line ends; a quote inside
 * an unquoted field is an error. The first record is the header. Every record
 * must have as many fields as the header. All bytes must be valid UTF-8 and
 * none may be NUL (cells are NUL-terminated strings).
 * Blank lines are errors (a dataset row cannot be empty), except trailing
 * line ends at the end of the file.
 *
 * Errors name path:line (1-based, the physical line where the record starts
 * or where the problem is) and the cause.
 */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

struct tcf_table {
    int n_rows, n_cols;
    char *buf;     /* the file; cells point into it */
    char **header; /* (n_cols) */
    char **cells;  /* (n_rows, n_cols) */
    int *line;     /* (n_rows) source line of each row */
};


static int line_of(const char *buf, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off; i++) line += buf[i] == '\n';
    return line;
}

/* Parse buf[0..len) (NUL at buf[len]); takes ownership of buf. */
static tcf_status parse(char *buf, size_t len, const char *path, tcf_table **out) {
    tcf_status st;
    int64_t bad = tcf_utf8_invalid_at(buf, len);
    if (bad >= 0) {
        st = tcf_fail(TCF_ERR_UTF8, "%s:%d: invalid UTF-8 (byte offset %lld)", path,
                      line_of(buf, (size_t)bad), (long long)bad);
        free(buf);
        return st;
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: NUL byte (byte offset %lld): not a text file", path,
                      line_of(buf, (size_t)(nul - buf)), (long long)(nul - buf));
        free(buf);
        return st;
    }
    size_t start = (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) ? 3 : 0;
    /* Drop trailing line ends. */
    while (len > start && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
    if (len == start) {
        free(buf);
        return tcf_fail(TCF_ERR_FORMAT, "%s: empty file (expected a header line)", path);
    }
    /* Upper bounds: fields <= commas + records, records <= newlines + 1. */
    size_t max_fields = 1, max_recs = 1;
    for (size_t i = start; i < len; i++) max_fields += buf[i] == ',' || buf[i] == '\n', max_recs += buf[i] == '\n';
    tcf_table *t = calloc(1, sizeof *t);
    char **fields = malloc(sizeof(char *) * (max_fields + 1));
    int *rec_line = malloc(sizeof(int) * (max_recs + 1));
    int *rec_nf = malloc(sizeof(int) * (max_recs + 1));
    if (!t || !fields || !rec_line || !rec_nf) {
        free(t), free(fields), free(rec_line), free(rec_nf), free(buf);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    t->buf = buf;
    rec_nf[0] = 0;
    size_t nf = 0, nrec = 0, i = start;
    int line = 1;
    /* Parse in place: each field is rewritten (unquoted) at its own start. */
    while (i <= len) {
        int rec_start_line = line, fields_in_rec = 0;
        for (;;) { /* one field */
            char *dst = buf + i, *field = dst;
            if (i < len && buf[i] == '"') {
                i++;
                for (;;) {
                    if (i >= len) {
                        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: quoted field is never closed", path, rec_start_line);
                        goto fail;
                    }
                    if (buf[i] == '"') {
                        if (i + 1 < len && buf[i + 1] == '"') {
                            *dst++ = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (buf[i] == '\n') line++;
                    *dst++ = buf[i++];
                }
                if (i < len && buf[i] != ',' && buf[i] != '\n' && !(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') &&
                    !(buf[i] == '\r' && i + 1 == len)) {
                    st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: unexpected character after a closing quote", path, line);
                    goto fail;
                }
            } else {
                while (i < len && buf[i] != ',' && buf[i] != '\n') {
                    if (buf[i] == '"') {
                        st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: quote inside an unquoted field (quote the whole field and double the quote)", path, line);
                        goto fail;
                    }
                    if (buf[i] == '\r' && (i + 1 == len || buf[i + 1] == '\n')) {
                        i++;
                        continue;
                    }
                    *dst++ = buf[i++];
                }
            }
            if (i < len && buf[i] == '\r') i++;
            char sep = i < len ? buf[i] : '\n';
            *dst = '\0';
            fields[nf++] = field;
            fields_in_rec++;
            i++;
            if (sep == '\n') break;
        }
        rec_line[nrec] = rec_start_line;
        rec_nf[nrec++] = fields_in_rec;
        line++;
    }
    t->n_cols = rec_nf[0];
    t->n_rows = (int)nrec - 1;
    /* Validate shape: every record as wide as the header; no empty records. */
    {
        size_t k = 0;
        for (size_t r = 0; r < nrec; r++) {
            if (rec_nf[r] == 1 && fields[k][0] == '\0') {
                st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: empty line", path, rec_line[r]);
                goto fail;
            }
            if (rec_nf[r] != t->n_cols) {
                st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: %d fields, but the header has %d", path, rec_line[r],
                              rec_nf[r], t->n_cols);
                goto fail;
            }
            k += (size_t)rec_nf[r];
        }
    }
    t->header = fields;
    t->cells = fields + t->n_cols;
    t->line = rec_line + 1;
    for (int c = 0; c < t->n_cols; c++)
        for (int d = 0; d < c; d++)
            if (!strcmp(t->header[c], t->header[d])) {
                st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: column \"%s\" appears twice in the header", path,
                              rec_line[0], t->header[c]);
                goto fail;
            }
    free(rec_nf);
    *out = t;
    return TCF_OK;
fail:
    free(fields), free(rec_line), free(rec_nf), free(buf), free(t);
    return st;
}

tcf_status tcf_csv_read(const char *path, tcf_table **out) {
    *out = NULL;
    char *buf;
    size_t len;
    tcf_status st = tcf_read_file(path, &buf, &len);
    if (st) return st;
    return parse(buf, len, path, out);
}

tcf_status tcf_csv_parse(const char *data, size_t len, const char *label, tcf_table **out) {
    *out = NULL;
    char *buf = malloc(len + 1);
    if (!buf) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %zu bytes", label, len + 1);
    memcpy(buf, data, len);
    buf[len] = '\0';
    return parse(buf, len, label, out);
}

void tcf_table_free(tcf_table *t) {
    if (!t) return;
    free(t->buf);
    free(t->header); /* cells share this allocation */
    free(t->line - 1);
    free(t);
}

int tcf_table_rows(const tcf_table *t) { return t->n_rows; }
int tcf_table_cols(const tcf_table *t) { return t->n_cols; }
const char *tcf_table_header(const tcf_table *t, int col) { return t->header[col]; }
const char *tcf_table_cell(const tcf_table *t, int row, int col) {
    return t->cells[(int64_t)row * t->n_cols + col];
}
int tcf_table_line(const tcf_table *t, int row) { return t->line[row]; }
int tcf_table_column(const tcf_table *t, const char *name) {
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->header[c], name)) return c;
    return -1;
}
