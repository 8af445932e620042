/*
 * adapter_io.h — save and load LoRA adapters in PEFT's on-disk format
 * (docs/PEFT_NOTES.md, "What save_pretrained writes"):
 *
 *   DIR/adapter_model.safetensors  every tcf_lora_params() tensor, F32, under
 *                                  PEFT's saved names ("base_model.model.
 *                                  bert.encoder.layer.0.attention.self.query.
 *                                  lora_A.weight" [r, in], ... lora_B [out, r],
 *                                  "base_model.model.classifier.weight"
 *                                  [n_classes, hidden], ".bias" [n_classes]),
 *                                  __metadata__ {"format": "pt"}
 *   DIR/adapter_config.json        LoraConfig fields, task_type SEQ_CLS
 *
 * PeftModel.from_pretrained loads such a directory onto
 * BertForSequenceClassification (tests/ref/check_adapter_peft.py checks it).
 */
#ifndef TCF_ADAPTER_IO_H
#define TCF_ADAPTER_IO_H

#include "train/llama_lora.h"
#include "train/lora.h"

/* Write `l` to `dir` (created if missing, parents included).
 * base_model_path goes to base_model_name_or_path (NULL writes null).
 * Each file is written atomically (temp + fsync + rename). Order: weights
 * first, config last, so a failure never leaves a new config paired with
 * old weights: if the weights fail nothing changed; if the config fails the
 * directory holds the new weights with the previous config (if any), which
 * the loader rejects when shapes disagree. The caller keeps `l`. */
tcf_status tcf_adapter_save(const tcf_lora *l, const char *dir, const char *base_model_path);

/* Read an adapter saved by tcf_adapter_save or PEFT for an encoder of
 * n_layers x (hidden, inter). target_modules must be a list; PEFT's
 * matching (an entry t wraps module path p if p == t or p ends with "." t)
 * is applied to the encoder's module paths and must select whole kinds
 * (every layer or none). Regex strings, rank/alpha patterns, fan_in_fan_out,
 * DoRA, LoRA biases, targets outside the encoder layers (e.g. "dense" also
 * wraps bert.pooler.dense): TCF_ERR_UNSUPPORTED. Malformed files, missing or
 * misshapen tensors, unexpected tensors: TCF_ERR_FORMAT naming the file and
 * the tensor. Tensors may be F32, F16, BF16 or F64. n_classes comes from
 * classifier.weight. Caller frees *out with tcf_lora_free. */
tcf_status tcf_adapter_load(const char *dir, int n_layers, int hidden, int inter, tcf_lora **out);

/* A decoder's adapter (LlamaForSequenceClassification + PEFT LoRA on q_proj
 * k_proj v_proj o_proj gate_proj up_proj down_proj of every layer, score
 * under modules_to_save): the same two files, tensor names as
 * tcf_llama_lora_params. Load reads what save writes (and PEFT adapters of
 * that shape): r and lora_alpha from the config, every tensor present with
 * its shape, nothing else; n_labels from score.weight. */
tcf_status tcf_llama_adapter_save(tcf_llama_lora *lo, const char *dir, const char *base_model_path);
tcf_status tcf_llama_adapter_load(const char *dir, const tcf_llama_config *cfg, tcf_llama_lora **out);

#endif /* TCF_ADAPTER_IO_H */
