#!/usr/bin/env python3
"""Fixtures for tests/test_quantize.c: f32 -> F16 / BF16 / Q8_0 / Q4_0 by
gguf-py 0.19 (gguf.quants.quantize, bit-exact with ggml's
quantize_row_*_ref), and a small GGUF file written by gguf-py's GGUFWriter
that tcf's writer (src/io/gguf_write.c) must reproduce byte for byte.

Writes under tests/fixtures/quant/:
  input.f32     (N_BLOCKS * 32) little-endian f32: hand-made blocks (zeros,
                exact ties for both rounding rules, a lone maximum, equal
                |max| of both signs, tiny and large values, f16 subnormal
                scales) then seeded normal rows
  f16.bin bf16.bin q8_0.bin q4_0.bin   gguf.quants.quantize of input.f32
  writer.gguf   GGUFWriter output: one metadata value of each kind tcf's
                writer emits, and input.f32 as a (rows, 64) tensor in each
                of F32 F16 BF16 Q8_0 Q4_0 plus a 1-D F32 bias

Run from the repository root:  .venv/bin/python tests/ref/gen_quant_fixtures.py
"""
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = "tests/fixtures/quant"
rng = np.random.default_rng(20261201)


def blocks():
    b = []
    b.append(np.zeros(32))                                  # all zero: d = 0, id = 0
    b.append(np.concatenate([[127.0], np.arange(31) - 15.5]))  # d = 1, q8 ties at .5
    b.append(np.concatenate([[-8.0], np.arange(31) / 2 - 7.75]))  # q4: d = 1, x + 8.5 exact
    x = np.zeros(32); x[17] = 3.0; b.append(x)              # a lone maximum
    x = rng.standard_normal(32); x[3] = 2.5; x[9] = -2.5; b.append(x)  # |max| tie of both signs
    x = rng.standard_normal(32); x[0] = -2.5; x[5] = 2.5; b.append(x)
    b.append(rng.standard_normal(32) * 1e-6)                # f16 subnormal scales
    b.append(rng.standard_normal(32) * 1e-9)                # scale rounds to f16 zero
    b.append(rng.standard_normal(32) * 300.0)               # large values
    x = rng.standard_normal(32).astype(np.float32)
    x = (np.round(x * 16) / 16); b.append(x)                # many exact halves
    return np.stack(b)


def main():
    hand = blocks()
    rand = rng.standard_normal((54, 32)) * 0.05
    x = np.concatenate([hand, rand]).astype(np.float32).reshape(-1)  # 64 blocks
    assert x.size % 64 == 0
    x.tofile(f"{OUT}/input.f32")
    for name, t in (("f16", T.F16), ("bf16", T.BF16), ("q8_0", T.Q8_0), ("q4_0", T.Q4_0)):
        q = gguf.quants.quantize(x.reshape(-1, 64), t)
        np.ascontiguousarray(q).tofile(f"{OUT}/{name}.bin")

    w = gguf.GGUFWriter(f"{OUT}/writer.gguf", arch="tcftest")
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -7)
    w.add_float32("t.f32", 0.125)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo \"gguf\"")
    w.add_array("t.arr_str", ["a", "", "[CLS]", "\u2581x"])
    w.add_array("t.arr_i32", [1, -2, 3])
    m = x.reshape(-1, 64)
    w.add_tensor("w.f32", m)
    for name, t in (("w.f16", T.F16), ("w.bf16", T.BF16), ("w.q8_0", T.Q8_0), ("w.q4_0", T.Q4_0)):
        q = gguf.quants.quantize(m, t)
        w.add_tensor(name, q, raw_dtype=t)
    w.add_tensor("b.f32", x[:5].copy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
