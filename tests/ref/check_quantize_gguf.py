#!/usr/bin/env python3
"""Check a `tcf quantize` output made from a GGUF input with gguf-py alone.

  .venv/bin/python tests/ref/check_quantize_gguf.py IN.gguf OUT.gguf

Reads both with gguf.GGUFReader; every tensor of IN is dequantized by
gguf.quants.dequantize, its type chosen by convert_hf_to_gguf's rules for
OUT's general.file_type (1-D / *_norm.weight / not *.weight / position and
token-type embeddings: F32; rows not whole 32-blocks: F16), encoded by
gguf.quants.quantize and compared byte for byte with OUT's tensor; every
metadata key of IN but the two tcf sets anew must be in OUT with the same
value. Prints the counts; exits 1 on any difference.
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

FTYPE = {0: QT.F32, 1: QT.F16, 2: QT.Q4_0, 3: QT.Q4_1, 7: QT.Q8_0, 32: QT.BF16}


def pick(name, n_dims, ne0, want):
    if n_dims <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight") \
            or name in ("position_embd.weight", "token_types.weight") or "ffn_gate_inp" in name:
        return QT.F32
    block = gguf.GGML_QUANT_SIZES[want][0]
    return want if ne0 % block == 0 else QT.F16


def main(src, out):
    a, b = gguf.GGUFReader(src), gguf.GGUFReader(out)
    want = FTYPE[int(b.fields["general.file_type"].contents())]
    bt = {t.name: t for t in b.tensors}
    same = diff = 0
    for t in a.tensors:
        x = gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(n) for n in reversed(t.shape)])
        q = pick(t.name, len(t.shape), int(t.shape[0]), want)
        ref = gguf.quants.quantize(np.ascontiguousarray(x, dtype=np.float32), q).tobytes()
        o = bt.get(t.name)
        if o is not None and o.tensor_type == q and o.data.tobytes() == ref:
            same += 1
        else:
            diff += 1
            print(f"differs: {t.name} ({o.tensor_type.name if o is not None else 'missing'} vs {q.name})")
    kv_same = kv_n = 0
    for k, f in a.fields.items():
        if k.startswith("GGUF.") or k in ("general.file_type", "general.quantization_version", "tcf.export.type"):
            continue
        kv_n += 1
        g = b.fields.get(k)
        if g is not None and g.contents() == f.contents():
            kv_same += 1
        else:
            print(f"key differs: {k}")
    print(f"{out}: {same}/{len(a.tensors)} tensors byte-identical to gguf.quants.quantize of {src}'s decoded "
          f"tensors ({len(b.tensors)} in the output); {kv_same}/{kv_n} metadata keys copied")
    return 0 if diff == 0 and kv_same == kv_n and len(b.tensors) == len(a.tensors) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
