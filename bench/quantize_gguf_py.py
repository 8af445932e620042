#!/usr/bin/env python3
"""The peer of `tcf quantize` for a GGUF input, in gguf-py (0.19) alone: read
IN with GGUFReader, copy its metadata (general.file_type set anew), decode
every tensor (gguf.quants.dequantize), pick its type by convert_hf_to_gguf's
rules, encode it (gguf.quants.quantize) and write OUT with GGUFWriter. Used by
bench/run_quantize.sh; tests/ref/check_quantize_gguf.py checks tcf's output
against the same arithmetic.

  .venv/bin/python bench/quantize_gguf_py.py IN.gguf OUT.gguf q8_0|q4_0|q4_1|f16|f32
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT

TYPES = {"f32": (QT.F32, 0), "f16": (QT.F16, 1), "q4_0": (QT.Q4_0, 2), "q4_1": (QT.Q4_1, 3), "q8_0": (QT.Q8_0, 7)}


def pick(name, n_dims, ne0, want):
    if n_dims <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight") \
            or name in ("position_embd.weight", "token_types.weight"):
        return QT.F32
    return want if ne0 % gguf.GGML_QUANT_SIZES[want][0] == 0 else QT.F16


def main(src, out, tname):
    want, ftype = TYPES[tname]
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(out, arch=None)  # general.architecture is copied with the rest
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        if k == "general.file_type":
            w.add_uint32(k, ftype)
        elif f.types[0] == VT.ARRAY:
            w.add_key_value(k, f.contents(), VT.ARRAY, sub_type=f.types[-1])
        else:
            w.add_key_value(k, f.contents(), f.types[0])
    for t in r.tensors:
        x = gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(n) for n in reversed(t.shape)])
        q = pick(t.name, len(t.shape), int(t.shape[0]), want)
        w.add_tensor(t.name, gguf.quants.quantize(np.ascontiguousarray(x, dtype=np.float32), q), raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
