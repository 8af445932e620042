#!/usr/bin/env python3
"""Fixtures for tests/test_gguf.c, made with gguf-py (llama.cpp's own GGUF
library, PyPI `gguf`, pinned in requirements.txt).

Writes under tests/fixtures/gguf/:
  types.gguf           every metadata value type (nested arrays included),
                       general.alignment = 64, and one tensor of each type
                       tcf decodes (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K
                       Q6_K) plus a Q2_K one tcf only maps; shapes include 3-D
                       and 4-D. Quantized with gguf.quants.quantize where
                       gguf-py can (Q4_0..Q8_0, BF16); Q4_K / Q6_K / Q2_K have
                       no quantizer there, so their blocks are random bytes
                       with small finite f16 scales.
  types_expected.gguf  F32 tensors of the same names: gguf.quants.dequantize
                       of each (the truth the C decoders must match exactly).
  smollm2_rows.gguf    only if models/SmolLM2-135M-Instruct/*.Q4_1.gguf is
                       present: rows 0-1 of a few real tensors dequantized by
                       gguf-py, and the metadata values the test checks.

Run from the repository root:  .venv/bin/python tests/ref/gen_gguf_fixtures.py
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

OUT = "tests/fixtures/gguf"
SMOL = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
rng = np.random.default_rng(20261125)


def random_blocks(qtype, n_blocks, f16_fields):
    """Random block bytes with the f16 scale fields (byte offsets) set to
    finite values in [-0.05, 0.05] (and a few exact zeros and negatives)."""
    bs, ts = GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(n_blocks, ts), dtype=np.uint8)
    for off in f16_fields:
        d = rng.uniform(-0.05, 0.05, size=n_blocks).astype(np.float16)
        b[:, off:off + 2] = d.view(np.uint8).reshape(n_blocks, 2)
    return b


def quant_tensor(qtype, rows, cols):
    """(stored bytes reshaped to (rows, row_bytes), logical shape)."""
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    x[0, :8] = 0  # a block that starts with zeros
    return gguf.quants.quantize(x, qtype)


def write_types():
    w = gguf.GGUFWriter(f"{OUT}/types.gguf", arch="tcftest")
    w.data_alignment = 64
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_bool("t.bool_false", False)
    w.add_string("t.string", "h\u00e9llo")
    w.add_string("t.empty_string", "")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62) - 7)
    w.add_float64("t.f64", 3.141592653589793)
    w.add_key_value("t.arr_u32", [1, 2, 4000000000], gguf.GGUFValueType.ARRAY,
                    sub_type=gguf.GGUFValueType.UINT32)
    w.add_array("t.arr_str", ["a", "bc", ""])
    w.add_array("t.arr_f32", [0.25, -2.0])
    w.add_array("t.arr_bool", [True, False, True])
    w.add_array("t.arr_nested", [[1, 2], [3]])
    w.add_array("t.arr_nested_str", [["x"], ["yz", "w"]])
    w.add_array("t.arr_empty", [])
    w.add_key_value("t.arr_i64", [-1, 2**40], gguf.GGUFValueType.ARRAY,
                    sub_type=gguf.GGUFValueType.INT64)
    w.add_key_value("t.arr_f64", [1e300, -0.5], gguf.GGUFValueType.ARRAY,
                    sub_type=gguf.GGUFValueType.FLOAT64)
    w.add_key_value("t.arr_u8", [0, 255], gguf.GGUFValueType.ARRAY,
                    sub_type=gguf.GGUFValueType.UINT8)

    tensors = {}
    f32 = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3
    w.add_tensor("f32_3d", f32)  # ne = (4, 3, 2)
    tensors["f32_3d"] = (f32, T.F32)
    f16 = rng.standard_normal((1, 2, 3, 8)).astype(np.float16)
    f16[0, 0, 0, :4] = [0, -0.0, 6.1e-5, 65504]  # zero, -zero, subnormal-ish, max
    w.add_tensor("f16_4d", f16)
    tensors["f16_4d"] = (f16, T.F16)
    bf = gguf.quants.quantize(rng.standard_normal((3, 16)).astype(np.float32), T.BF16)
    w.add_tensor("bf16", bf, raw_dtype=T.BF16)
    tensors["bf16"] = (bf, T.BF16)
    for qt, rows, cols in [(T.Q4_0, 3, 64), (T.Q4_1, 3, 64), (T.Q5_0, 2, 64),
                           (T.Q5_1, 2, 64), (T.Q8_0, 3, 64)]:
        q = quant_tensor(qt, rows, cols)
        w.add_tensor(qt.name.lower(), q, raw_dtype=qt)
        tensors[qt.name.lower()] = (q, qt)
    # K-quants: 2 rows of 512 (2 blocks each)
    for qt, f16_fields in [(T.Q4_K, [0, 2]), (T.Q6_K, [208]), (T.Q2_K, [80, 82])]:
        b = random_blocks(qt, 4, f16_fields).reshape(2, -1)
        w.add_tensor(qt.name.lower(), b, raw_dtype=qt)
        tensors[qt.name.lower()] = (b, qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    e = gguf.GGUFWriter(f"{OUT}/types_expected.gguf", arch="tcftest")
    for name, (data, qt) in tensors.items():
        if qt == T.Q2_K:
            continue  # tcf does not decode it; the test checks it says so
        x = gguf.quants.dequantize(data, qt) if qt not in (T.F32, T.F16) else data
        e.add_tensor(name, np.ascontiguousarray(x, dtype=np.float32))
    e.write_header_to_file()
    e.write_kv_data_to_file()
    e.write_tensors_to_file()
    e.close()


def write_smollm2():
    if not os.path.exists(SMOL):
        print(f"{SMOL} absent: smollm2_rows.gguf not regenerated")
        return
    r = gguf.GGUFReader(SMOL)
    w = gguf.GGUFWriter(f"{OUT}/smollm2_rows.gguf", arch="tcftest")
    f = r.fields

    def scalar(k):
        return f[k].contents()

    w.add_string("x.general.architecture", scalar("general.architecture"))
    w.add_string("x.tokenizer.ggml.model", scalar("tokenizer.ggml.model"))
    for k in ["llama.block_count", "llama.embedding_length", "llama.context_length",
              "llama.attention.head_count", "llama.attention.head_count_kv",
              "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]:
        w.add_uint32("x." + k, scalar(k))
    w.add_float32("x.llama.rope.freq_base", scalar("llama.rope.freq_base"))
    w.add_float32("x.llama.attention.layer_norm_rms_epsilon",
                  scalar("llama.attention.layer_norm_rms_epsilon"))
    toks = f["tokenizer.ggml.tokens"]
    merges = f["tokenizer.ggml.merges"]
    w.add_uint32("x.tokens_count", len(toks.data))
    w.add_uint32("x.merges_count", len(merges.data))
    w.add_uint32("x.tensor_count", len(r.tensors))
    ids = [0, 1, 2, 100, 1000, len(toks.data) - 1]
    w.add_array("x.token_ids", ids)
    w.add_array("x.tokens", [toks.contents(i) for i in ids])
    w.add_array("x.merges", [merges.contents(i) for i in (0, len(merges.data) - 1)])
    by_name = {t.name: t for t in r.tensors}
    for name in ["token_embd.weight", "blk.0.ffn_down.weight", "blk.29.attn_v.weight",
                 "blk.0.attn_norm.weight", "output_norm.weight"]:
        t = by_name[name]
        rows = t.data[:2] if t.data.ndim == 2 else t.data.reshape(1, -1)
        x = gguf.quants.dequantize(np.ascontiguousarray(rows), t.tensor_type)
        w.add_tensor(name, np.ascontiguousarray(x, dtype=np.float32))
        w.add_string("x.type." + name, t.tensor_type.name)
        w.add_array("x.ne." + name, [int(d) for d in t.shape])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    write_types()
    write_smollm2()
    for fn in sorted(os.listdir(OUT)):
        print(fn, os.path.getsize(f"{OUT}/{fn}"))


if __name__ == "__main__":
    sys.exit(main())
