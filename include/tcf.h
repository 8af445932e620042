/*
 * tcf.h — the one public C API of tcf ("tiny classifier fine-tune").
 *
 * Conventions
 *   - Every fallible call returns a tcf_status. On failure the calling thread's
 *     tcf_last_error() holds a message naming the file / line / tensor and the
 *     cause; the library never calls exit().
 *   - Whoever calls *_load / *_open / *_init calls the matching *_free;
 *     *_free(NULL) is a no-op.
 *   - Handles are opaque. A loaded model or tokenizer is read-only after load and
 *     may be shared between threads for concurrent encode / forward calls.
 */
#ifndef TCF_H
#define TCF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------- */

typedef enum {
    TCF_OK = 0,
    TCF_ERR_IO,          /* open/read/write/mmap failed */
    TCF_ERR_FORMAT,      /* bytes from outside do not follow their format */
    TCF_ERR_NOMEM,       /* allocation failed or a size would overflow */
    TCF_ERR_ARG,         /* bad argument from the caller */
    TCF_ERR_UNSUPPORTED, /* valid input that tcf does not handle (yet) */
    TCF_ERR_UTF8,        /* text is not valid UTF-8 */
    TCF_ERR_DIVERGED     /* training produced a non-finite loss or gradient */
} tcf_status;

/* Message of the last failure on this thread ("" if none). Valid until the
 * next failing tcf call on the same thread. */
const char *tcf_last_error(void);
/* Short name of a status code, e.g. "format error". */
const char *tcf_status_name(tcf_status st);

/* ---- dtypes ------------------------------------------------------------ */

typedef enum {
    TCF_DTYPE_F32 = 0,
    TCF_DTYPE_F16,
    TCF_DTYPE_BF16,
    TCF_DTYPE_F64,
    TCF_DTYPE_I8,
    TCF_DTYPE_U8,
    TCF_DTYPE_I16,
    TCF_DTYPE_I32,
    TCF_DTYPE_I64,
    TCF_DTYPE_BOOL,
    TCF_DTYPE_COUNT
} tcf_dtype;

/* Bytes per element; "F32" etc. */
size_t tcf_dtype_size(tcf_dtype dt);
const char *tcf_dtype_name(tcf_dtype dt);

/* ---- safetensors (read-only, mmap'd) ------------------------------------ */

#define TCF_MAX_DIMS 8

typedef struct {
    const char *name;             /* NUL-terminated, owned by the file handle */
    tcf_dtype dtype;
    int n_dims;
    int64_t shape[TCF_MAX_DIMS];  /* row-major, outermost first */
    int64_t numel;
    const void *data;             /* points into the map; may be unaligned */
    size_t nbytes;
} tcf_tensor_view;

typedef struct tcf_safetensors tcf_safetensors;

/* Map a .safetensors file and validate its header before trusting it. */
tcf_status tcf_safetensors_open(const char *path, tcf_safetensors **out);
/* Parse a safetensors image held in memory (not copied: buf must outlive the
 * handle). `label` names the source in error messages. */
tcf_status tcf_safetensors_from_memory(const void *buf, size_t len, const char *label,
                                       tcf_safetensors **out);
void tcf_safetensors_free(tcf_safetensors *st);
int tcf_safetensors_count(const tcf_safetensors *st);
const tcf_tensor_view *tcf_safetensors_at(const tcf_safetensors *st, int i);
/* NULL when absent (no error set). */
const tcf_tensor_view *tcf_safetensors_find(const tcf_safetensors *st, const char *name);
/* Value of a "__metadata__" key, or NULL. */
const char *tcf_safetensors_metadata(const tcf_safetensors *st, const char *key);
/* Convert a tensor (F32/F16/BF16/F64) to f32 into dst of n floats; n must equal
 * numel. */
tcf_status tcf_tensor_to_f32(const tcf_tensor_view *t, float *dst, int64_t n);

/* ---- CSV tables (RFC 4180) ---------------------------------------------- */

typedef struct tcf_table tcf_table;

/* Read a whole CSV file: UTF-8 (BOM optional), CRLF or LF, quoted fields may
 * hold commas, quotes ("") and line ends; the first record is the header.
 * Ragged rows, blank lines, bad quoting, invalid UTF-8, duplicate header
 * names: TCF_ERR_FORMAT / TCF_ERR_UTF8 naming path:line. */
