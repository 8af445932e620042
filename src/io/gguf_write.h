/*
 * gguf_write.h — build a GGUF v3 file in memory and write it atomically.
 *
 * The layout is the one src/io/gguf.c reads (its header comment describes
 * the format) and the one gguf-py's GGUFWriter (0.19) writes, byte for byte
 * for the same calls in the same order (tests/test_quantize.c compares with
 * a file gguf-py wrote):
 *   header (magic, version 3, tensor count, kv count); the metadata in the
 *   order added; the tensor infos in the order added, offsets from the start
 *   of the data section, each tensor's size rounded up to the alignment (32,
 *   GGUF's default; no general.alignment key is written); zero padding to
 *   the alignment; the tensors, each followed by zero padding to the
 *   alignment.
 * Arrays of integers are written as i32, as gguf-py does for Python ints.
 *
 * Ownership: every put copies what it is given; the caller keeps its own
 * buffers. Duplicate keys or tensor names, empty names, bad shapes or a
 * byte count that does not match the shape: TCF_ERR_ARG naming the key or
 * tensor (the writer is then still usable).
 */
#ifndef TCF_GGUF_WRITE_H
#define TCF_GGUF_WRITE_H

#include "tcf.h"

typedef struct tcf_gguf_writer tcf_gguf_writer;

tcf_status tcf_gguf_writer_new(tcf_gguf_writer **out);
void tcf_gguf_writer_free(tcf_gguf_writer *w);

tcf_status tcf_gguf_put_u32(tcf_gguf_writer *w, const char *key, uint32_t v);
tcf_status tcf_gguf_put_i32(tcf_gguf_writer *w, const char *key, int32_t v);
tcf_status tcf_gguf_put_f32(tcf_gguf_writer *w, const char *key, float v);
tcf_status tcf_gguf_put_bool(tcf_gguf_writer *w, const char *key, int v);
/* len bytes of s (UTF-8 expected, not checked; may hold NUL bytes). */
tcf_status tcf_gguf_put_str(tcf_gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of n NUL-terminated strings (n >= 1). */
tcf_status tcf_gguf_put_arr_str(tcf_gguf_writer *w, const char *key, const char *const *s, int64_t n);
/* An array of n i32 (n >= 1). */
tcf_status tcf_gguf_put_arr_i32(tcf_gguf_writer *w, const char *key, const int32_t *v, int64_t n);

/* Any fixed-size scalar type (u8..i64, f32, f64, bool): `v` points at one
 * value of that type's width, little-endian. For copying a key of another
 * file verbatim (tcf quantize). */
tcf_status tcf_gguf_put_scalar(tcf_gguf_writer *w, const char *key, tcf_gguf_type type, const void *v);
/* An array of n values of a fixed-size element type, packed at v; n may be
 * 0 (then elem may also be TCF_GGUF_STRING and v NULL). */
tcf_status tcf_gguf_put_arr(tcf_gguf_writer *w, const char *key, tcf_gguf_type elem, const void *v, int64_t n);

/* A tensor of `type` with n_dims (1..4) dims ne in ggml order (ne[0] is the
 * row length, a multiple of the type's block size); data holds nbytes =
 * numel / block size * type size bytes, already encoded. */
tcf_status tcf_gguf_put_tensor(tcf_gguf_writer *w, const char *name, tcf_ggml_type type, int n_dims,
                               const int64_t *ne, const void *data, size_t nbytes);

/* Write everything to `path` atomically (base/atomic_file.h): on failure
 * nothing is left at path (an existing file stays as it was). */
tcf_status tcf_gguf_writer_save(const tcf_gguf_writer *w, const char *path);

#endif /* TCF_GGUF_WRITE_H */
