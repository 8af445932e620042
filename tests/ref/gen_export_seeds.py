#!/usr/bin/env python3
"""Seeds for fuzz/fuzz_export_gguf.c: tiny exported classifiers (hidden 32,
1 layer, 2 heads, FFN 64, 16 positions, a 16-token WordPiece vocabulary, 3
labels) written with gguf-py in tcf export's layout (docs/EXPORT.md), one
with F32 dense weights and one with Q8_0 ones, random weights; and one as
`tcf export --type q4_k` lays it out with FFN 256: FFN down (rows of 256)
Q4_K, random blocks with finite f16 scales (gguf-py cannot encode Q4_K), the
other dense weights Q8_0.

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


def write(path, dense, I=I):
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
        if dense == T.Q4_K and i % 256 == 0:
            b = rng.integers(0, 256, size=(o, i // 256, 144), dtype=np.uint8)
            b[:, :, 0:4] = np.frombuffer(np.array([0.002, 0.01], np.float16).tobytes(), np.uint8)
            w.add_tensor(name, b.reshape(o, -1), raw_dtype=T.Q4_K)
            return
        t = T.Q8_0 if dense == T.Q4_K else dense
        x = (rng.standard_normal((o, i)) * 0.1).astype(np.float32)
        w.add_tensor(name, gguf.quants.quantize(x, t) if t != T.F32 else x, raw_dtype=t)
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
write(f"{OUT}/tiny_q4_k.gguf", T.Q4_K, I=256)
print("wrote", OUT)
