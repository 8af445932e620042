/*
 * st_write.h — write .safetensors files the way the Python `safetensors`
 * writer (0.8) does, so files are byte-for-byte comparable:
 *   - u64 LE header length N, N bytes of compact JSON, then the data;
 *   - "__metadata__" first (only when metadata is given), then the tensors in
 *     data order: sorted by dtype (I64, F64, F32, I32, BF16, F16, I16, I8,
 *     U8, BOOL) then by name (byte order), offsets contiguous from 0;
 *   - the header padded with spaces so N is a multiple of 8.
 * The format itself is described in src/io/safetensors.c (the reader).
 * The file is written atomically (base/atomic_file.h).
 */
#ifndef TCF_ST_WRITE_H
#define TCF_ST_WRITE_H

#include "tcf.h"

typedef struct {
    const char *name;
    tcf_dtype dtype;
    int n_dims;                   /* 0 .. TCF_MAX_DIMS; 0 is a scalar */
    int64_t shape[TCF_MAX_DIMS];  /* row-major, outermost first */
    const void *data;             /* numel * dtype size bytes, little-endian */
} tcf_st_tensor;

/* Write n tensors to `path` atomically. `meta` holds n_meta (key, value)
 * string pairs for "__metadata__" (meta[2i], meta[2i+1]); n_meta == 0 writes
 * no metadata. Duplicate or empty names, negative dims: TCF_ERR_ARG. The
 * caller keeps ownership of everything passed in. */
tcf_status tcf_safetensors_write(const char *path, const tcf_st_tensor *t, int n,
                                 const char *const *meta, int n_meta);

#endif /* TCF_ST_WRITE_H */
