/*
 * quantize.h — `tcf quantize`: a checkpoint as one GGUF file in llama.cpp's
 * layout, its weights in F32, F16, BF16, Q8_0, Q4_0, Q4_1 or Q4_K.
 *
 * Inputs: a Hugging Face directory (config.json + model.safetensors
 * [+ tokenizer.json, tokenizer_config.json]) of a Llama decoder (model_type
 * llama) or a BERT encoder (model_type bert), or a GGUF file of architecture
 * llama or bert (re-quantized: every tensor is decoded to f32 and encoded
 * again, so re-quantizing an already quantized file adds the new rounding
 * on top of the old). Qwen2 and Phi-3 checkpoints are refused: tcf's GGUF
 * loader reads only llama's layout, so it could not read what it wrote.
 * The file layout, tensor types and tokenizer keys are described in
 * src/model/quantize.c and docs/EXPORT.md.
 */
#ifndef TCF_QUANTIZE_MODEL_H
#define TCF_QUANTIZE_MODEL_H

#include "io/gguf_write.h"
#include "tcf.h"

/* What a quantize run wrote (filled as far as it got). */
typedef struct {
    char source[32];         /* "hf llama", "hf bert", "gguf llama", "gguf bert" */
    int n_tensors;           /* tensors written */
    int n_typed;             /* ... in the requested type */
    int n_f32;               /* ... kept F32 (1-D, norms, biases, embeddings llama.cpp keeps F32) */
    int n_f16_fallback;      /* ... F16 because rows are not whole blocks of 32 */
    int n_q8_fallback;       /* ... Q8_0 (type q4_k) because rows are not whole super-blocks of 256 */
    int has_tokenizer;       /* tokenizer.ggml.* written (or copied) */
    uint64_t params;         /* weights written */
    uint64_t tensor_bytes;   /* bytes of tensor data written */
} tcf_quantize_info;

/* "f32" "f16" "bf16" "q8_0" "q4_0" "q4_1" "q4_k" -> the ggml type; -1 otherwise. */
int tcf_quantize_type_parse(const char *name);

/* Read `in` (see above), write `out` atomically with the dense weights in
 * `type`: nothing is left at out on failure (an existing file there stays
 * as it was). `info` may be NULL. Errors name the file, key or tensor and
 * the cause: TCF_ERR_UNSUPPORTED for a model type or architecture it does
 * not convert, TCF_ERR_FORMAT / TCF_ERR_IO from the readers for broken
 * inputs, TCF_ERR_ARG for a bad type or out == in. */
tcf_status tcf_quantize_model(const char *in, const char *out, tcf_ggml_type type, tcf_quantize_info *info);

/* For writers built on the Llama conversion (tcf export of a decoder
 * classifier merges its LoRA adapters this way): `tensor` sees every
 * tensor decoded to f32, in llama.cpp's row order (q/k permuted) and ggml
 * dims ne[0] = row length, before it is checked and encoded, and may
 * change it; `finish` appends keys and tensors after the last one. Either
 * may be NULL; an error from either aborts the run (nothing written). Only
 * llama inputs (GGUF or directory) are accepted. */
typedef struct {
    tcf_status (*tensor)(void *ctx, const char *name, int n_dims, const int64_t *ne, float *x);
    tcf_status (*finish)(void *ctx, tcf_gguf_writer *w);
    void *ctx;
    /* GGUF input only: copy every tensor as it is (its type and bytes; no
     * decoding, `tensor` not called, `type` only names general.file_type) */
    int verbatim;
} tcf_quantize_hooks;
tcf_status tcf_quantize_model_hooked(const char *in, const char *out, tcf_ggml_type type, const tcf_quantize_hooks *h,
                                     tcf_quantize_info *info);

/* HF rows (n_head * D, C) of q or k into llama.cpp's interleaved RoPE order
 * in place (convert_hf_to_gguf's LlamaModel.permute: GGUF row h*D + 2i + j
 * = HF row h*D + j*D/2 + i); tmp holds D * C floats. */
void tcf_quantize_permute_rows(float *w, int n_head, int D, int64_t C, float *tmp);

#endif /* TCF_QUANTIZE_MODEL_H */
