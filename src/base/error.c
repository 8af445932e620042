/*
 * error.c — per-thread error messages and status names.
 */
#include "base/base.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];

const char *tcf_last_error(void) { return err_msg; }

void tcf_clear_error(void) { err_msg[0] = '\0'; }

tcf_status tcf_fail(tcf_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return st;
}

tcf_status tcf_fail_prefix(tcf_status st, const char *fmt, ...) {
    char old[sizeof err_msg];
    memcpy(old, err_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof err_msg ? (size_t)n : sizeof err_msg - 1;
    if (used + 2 < sizeof err_msg) {
        memcpy(err_msg + used, ": ", 2);
        used += 2;
        size_t room = sizeof err_msg - 1 - used, ol = strlen(old);
        memcpy(err_msg + used, old, ol < room ? ol : room);
        err_msg[used + (ol < room ? ol : room)] = '\0';
    }
    return st;
}

const char *tcf_status_name(tcf_status st) {
    switch (st) {
    case TCF_OK: return "ok";
    case TCF_ERR_IO: return "I/O error";
    case TCF_ERR_FORMAT: return "format error";
    case TCF_ERR_NOMEM: return "out of memory";
    case TCF_ERR_ARG: return "invalid argument";
    case TCF_ERR_UNSUPPORTED: return "unsupported";
    case TCF_ERR_UTF8: return "invalid UTF-8";
    case TCF_ERR_DIVERGED: return "training diverged";
    }
    return "unknown status";
}

size_t tcf_dtype_size(tcf_dtype dt) {
    switch (dt) {
    case TCF_DTYPE_F32: case TCF_DTYPE_I32: return 4;
    case TCF_DTYPE_F16: case TCF_DTYPE_BF16: case TCF_DTYPE_I16: return 2;
    case TCF_DTYPE_F64: case TCF_DTYPE_I64: return 8;
    case TCF_DTYPE_I8: case TCF_DTYPE_U8: case TCF_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

const char *tcf_dtype_name(tcf_dtype dt) {
    static const char *names[TCF_DTYPE_COUNT] = {"F32", "F16", "BF16", "F64", "I8",
                                                 "U8",  "I16", "I32",  "I64", "BOOL"};
    return (unsigned)dt < TCF_DTYPE_COUNT ? names[dt] : "?";
}
