/*
 * export.h — `tcf export`: a trained classifier as one GGUF file (LoRA
 * merged, dense weights encoded as asked) or as a PEFT adapter directory.
 * The keys and tensors of the GGUF file are listed in docs/EXPORT.md; the
 * loader is tcf_classifier_load_gguf (model/infer.h).
 */
#ifndef TCF_EXPORT_H
#define TCF_EXPORT_H

#include "tcf.h"
#include "io/gguf_write.h"
#include "model/bert.h"

/* "f32" "f16" "bf16" "q8_0" "q4_0" "q4_1" "q4_k" -> the ggml type; -1 if
 * unknown (q4_1: decoder classifiers only; q4_k: encoder classifiers only). */
int tcf_export_type_parse(const char *name);

/* The type a dense weight with rows of `in` takes when `type` is asked for:
 * Q8_0 for Q4_K rows that are not whole super-blocks of 256, else `type`. */
tcf_ggml_type tcf_export_dense_type(tcf_ggml_type type, int64_t in);

/* Load the run directory `run_dir` (tcf_classifier_load: LoRA merged), and
 * write `out_path` atomically: llama.cpp's BERT layout with the encoder and
 * pooler dense weights in `type` (F32 F16 BF16 Q8_0 Q4_0 Q4_K; Q4_K as
 * tcf_export_dense_type says), everything else F32, plus tokenizer, labels and provenance (base model path and sha256,
 * training data sha256 when the file is still there, tcf_run.json, tcf
 * version, export time), and, when abstain_below >= 0, the abstain threshold
 * tcf.abstain_below (a top score below it means "abstain"; must be in
 * [0, 1], else TCF_ERR_ARG; < 0: no key). On failure nothing is left at
 * out_path. */
tcf_status tcf_export_gguf(const char *run_dir, const char *out_path, tcf_ggml_type type, double abstain_below);
/* The same; no_merge (decoder runs whose base is a GGUF file): the base's
 * tensors copied as they are (its own blocks, which the run trained on;
 * `type` is ignored) and the LoRA adapters stored beside them, applied at
 * inference: the run's exact probabilities in the base's size.
 * TCF_ERR_UNSUPPORTED for encoder runs, directory bases, or a run trained
 * on blocks quantized at load. */
tcf_status tcf_export_gguf_ex(const char *run_dir, const char *out_path, tcf_ggml_type type, double abstain_below,
                              int no_merge);

/* Write a LoRA run's adapter to out_dir in PEFT's format
 * (adapter_config.json + adapter_model.safetensors, the head under
 * modules_to_save as PEFT 0.21 saves it for SEQ_CLS), with
 * base_model_name_or_path = the run's base model. Runs of --mode head/full
 * have no adapter: TCF_ERR_UNSUPPORTED. */
tcf_status tcf_export_peft(const char *run_dir, const char *out_dir);

/* The parts of llama.cpp's BERT layout that tcf export and tcf quantize
 * share, appended to w: the bert.* hyper-parameters (context_length through
 * attention.causal); the tokenizer (tokenizer.ggml.* in llama.cpp's
 * WordPiece spelling, then the verbatim tokenizer.json as
 * tokenizer.huggingface.json); the weights: embeddings, LayerNorms and
 * biases F32, the encoder's dense weights and the pooler ("cls", when m has
 * one) in `type` (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q4_K; rows must be whole
 * blocks, except Q4_K's: tcf_export_dense_type). */
tcf_status tcf_export_bert_hparams(tcf_gguf_writer *w, const tcf_bert_config *cf);
tcf_status tcf_export_bert_tokenizer(tcf_gguf_writer *w, const tcf_bert *m, const tcf_tokenizer *tok, const char *json,
                                     size_t json_len, const char *json_path);
tcf_status tcf_export_bert_weights(tcf_gguf_writer *w, const tcf_bert *m, tcf_ggml_type type);

/* The tcf.* keys every export carries (format version, tcf version,
 * max_len, tcf.pooling = `pooling`, export type and time, source run, base
 * model path and sha256 (a directory's model.safetensors, else the file),
 * training data sha256, tcf_run.json). */
tcf_status tcf_export_put_provenance(tcf_gguf_writer *w, const tcf_classifier *c, const char *run_dir,
                                     const char *base, tcf_ggml_type type, const char *pooling);

/* A decoder classifier (c: a loaded decoder run, adapters unmerged) as one
 * GGUF file in llama.cpp's llama layout, LoRA merged into `base`'s weights,
 * dense weights in `type` (F32 F16 BF16 Q8_0 Q4_0 Q4_1); model/export_llama.c. */
tcf_status tcf_export_llama_gguf(const tcf_classifier *c, const char *run_dir, const char *base, const char *out_path,
                                 tcf_ggml_type type, double abstain_below, int no_merge);
/* Fill c (model, tokenizer, labels, head, pooling, max_len) from an
 * exported decoder classifier g at path. */
tcf_status tcf_classifier_load_llama_gguf(const tcf_gguf *g, const char *path, tcf_classifier *c);

/* llama.cpp's general.file_type (LlamaFileType) for a file whose dense
 * weights are of type t: f16 1, q4_0 2, q4_1 3, q8_0 7, q4_k 14 (Q4_K_S),
 * bf16 32, else 0
 * (all f32). Shared by tcf export and tcf quantize. */
uint32_t tcf_export_file_type(tcf_ggml_type t);

#endif /* TCF_EXPORT_H */
