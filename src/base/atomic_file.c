/*
 * atomic_file.c — temp file + fsync + rename + directory fsync (see
 * atomic_file.h). Uses write(2) directly rather than stdio, so a failure
 * (EFBIG, ENOSPC, EIO) is reported by the call that caused it instead of a
 * later buffered flush.
 */
#include "base/atomic_file.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tcf_atomic_file {
    int fd;
    int failed;     /* a write failed: commit must refuse */
    char *path;     /* the target */
    char *tmp;      /* "<path>.tmp.<pid>" */
};

tcf_status tcf_atomic_open(const char *path, tcf_atomic_file **out) {
    *out = NULL;
    if (!path || !*path) return tcf_fail(TCF_ERR_ARG, "atomic write: empty path");
    tcf_atomic_file *h = calloc(1, sizeof *h);
    size_t len = strlen(path);
    size_t cap = len + 32;
    if (h) {
        h->fd = -1;
        h->path = strdup(path);
        h->tmp = malloc(cap);
    }
    if (!h || !h->path || !h->tmp) {
        if (h) free(h->path), free(h->tmp), free(h);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(h->tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    h->fd = open(h->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (h->fd < 0) {
        int e = errno;
        tcf_status st = tcf_fail(TCF_ERR_IO, "%s: cannot create temp file %s: %s%s", path, h->tmp,
                                 strerror(e),
                                 e == EEXIST ? " (another save of this file in progress, or a stale"
                                               " temp file: remove it)" : "");
        free(h->path), free(h->tmp), free(h);
        return st;
    }
    *out = h;
    return TCF_OK;
}

tcf_status tcf_atomic_write(tcf_atomic_file *h, const void *data, size_t n) {
    if (h->failed) return tcf_fail(TCF_ERR_IO, "%s: write after a failed write", h->path);
    const char *p = data;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t w = write(h->fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            h->failed = 1;
            return tcf_fail(TCF_ERR_IO, "%s: cannot write: %s", h->path,
                            w < 0 ? strerror(errno) : "write returned 0");
        }
        p += w;
        n -= (size_t)w;
    }
    return TCF_OK;
}

void tcf_atomic_abort(tcf_atomic_file *h) {
    if (!h) return;
    if (h->fd >= 0) close(h->fd);
    unlink(h->tmp);
    free(h->path);
    free(h->tmp);
    free(h);
}

/* fsync the directory holding `path` so a rename into it survives a crash. */
static int fsync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) dir = strdup(".");
    else if (slash == path) dir = strdup("/");
    else dir = strndup(path, (size_t)(slash - path));
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    /* Some filesystems cannot fsync a directory; the rename is still done. */
    return rc == EINVAL || rc == EROFS ? 0 : rc;
}

tcf_status tcf_atomic_commit(tcf_atomic_file *h) {
    if (h->failed) {
        tcf_status st = tcf_fail(TCF_ERR_IO, "%s: not committed: an earlier write failed", h->path);
        tcf_atomic_abort(h);
        return st;
    }
    const char *what = NULL;
    int e = 0;
    if (fsync(h->fd) != 0) what = "cannot fsync", e = errno;
    int rc = close(h->fd);
    h->fd = -1;
    if (!what && rc != 0) what = "cannot close", e = errno;
    if (!what && rename(h->tmp, h->path) != 0) what = "cannot rename temp file over it", e = errno;
    if (what) {
        tcf_status st = tcf_fail(TCF_ERR_IO, "%s: %s: %s", h->path, what, strerror(e));
        tcf_atomic_abort(h);
        return st;
    }
    e = fsync_parent(h->path);
    tcf_status st = TCF_OK;
    if (e)
        st = tcf_fail(TCF_ERR_IO, "%s: written, but cannot fsync its directory: %s", h->path,
                      strerror(e));
    free(h->path);
    free(h->tmp);
    free(h);
    return st;
}

tcf_status tcf_atomic_write_file(const char *path, const void *data, size_t n) {
    tcf_atomic_file *h;
    tcf_status st = tcf_atomic_open(path, &h);
    if (st != TCF_OK) return st;
    st = tcf_atomic_write(h, data, n);
    if (st != TCF_OK) {
        tcf_atomic_abort(h);
        return st;
    }
    return tcf_atomic_commit(h);
}
