#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_export_gguf.c: tiny exported classifiers (hidden 32,
1 layer, 2 heads, FFN 64, 16 positions, a 16-token WordPiece vocabulary, 3
labels) written with gguf-py in tcf export's layout (docs/EXPORT.md), one
with F32 dense weights and one with Q8_0 ones, random weights.

Run from the repository root:  .venv/bin/python tests/ref/gen_export_seeds.py
"""
import json

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = "fuzz/seeds/export"
rng = np.random.default_rng(7)
C, I, P, L = 32, 64, 16, 1
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "hello", "world", "##s", "##ed",
         "the", "is", "?", "!"]


def tokenizer_json():
    t = json.load(open("models/all-MiniLM-L6-v2/tokenizer.json", encoding="utf-8"))
    ids = {tok: i for i, tok in enumerate(VOCAB)}
    t["model"]["vocab"] = ids
    for a in t["added_tokens"]:
        a["id"] = ids[a["content"]]
    for name, st in t["post_processor"]["special_tokens"].items():
        st["ids"] = [ids[name]]
    t["truncation"]["max_length"] = P
    t["padding"] = None
    return json.dumps(t, ensure_ascii=False)


def write(path, dense):
    w = gguf.GGUFWriter(path, arch="bert")
    w.add_uint32("bert.context_length", P)
    w.add_uint32("bert.embedding_length", C)
    w.add_uint32("bert.feed_forward_length", I)
    w.add_uint32("bert.block_count", L)
    w.add_uint32("bert.attention.head_count", 2)
    w.add_float32("bert.attention.layer_norm_epsilon", 1e-12)
    w.add_uint32("bert.pooling_type", 4)
    w.add_array("bert.classifier.output_labels", ["x", "y", "z"])
    w.add_string("tokenizer.ggml.model", "bert")
    w.add_string("tokenizer.huggingface.json", tokenizer_json())
    w.add_uint32("tcf.format_version", 1)
    w.add_uint32("tcf.max_len", P)

    def f32(name, *shape):
        w.add_tensor(name, (rng.standard_normal(shape) * 0.1).astype(np.float32))

    def lin(name, o, i):
        x = (rng.standard_normal((o, i)) * 0.1).astype(np.float32)
        w.add_tensor(name, gguf.quants.quantize(x, dense) if dense != T.F32 else x, raw_dtype=dense)
    f32("token_embd.weight", len(VOCAB), C)
    f32("position_embd.weight", P, C)
    f32("token_types.weight", 2, C)
    w.add_tensor("token_embd_norm.weight", np.ones(C, np.float32))
    f32("token_embd_norm.bias", C)
    for l in range(L):
        for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
            lin(f"blk.{l}.{n}.weight", C, C)
            f32(f"blk.{l}.{n}.bias", C)
        for n in ("attn_output_norm", "layer_output_norm"):
            w.add_tensor(f"blk.{l}.{n}.weight", np.ones(C, np.float32))
            f32(f"blk.{l}.{n}.bias", C)
        lin(f"blk.{l}.ffn_up.weight", I, C)
        f32(f"blk.{l}.ffn_up.bias", I)
        lin(f"blk.{l}.ffn_down.weight", C, I)
        f32(f"blk.{l}.ffn_down.bias", C)
    lin("cls.weight", C, C)
    f32("cls.bias", C)
    f32("cls.output.weight", 3, C)
    f32("cls.output.bias", 3)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


write(f"{OUT}/tiny_f32.gguf", T.F32)
write(f"{OUT}/tiny_q8_0.gguf", T.Q8_0)
print("wrote", OUT)
