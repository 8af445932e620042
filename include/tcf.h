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

/* ---- GGUF (read-only, mmap'd; llama.cpp's model format, v3 and v2) -------
 * Layout and rules: the comment at the top of src/io/gguf.c. Every count,
 * length, type, shape and offset is checked before it is trusted; a handle
 * only exists for a file that passed all of them. */

typedef struct tcf_gguf tcf_gguf;
typedef struct tcf_gguf_value tcf_gguf_value; /* owned by its tcf_gguf */

/* Metadata value types, numbered as in the file. */
typedef enum {
    TCF_GGUF_U8 = 0, TCF_GGUF_I8, TCF_GGUF_U16, TCF_GGUF_I16, TCF_GGUF_U32, TCF_GGUF_I32,
    TCF_GGUF_F32, TCF_GGUF_BOOL, TCF_GGUF_STRING, TCF_GGUF_ARRAY, TCF_GGUF_U64,
    TCF_GGUF_I64, TCF_GGUF_F64, TCF_GGUF_TYPE_COUNT
} tcf_gguf_type;

/* ggml tensor types, numbered as in ggml.h (gaps are retired types). All of
 * them open; tcf_gguf_dequantize handles F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1
 * Q8_0 Q4_K Q6_K. */
typedef enum {
    TCF_GGML_F32 = 0, TCF_GGML_F16 = 1, TCF_GGML_Q4_0 = 2, TCF_GGML_Q4_1 = 3,
    TCF_GGML_Q5_0 = 6, TCF_GGML_Q5_1 = 7, TCF_GGML_Q8_0 = 8, TCF_GGML_Q8_1 = 9,
    TCF_GGML_Q2_K = 10, TCF_GGML_Q3_K = 11, TCF_GGML_Q4_K = 12, TCF_GGML_Q5_K = 13,
    TCF_GGML_Q6_K = 14, TCF_GGML_Q8_K = 15, TCF_GGML_IQ2_XXS = 16, TCF_GGML_IQ2_XS = 17,
    TCF_GGML_IQ3_XXS = 18, TCF_GGML_IQ1_S = 19, TCF_GGML_IQ4_NL = 20, TCF_GGML_IQ3_S = 21,
    TCF_GGML_IQ2_S = 22, TCF_GGML_IQ4_XS = 23, TCF_GGML_I8 = 24, TCF_GGML_I16 = 25,
    TCF_GGML_I32 = 26, TCF_GGML_I64 = 27, TCF_GGML_F64 = 28, TCF_GGML_IQ1_M = 29,
    TCF_GGML_BF16 = 30, TCF_GGML_TQ1_0 = 34, TCF_GGML_TQ2_0 = 35, TCF_GGML_MXFP4 = 39
} tcf_ggml_type;

#define TCF_GGUF_MAX_DIMS 4