tcf_status tcf_csv_read(const char *path, tcf_table **out);
/* The same for CSV bytes in memory (copied); `label` names them in errors. */
tcf_status tcf_csv_parse(const char *data, size_t len, const char *label, tcf_table **out);
void tcf_table_free(tcf_table *t);
int tcf_table_rows(const tcf_table *t);  /* data rows, header excluded */
int tcf_table_cols(const tcf_table *t);
const char *tcf_table_header(const tcf_table *t, int col);
const char *tcf_table_cell(const tcf_table *t, int row, int col);
int tcf_table_line(const tcf_table *t, int row); /* 1-based source line */
int tcf_table_column(const tcf_table *t, const char *name); /* -1 if absent */

/* ---- tokenizer ---------------------------------------------------------- */

typedef struct tcf_tokenizer tcf_tokenizer;

/* Load from a tokenizer.json, a vocab.txt, or a model directory holding one of
 * them (tokenizer.json preferred; tokenizer_config.json read when present). */
tcf_status tcf_tokenizer_load(const char *path, tcf_tokenizer **out);
/* Load a tokenizer.json held in memory; `label` names it in errors. */
tcf_status tcf_tokenizer_load_json(const char *json, size_t len, const char *label,
                                   tcf_tokenizer **out);
void tcf_tokenizer_free(tcf_tokenizer *tok);

typedef struct {
    int add_special;  /* add [CLS] ... [SEP] (or the model's equivalents) */
    int max_len;      /* truncate to this many ids, specials included; 0 = the
                         tokenizer's own truncation setting (none if unset) */
} tcf_encode_opts;

/* Encode UTF-8 text of `len` bytes. Writes at most `cap` ids to `ids` and the
 * number produced to *n_ids. If the truncated result would not fit in `cap`,
 * returns TCF_ERR_ARG with *n_ids set to the number needed. opts == NULL means
 * {add_special = 1, max_len = 0}; a max_len below the number of special tokens
 * is TCF_ERR_ARG. Invalid UTF-8 returns TCF_ERR_UTF8 naming the byte offset.
 * Safe to call concurrently on one tokenizer. */
tcf_status tcf_tokenizer_encode(const tcf_tokenizer *tok, const char *text, size_t len,
                                const tcf_encode_opts *opts, int32_t *ids, int cap,
                                int *n_ids);
/* Encode n texts on n_threads threads (<= 0: all cores). Text i goes to
 * ids[i] (capacity caps[i]) and its length to n_ids[i]. On failure the error
 * names the first failing text as "text N: ..." (1-based). */
tcf_status tcf_tokenizer_encode_batch(const tcf_tokenizer *tok, int n, const char *const *texts,
                                      const size_t *lens, const tcf_encode_opts *opts,
                                      int32_t *const *ids, const int *caps, int *n_ids,
                                      int n_threads);
int tcf_tokenizer_vocab_size(const tcf_tokenizer *tok);
/* -1 when absent. */
int32_t tcf_tokenizer_token_id(const tcf_tokenizer *tok, const char *token);
const char *tcf_tokenizer_token(const tcf_tokenizer *tok, int32_t id);
int32_t tcf_tokenizer_pad_id(const tcf_tokenizer *tok);
/* The truncation max_length of tokenizer.json, or 0 if none. */
int tcf_tokenizer_max_len(const tcf_tokenizer *tok);

/* ---- encoder models (BERT family) ---------------------------------------- */

typedef struct tcf_model tcf_model;

typedef enum { TCF_POOL_MEAN = 0, TCF_POOL_CLS = 1 } tcf_pooling;

/* Load a Hugging Face model directory: config.json, model.safetensors,
 * tokenizer.json / vocab.txt. */
tcf_status tcf_model_load(const char *dir, tcf_model **out);
void tcf_model_free(tcf_model *m);
const tcf_tokenizer *tcf_model_tokenizer(const tcf_model *m);
int tcf_model_hidden_size(const tcf_model *m);
int tcf_model_max_positions(const tcf_model *m);

/* Run the encoder on a padded batch.
 *   ids, mask: (B, T) row-major; mask[b*T+t] = 1 for real tokens, 0 for pad.
 *   hidden:    (B, T, C) last hidden states, or NULL if not wanted.
 *   pooled:    (B, C) pooled embeddings, or NULL if not wanted.
 * n_threads <= 0 uses all cores. */
tcf_status tcf_model_forward(const tcf_model *m, int B, int T, const int32_t *ids,
                             const uint8_t *mask, float *hidden, float *pooled,
                             tcf_pooling pooling, int normalize, int n_threads);

/* Tokenize and embed `n` texts (dynamic padding, batches of `batch`).
 *   out: (n, C). max_len <= 0 uses the tokenizer's truncation, else the
 *   model's max positions. */
tcf_status tcf_model_embed(const tcf_model *m, int n, const char *const *texts,
                           tcf_pooling pooling, int normalize, int max_len, int batch,
                           int n_threads, float *out);

#ifdef __cplusplus
}
#endif
#endif /* TCF_H */
