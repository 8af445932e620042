/*
 * atomic_file.h — write a file so that readers see either the old contents
 * or the complete new contents, never a torn mix.
 *
 * How: the bytes go to "<path>.tmp.<pid>" in the target's directory (same
 * filesystem, so rename(2) is atomic), which is fsync'd, closed, renamed over
 * <path>, and then the directory is fsync'd so the rename itself is durable.
 * Any failure before the rename (open, short write, ENOSPC, EFBIG, fsync,
 * close, rename) removes the temp file and leaves an existing <path>
 * untouched, returning TCF_ERR_IO with a message naming <path> and strerror.
 *
 * Not thread-safe for two writers of the same path in one process: the temp
 * file is created with O_EXCL, so the second one fails with a message rather
 * than interleaving bytes.
 */
#ifndef TCF_ATOMIC_FILE_H
#define TCF_ATOMIC_FILE_H

#include "tcf.h"

#include <stddef.h>

typedef struct tcf_atomic_file tcf_atomic_file;

/* Create the temp file for `path`. On success the caller owns *out and must
 * end it with exactly one of tcf_atomic_commit or tcf_atomic_abort. */
tcf_status tcf_atomic_open(const char *path, tcf_atomic_file **out);
/* Append n bytes. On failure the handle stays owned by the caller (who then
 * calls tcf_atomic_abort; tcf_atomic_commit would also refuse). */
tcf_status tcf_atomic_write(tcf_atomic_file *h, const void *data, size_t n);
/* fsync + close the temp file, rename it over the target, fsync the
 * directory. Always consumes h. On failure before the rename the temp file
 * is removed and the old target is untouched; if only the final directory
 * fsync fails, the new file is already in place and the error says so. */
tcf_status tcf_atomic_commit(tcf_atomic_file *h);
/* Close and remove the temp file, free h. NULL is a no-op. Keeps the
 * current error message (so callers can abort after a failed write). */
void tcf_atomic_abort(tcf_atomic_file *h);

/* open + write + commit of one buffer. */
tcf_status tcf_atomic_write_file(const char *path, const void *data, size_t n);

#endif /* TCF_ATOMIC_FILE_H */
