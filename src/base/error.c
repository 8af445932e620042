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
    char prefix[512], old[sizeof err_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_msg, sizeof old);
    snprintf(err_msg, sizeof err_msg, "%s: %s", prefix, old);
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
