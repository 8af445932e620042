#!/usr/bin/env python3
"""By hand: `tcf quantize` on a real Hugging Face Llama directory.

  .venv/bin/python tests/ref/check_quantize_hf_smollm2.py [WORKDIR]

models/ holds SmolLM2-135M-Instruct only as llama.cpp's Q4_1 GGUF (written
by convert_hf_to_gguf + llama-quantize). transformers' GGUF loader turns it
into a Hugging Face checkpoint (weights dequantized to f32, q/k un-permuted,
tokenizer.json rebuilt from tokenizer.ggml.*), saved to WORKDIR/hf. Then
build/tcf quantize converts that directory to q8_0, and this compares with
the original GGUF, decoded and encoded by gguf-py:
  - every tensor: bytes equal gguf.quants.quantize(Q8_0) of gguf-py's
    decoding of the original (this checks the q/k permutation at 9 / 3
    heads and the tensor names on a real model);
  - tokenizer.ggml.tokens / token_type / merges / special ids equal the
    original's (what convert_hf_to_gguf wrote). tokenizer.ggml.pre is
    expected to differ: transformers rebuilds the tokenizer without the
    Digits step, so tcf's structural match names it "gpt-2", not "smollm".
Prints what it finds; exits 1 on a tensor difference.
"""
import os, subprocess, sys, tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC_DIR = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
SRC = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main(work):
    hf = os.path.join(work, "hf")
    if not os.path.exists(os.path.join(hf, "model.safetensors")):
        from safetensors.torch import save_file
        m = AutoModelForCausalLM.from_pretrained(SRC_DIR, gguf_file=SRC, dtype="float32")
        # save_pretrained refuses a GGUF-loaded model: write config + weights
        os.makedirs(hf, exist_ok=True)
        m.config.save_pretrained(hf)
        sd = {k: v.contiguous() for k, v in m.state_dict().items()
              if not (k == "lm_head.weight" and m.config.tie_word_embeddings)}
        save_file(sd, os.path.join(hf, "model.safetensors"), metadata={"format": "pt"})
        AutoTokenizer.from_pretrained(SRC_DIR, gguf_file=SRC).save_pretrained(hf)
    out = os.path.join(work, "hf_q8_0.gguf")
    r = subprocess.run([os.path.join(ROOT, "build", "tcf"), "quantize", "--model", hf, "--out", out, "--type", "q8_0"],
                       capture_output=True, text=True)
    print(r.stderr.strip())
    if r.returncode:
        return 1
    a, b = gguf.GGUFReader(os.path.join(SRC_DIR, SRC)), gguf.GGUFReader(out)
    bt = {t.name: t for t in b.tensors}
    same, diff = 0, []
    for t in a.tensors:
        x = gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(n) for n in reversed(t.shape)])
        q = QT.F32 if len(t.shape) <= 1 or t.name.endswith("_norm.weight") else QT.Q8_0
        ref = gguf.quants.quantize(np.ascontiguousarray(x, dtype=np.float32), q).tobytes()
        o = bt.get(t.name)
        if o is not None and o.tensor_type == q and o.data.tobytes() == ref:
            same += 1
        else:
            diff.append(t.name)
    print(f"tensors: {same}/{len(a.tensors)} byte-identical to gguf-py's Q8_0 of the original GGUF's decoded "
          f"tensors ({len(b.tensors)} in tcf's file){'; differ: ' + ', '.join(diff[:5]) if diff else ''}")
    for k in ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
              "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
              "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token",
              "tokenizer.chat_template"):
        fa, fb = a.fields.get(k), b.fields.get(k)
        va = fa.contents() if fa else None
        vb = fb.contents() if fb else None
        if isinstance(va, list) and isinstance(vb, list) and va != vb:
            nd = sum(1 for u, v in zip(va, vb) if u != v) + abs(len(va) - len(vb))
            print(f"{k}: {nd} of {len(va)} entries differ (first: {next((u, v) for u, v in zip(va, vb) if u != v) if nd else ''})")
        else:
            show = lambda v: (v[:40] + "...") if isinstance(v, str) and len(v) > 40 else (f"[{len(v)} entries]" if isinstance(v, list) else v)
            print(f"{k}: {'same' if va == vb else 'differs'}: original {show(va)!r}, tcf {show(vb)!r}")
    return 1 if diff else 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else tmp))
