#!/usr/bin/env python3
"""By hand: a file written by `tcf export` read with gguf-py 0.19
(GGUFReader), checked against transformers + PEFT.

    .venv/bin/python tests/ref/check_export_gguf.py RUN/ MODEL.gguf

RUN/ is a LoRA run; MODEL.gguf its export (any --type). Checks that
  - general.architecture is "bert", the labels and tcf.max_len are the run's;
  - every tensor name is llama.cpp's (gguf-py's TensorNameMap for BERT, with
    the pooler as "cls" and the head as "cls.output");
  - F32 tensors equal PEFT's merge_and_unload() weights of the run to within
    f32 rounding of the merge, and quantized ones are byte-identical to
    gguf.quants.quantize of tcf's own F32 export of the same run (written
    here with build/tcf), i.e. the encoders match gguf-py on real weights;
    Q4_K, which gguf-py cannot encode, against ggml's own encoder
    (ggml_quantize_chunk in libggml-base.so: $GGML_BASE_LIB, or the one
    llama-cpp-python bundles; without either, gguf-py's Q4_K decoder of the
    bytes is checked against the f32 weights instead);
  - tokenizer.huggingface.json is the base model's tokenizer.json verbatim.
Prints the max differences; exits 1 on a failure.
"""
import ctypes
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from peft import PeftModel
from transformers import BertForSequenceClassification

run, path = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{run}/tcf_run.json"))
labels, base = meta["labels"], meta["base_model"]
r = gguf.GGUFReader(path)


def field(name):
    f = r.fields[name]
    if f.types[0] == gguf.GGUFValueType.ARRAY:
        return [bytes(f.parts[i]).decode() for i in f.data]
    if f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    return f.parts[f.data[0]][0]


fails = []
if field("general.architecture") != "bert": fails.append("architecture")
if field("bert.classifier.output_labels") != labels: fails.append("labels")
if int(field("tcf.max_len")) != meta["max_len"]: fails.append("max_len")
if field("tokenizer.huggingface.json") != open(f"{base}/tokenizer.json", encoding="utf-8").read():
    fails.append("tokenizer.json not verbatim")

model = BertForSequenceClassification.from_pretrained(base, num_labels=len(labels))
merged = PeftModel.from_pretrained(model, run).merge_and_unload()
sd = {k.removeprefix("bert."): v.detach().numpy() for k, v in merged.state_dict().items()}
names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, merged.config.num_hidden_layers)
want = {}
for k, v in sd.items():
    if k == "embeddings.position_ids": continue
    g = {"pooler.dense.weight": "cls.weight", "pooler.dense.bias": "cls.bias",
         "classifier.weight": "cls.output.weight", "classifier.bias": "cls.output.bias"}.get(k)
    g = g or names.get_name(k, try_suffixes=(".weight", ".bias"))
    want[g] = v
got = {t.name: t for t in r.tensors}
if set(got) != set(want): fails.append(f"names: extra {set(got) - set(want)}, missing {set(want) - set(got)}")

with tempfile.TemporaryDirectory() as d:
    subprocess.run(["build/tcf", "export", "--model", run, "--out", f"{d}/f32.gguf"], check=True)
    f32 = {t.name: np.array(t.data) for t in gguf.GGUFReader(f"{d}/f32.gguf").tensors}


def ggml_q4_k():
    """ggml_quantize_chunk(GGML_TYPE_Q4_K, ...) as a function of an f32 (rows, K) array, or None."""
    lib = os.environ.get("GGML_BASE_LIB")
    if not lib:
        import importlib.util
        spec = importlib.util.find_spec("llama_cpp")  # located, not imported (its runtime deps)
        libs = glob.glob(os.path.join(os.path.dirname(spec.origin), "**", "libggml-base.so*"),
                         recursive=True) if spec else []
        lib = sorted(libs)[0] if libs else None
    if not lib:
        return None
    f = ctypes.CDLL(lib).ggml_quantize_chunk
    f.restype = ctypes.c_size_t
    f.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                  ctypes.c_void_p]

    def q(x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.zeros(x.size // 256 * 144, dtype=np.uint8)
        f(12, x.ctypes.data, out.ctypes.data, 0, x.shape[0], x.shape[1], None)
        return out
    return q


q4k = ggml_q4_k()
max_f32, n_q, n_q_bad, max_q4k = 0.0, 0, 0, 0.0
for name, t in got.items():
    if name not in want: continue
    if t.tensor_type == gguf.GGMLQuantizationType.F32:
        x = np.array(t.data).reshape(want[name].shape)
        max_f32 = max(max_f32, float(np.abs(x - want[name]).max()))
    else:
        n_q += 1
        if t.tensor_type == gguf.GGMLQuantizationType.Q4_K and q4k is None:
            x = f32[name].reshape(want[name].shape)
            y = gguf.quants.dequantize(np.array(t.data), t.tensor_type).reshape(x.shape)
            rel = float(np.sqrt(((y - x) ** 2).mean() / (x ** 2).mean()))
            max_q4k = max(max_q4k, rel)
            if rel > 0.15: fails.append(f"{name}: Q4_K decodes {rel:.3f} rms off the f32 weights")
            continue
        if t.tensor_type == gguf.GGMLQuantizationType.Q4_K:
            q = q4k(f32[name].reshape(want[name].shape))
        else:
            q = gguf.quants.quantize(f32[name].reshape(want[name].shape), t.tensor_type)
        if not np.array_equal(np.array(t.data).reshape(-1).view(np.uint8), q.reshape(-1).view(np.uint8)):
            n_q_bad += 1
            fails.append(f"{name}: {t.tensor_type.name} bytes differ from gguf-py's")
print(f"{path}: {len(got)} tensors; F32 vs PEFT merge_and_unload max |diff| = {max_f32:.3g}; "
      f"{n_q} quantized tensors, {n_q_bad} differ from gguf.quants.quantize (Q4_K: "
      f"{'ggml_quantize_chunk' if q4k else f'no ggml; gguf-py decode rms error <= {max_q4k:.3f}'})")
if max_f32 > 1e-5: fails.append(f"F32 tensors differ by {max_f32}")
print("FAIL: " + "; ".join(fails) if fails else "ok")
sys.exit(1 if fails else 0)