typedef struct {
    const char *name;     /* NUL-terminated, owned by the handle */
    tcf_ggml_type type;
    int n_dims;           /* 0..4 */
    int64_t ne[TCF_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the row length
                             (innermost, contiguous); dims past n_dims are 1.
                             A [rows, cols] torch weight has ne = {cols, rows}. */
    int64_t numel;
    uint64_t offset;      /* from the start of the data section */
    const void *data;     /* into the map */
    size_t nbytes;        /* numel / block size * block bytes */
} tcf_gguf_tensor;

/* Map a .gguf file and validate all of it. */
tcf_status tcf_gguf_open(const char *path, tcf_gguf **out);
/* Parse a GGUF image held in memory (not copied: buf must outlive the
 * handle). `label` names the source in error messages. */
tcf_status tcf_gguf_from_memory(const void *buf, size_t len, const char *label, tcf_gguf **out);
void tcf_gguf_free(tcf_gguf *g);
uint32_t tcf_gguf_version(const tcf_gguf *g);
uint32_t tcf_gguf_alignment(const tcf_gguf *g);
uint64_t tcf_gguf_data_offset(const tcf_gguf *g); /* file offset of the data section */

/* Metadata, in file order (i < count) or by key (NULL when absent, no error). */
int64_t tcf_gguf_kv_count(const tcf_gguf *g);
const char *tcf_gguf_kv_key(const tcf_gguf *g, int64_t i);
const tcf_gguf_value *tcf_gguf_kv_value(const tcf_gguf *g, int64_t i);
const tcf_gguf_value *tcf_gguf_find(const tcf_gguf *g, const char *key);
tcf_gguf_type tcf_gguf_value_type(const tcf_gguf_value *v);
const char *tcf_gguf_type_name(tcf_gguf_type t); /* "u32", "string", ... */

/* Typed reads of a value. Integers: _i64 takes any integer type (a u64 above
 * INT64_MAX fails), _u64 any integer type holding a value >= 0; _f64 takes
 * f32 and f64; _bool only bool. A wrong type is TCF_ERR_FORMAT naming the key
 * and both types. Strings are NUL-terminated copies owned by the handle; *len
 * (may be NULL) is the byte length, which counts any NUL inside. */
tcf_status tcf_gguf_value_str(const tcf_gguf_value *v, const char **s, size_t *len);
tcf_status tcf_gguf_value_i64(const tcf_gguf_value *v, int64_t *out);
tcf_status tcf_gguf_value_u64(const tcf_gguf_value *v, uint64_t *out);
tcf_status tcf_gguf_value_f64(const tcf_gguf_value *v, double *out);
tcf_status tcf_gguf_value_bool(const tcf_gguf_value *v, int *out);
/* Arrays: element type and count; 0 / TCF_GGUF_TYPE_COUNT for a non-array. */
uint64_t tcf_gguf_array_len(const tcf_gguf_value *v);
tcf_gguf_type tcf_gguf_array_type(const tcf_gguf_value *v);
/* Element i as a value (any element type, nested arrays included); NULL when
 * v is not an array or i is out of range. An element of an array of strings
 * or arrays lives as long as the handle; one of an array of numbers or bools
 * is a view kept in a small per-thread ring, valid until 16 more
 * tcf_gguf_array_at calls on the same thread: read it at once, or use the
 * element getters below. */
const tcf_gguf_value *tcf_gguf_array_at(const tcf_gguf_value *v, uint64_t i);
/* Element i read as by tcf_gguf_value_i64 / _f64 / _str. Not an array, or i
 * out of range: TCF_ERR_ARG naming the key. */
tcf_status tcf_gguf_array_i64(const tcf_gguf_value *v, uint64_t i, int64_t *out);
tcf_status tcf_gguf_array_f64(const tcf_gguf_value *v, uint64_t i, double *out);
tcf_status tcf_gguf_array_str(const tcf_gguf_value *v, uint64_t i, const char **s, size_t *len);

/* Key-level shortcuts: a missing key is TCF_ERR_FORMAT "LABEL: key 'K' is missing". */
tcf_status tcf_gguf_get_str(const tcf_gguf *g, const char *key, const char **s);
tcf_status tcf_gguf_get_i64(const tcf_gguf *g, const char *key, int64_t *out);
tcf_status tcf_gguf_get_f64(const tcf_gguf *g, const char *key, double *out);
tcf_status tcf_gguf_get_bool(const tcf_gguf *g, const char *key, int *out);
/* An array: its element type and count, and the array itself for _array_at. */
tcf_status tcf_gguf_get_array(const tcf_gguf *g, const char *key, tcf_gguf_type *elem,
                              uint64_t *n, const tcf_gguf_value **arr);

/* Tensors, in file order or by name (NULL when absent, no error). */
int64_t tcf_gguf_tensor_count(const tcf_gguf *g);
const tcf_gguf_tensor *tcf_gguf_tensor_at(const tcf_gguf *g, int64_t i);
const tcf_gguf_tensor *tcf_gguf_tensor_find(const tcf_gguf *g, const char *name);
const char *tcf_ggml_type_name(tcf_ggml_type t); /* "Q4_K"; NULL if unknown */
/* Elements per block and bytes per block of a type; 0 if unknown. */
int64_t tcf_ggml_block_size(tcf_ggml_type t);
size_t tcf_ggml_type_size(tcf_ggml_type t);

/* Dequantize rows [row0, row0 + n_rows) of t (a row is ne[0] elements) into
 * dst[n_rows * ne[0]], following ggml-quants.c's dequantize_row_* exactly.
 * TCF_ERR_UNSUPPORTED for a type without a decoder, TCF_ERR_ARG for rows out
 * of range. */
tcf_status tcf_gguf_dequantize_rows(const tcf_gguf_tensor *t, int64_t row0, int64_t n_rows,
                                    float *dst);
/* The whole tensor into dst of n floats; n must equal numel. */
tcf_status tcf_gguf_dequantize(const tcf_gguf_tensor *t, float *dst, int64_t n);

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

/* Load from a tokenizer.json, a vocab.txt, a .gguf file (its tokenizer.ggml.*
 * metadata), or a model directory holding tokenizer.json or vocab.txt
 * (tokenizer.json preferred; tokenizer_config.json read when present).
 * tokenizer.json models: WordPiece and BPE (byte-level, or SentencePiece-style
 * with byte fallback). */
tcf_status tcf_tokenizer_load(const char *path, tcf_tokenizer **out);
/* Build the tokenizer described by a GGUF file's tokenizer.ggml.* keys
 * (model "gpt2" or "llama"; see src/text/tok_gguf.c). The tokenizer copies
 * what it needs: g may be freed afterwards. `label` names it in errors. */
tcf_status tcf_tokenizer_load_gguf(const tcf_gguf *g, const char *label, tcf_tokenizer **out);
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

/* MEAN: over real tokens; CLS: the first token (decoders: the first real
 * one); LAST: the last real token (decoders, as
 * LlamaForSequenceClassification pools). */
typedef enum { TCF_POOL_MEAN = 0, TCF_POOL_CLS = 1, TCF_POOL_LAST = 2 } tcf_pooling;

/* Load a Hugging Face model directory: config.json, model.safetensors,
 * tokenizer.json / vocab.txt. Decoders (Llama, Qwen2, Phi-3) load from such a
 * directory (model_type llama / qwen2 / phi3) or from a .gguf file; they have
 * no tokenizer yet (tcf_model_tokenizer is NULL): give them token ids with
 * tcf_model_embed_ids. */
tcf_status tcf_model_load(const char *dir, tcf_model **out);
void tcf_model_free(tcf_model *m);
const tcf_tokenizer *tcf_model_tokenizer(const tcf_model *m);
int tcf_model_is_decoder(const tcf_model *m);
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
/* The same from token ids: sequence i is ids[i][0 .. lens[i]) (no special
 * tokens are added). A sequence that is empty, longer than the model's
 * positions or holds an id outside the vocabulary fails with TCF_ERR_ARG
 * naming it as "text N: ..." (1-based); nothing is written then. */
tcf_status tcf_model_embed_ids(const tcf_model *m, int n, const int32_t *const *ids,
                               const int *lens, tcf_pooling pooling, int normalize, int batch,
                               int n_threads, float *out);


/* ---- sequence classifiers (inference) -----------------------------------
 * A trained classifier ready to serve: a tcf run directory (`tcf train
 * --out RUN/`, any mode) or a one-file model exported by `tcf export`
 * (MODEL.gguf). LoRA adapters are merged into the base weights at load, so
 * inference costs what the plain encoder costs. */

typedef struct tcf_classifier tcf_classifier;

/* How the encoder multiplies by Q8_0 / Q4_0 dense weights kept quantized in
 * memory (an export of that type loaded without keep_f32).
 *   TCF_QPATH_DECODE  exact: weight blocks decoded to f32 panels on the fly;
 *                     the probabilities equal those of the model widened to
 *                     f32 at load.
 *   TCF_QPATH_INT8    llama.cpp style: each product's input rows rounded to
 *                     Q8_0 (8-bit codes, one f16 scale per 32 values) and
 *                     multiplied by integer block dot products; faster, at
 *                     the price of rounding the activations (accuracy per
 *                     path: docs/BENCHMARKS.md).
 *   TCF_QPATH_AUTO    INT8 for forward passes of at most TCF_QPATH_AUTO_ROWS
 *                     real tokens (all texts of the batch together), DECODE
 *                     above, one path per forward: the faster path at
 *                     each size as measured on AVX2 (docs/BENCHMARKS.md).
 * An f32 / f16 / bf16 encoder is unaffected by AUTO and DECODE; INT8 turns
 * its dense weights into per-row int8 at load (one f32 scale per output
 * row, 4x less memory than f32) and rounds each product's input rows to
 * int8 (one scale per row), summing in integers (kern/i8gemm.h; faster than the Q8_0
 * integer path, banking77 accuracy in docs/BENCHMARKS.md). A decoder in
 * blocks (a QLoRA run, a q8_0 / q4_0 / q4_1 export) is exact under AUTO and
 * DECODE; INT8 re-rounds its dense weights to per-row int8 at load, as for
 * encoders (an f32 decoder: TCF_ERR_UNSUPPORTED). */
typedef enum { TCF_QPATH_AUTO = 0, TCF_QPATH_DECODE = 1, TCF_QPATH_INT8 = 2 } tcf_qpath;
#define TCF_QPATH_AUTO_ROWS 12

typedef struct {
    int n_threads;   /* threads per classify call; <= 0: all cores */
    int max_batch;   /* texts per forward pass; <= 0: 32 */
    int max_len;     /* truncate texts to this many tokens (specials
                        included); <= 0: the length the model was trained
                        with */
    int keep_f32;    /* an export with Q8_0 / Q4_0 dense weights keeps them
                        quantized in memory (the forward multiplies through
                        them; same probabilities as widening them) unless
                        this is set: then they are widened to f32 at load */
    int qpath;       /* tcf_qpath for quantized dense weights; 0: AUTO */
} tcf_classifier_opts;

/* Load `path`: a run directory or a .gguf file written by `tcf export`.
 * opts == NULL: all defaults. Caller frees with tcf_classifier_free. */
tcf_status tcf_classifier_load(const char *path, const tcf_classifier_opts *opts,
                               tcf_classifier **out);
void tcf_classifier_free(tcf_classifier *c);
int tcf_classifier_n_classes(const tcf_classifier *c);
/* Name of class k (0 <= k < n_classes); owned by c. NULL if out of range. */
const char *tcf_classifier_label(const tcf_classifier *c, int k);
/* The tokenizer (owned by c), e.g. to count tokens before classifying. */
const tcf_tokenizer *tcf_classifier_tokenizer(const tcf_classifier *c);
int tcf_classifier_max_len(const tcf_classifier *c);
/* The abstain threshold stored in an export (`tcf export --abstain-below P`):
 * a text whose top probability is below it should be answered "abstain".
 * < 0 when the model carries none (run directories, exports without it). */
double tcf_classifier_abstain_below(const tcf_classifier *c);

/* Class probabilities of n texts: probs (n, n_classes), rows summing to 1.
 * lens may be NULL (texts are NUL-terminated). Safe to call concurrently
 * on one classifier from any number of threads (each call takes its own
 * workspace from a pool kept by c; once warm, nothing is allocated
 * for calls of up to max_batch texts). On a text that fails (invalid UTF-8)
 * the error names it as "text N: ..." (1-based) and the contents of probs
 * are unspecified. */
tcf_status tcf_classifier_classify(tcf_classifier *c, int n, const char *const *texts,
                                   const size_t *lens, float *probs);

#ifdef __cplusplus
}
#endif
#endif /* TCF_H */
