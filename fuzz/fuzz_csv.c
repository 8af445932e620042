/*
 * fuzz_csv.c — libFuzzer target for the RFC 4180 reader: any bytes must parse
 * or fail with a message, and a parsed table must be consistent (every cell
 * readable, line numbers increasing, cells NUL-terminated inside the input).
 */
#include "tcf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tcf_table *t = NULL;
    tcf_status st = tcf_csv_parse((const char *)data, size, "fuzz.csv", &t);
    if (st != TCF_OK) {
        if (t || !tcf_last_error()[0]) abort();
        return 0;
    }
    int rows = tcf_table_rows(t), cols = tcf_table_cols(t), prev = 0;
    size_t total = 0;
    for (int c = 0; c < cols; c++) total += strlen(tcf_table_header(t, c));
    for (int r = 0; r < rows; r++) {
        int line = tcf_table_line(t, r);
        if (line <= prev) abort();
        prev = line;
        for (int c = 0; c < cols; c++) total += strlen(tcf_table_cell(t, r, c));
    }
    if (total > size) abort(); /* cells are unquoted copies of input bytes */
    tcf_table_free(t);
    return 0;
}
