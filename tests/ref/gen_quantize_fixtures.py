#!/usr/bin/env python3
"""Reference for `tcf quantize`, from gguf-py (0.19) and transformers.

Writes tests/fixtures/quantize/:
  tiny_tok/   a random-weight Llama checkpoint saved by transformers (F16
      weights; hidden 64, 1 layer, 4 heads, 2 kv heads, intermediate 80 so
      that ffn_down's rows (80) are not whole 32-blocks, vocab 1024, untied
      lm_head) with tests/fixtures/bpe/bytelevel.json as tokenizer.json (a
      SmolLM2-style byte-level BPE: Digits + ByteLevel, TemplateProcessing
      <|im_start|> A <|im_end|>, added tokens special and not).
  tensors.txt  for each type f32 f16 q8_0 q4_0 q4_1: one line per tensor
      "TYPE NAME GGML_TYPE NE0 NE1 SHA256" of the bytes convert_hf_to_gguf
      would write: the f32 weights (q/k permuted with LlamaModel.permute),
      the type chosen by prepare_tensors' rules (1-D / norms F32, F16
      fallback for rows not whole blocks; q4_0 / q4_1 under q8_0's rules),
      encoded by gguf.quants.quantize. Also "gguf" lines: the same for
      tests/fixtures/llama/tiny_llama.gguf re-quantized (its tensors
      dequantized by gguf.quants.dequantize, then quantized) for q8_0 / q4_1.
  tokenizer_ref.gguf  the tokenizer.ggml.* keys convert_hf_to_gguf's
      _set_vocab_gpt2 writes for tiny_tok (tokens and types as get_vocab_base
      builds them from transformers' AutoTokenizer, pre "smollm" given since
      convert finds it by a hash table this random tokenizer is not in, merges
      / special ids / add_* flags from gguf.SpecialVocab), written by
      GGUFWriter.
  reader.txt  when build/tcf exists: tcf quantize's outputs for each type,
      read back with gguf.GGUFReader: keys and tensors read, tensors whose
      bytes equal gguf.quants.quantize's, tokenizer keys equal to the
      reference. The C test does not read it; it records the check.
Run: .venv/bin/python tests/ref/gen_quantize_fixtures.py
"""
import hashlib, json, os, shutil, subprocess, sys, tempfile

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

import gguf
from gguf import GGMLQuantizationType as QT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "quantize")
TOK = os.path.join(ROOT, "tests", "fixtures", "bpe", "bytelevel.json")
TINY_GGUF = os.path.join(ROOT, "tests", "fixtures", "llama", "tiny_llama.gguf")
TCF = os.path.join(ROOT, "build", "tcf")
TYPES = {"f32": QT.F32, "f16": QT.F16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q4_1": QT.Q4_1}


def make_tiny(d):
    cfg = LlamaConfig(hidden_size=64, intermediate_size=80, num_hidden_layers=1, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=1024, max_position_embeddings=128, rms_norm_eps=1e-5,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
                      rope_theta=10000.0)
    torch.manual_seed(7)
    m = AutoModelForCausalLM.from_config(cfg).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    m.half().save_pretrained(d)
    os.remove(os.path.join(d, "generation_config.json"))  # not read by tcf or convert
    shutil.copy(TOK, os.path.join(d, "tokenizer.json"))
    return cfg


def permute(w, n_head):
    # convert_hf_to_gguf LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def pick(name, n_dims, ne0, want):
    if n_dims <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return QT.F32
    if want in (QT.F32, QT.F16):
        return want
    return want if ne0 % 32 == 0 else QT.F16


def expected_tensors(d, cfg):
    from safetensors.torch import load_file
    sd = {k: v.float().numpy() for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
    out = [("token_embd.weight", sd["model.embed_tokens.weight"])]
    for l in range(cfg.num_hidden_layers):
        p = f"model.layers.{l}."
        out += [(f"blk.{l}.attn_norm.weight", sd[p + "input_layernorm.weight"]),
                (f"blk.{l}.attn_q.weight", permute(sd[p + "self_attn.q_proj.weight"], cfg.num_attention_heads)),
                (f"blk.{l}.attn_k.weight", permute(sd[p + "self_attn.k_proj.weight"], cfg.num_key_value_heads)),
                (f"blk.{l}.attn_v.weight", sd[p + "self_attn.v_proj.weight"]),
                (f"blk.{l}.attn_output.weight", sd[p + "self_attn.o_proj.weight"]),
                (f"blk.{l}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"]),
                (f"blk.{l}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"]),
                (f"blk.{l}.ffn_up.weight", sd[p + "mlp.up_proj.weight"]),
                (f"blk.{l}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])]
    out += [("output_norm.weight", sd["model.norm.weight"]), ("output.weight", sd["lm_head.weight"])]
    return out


def encode_all(tensors, want):
    rows = []
    for name, x in tensors:
        x = np.ascontiguousarray(x, dtype=np.float32)
        t = pick(name, x.ndim, x.shape[-1], want)
        b = gguf.quants.quantize(x, t)
        ne1 = x.shape[0] if x.ndim == 2 else 1
        rows.append((name, t, x.shape[-1], ne1, hashlib.sha256(b.tobytes()).hexdigest(), b.tobytes()))
    return rows


def tokenizer_ref(d, path):
    """convert_hf_to_gguf _set_vocab_gpt2 (get_vocab_base + SpecialVocab)."""
    tok = AutoTokenizer.from_pretrained(d)
    V = 1024
    rev = {i: t for t, i in tok.get_vocab().items()}
    added = tok.get_added_vocab()
    tokens, types = [], []
    look = lambda t: t in ("<pad>", "<mask>", "<2mass>", "[@BOS@]") or (t.startswith("<|") and t.endswith("|>"))
    for i in range(V):
        if i not in rev:
            tokens.append(f"[PAD{i}]"); types.append(gguf.TokenType.UNUSED)
            continue
        t = rev[i]
        if t in added:
            if tok.added_tokens_decoder[i].special or look(t):
                types.append(gguf.TokenType.CONTROL)
            else:
                t = t.replace("\u2581", " "); types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(t)
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    sv = gguf.SpecialVocab(d, load_merges=True, n_vocab=V)
    sv.add_to_gguf(w)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    return sv


def fields(path):
    r = gguf.GGUFReader(path)
    return r, {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}


def fuzz_seeds():
    """fuzz/seeds/quantize/: byte 0 even = GGUF image follows, byte 1 = type;
    a llama GGUF with a key of every metadata type and small tensors."""
    d = os.path.join(ROOT, "fuzz", "seeds", "quantize")
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "kv.gguf")
        w = gguf.GGUFWriter(p, "llama")
        w.add_uint8("t.u8", 7); w.add_int8("t.i8", -7); w.add_uint16("t.u16", 700); w.add_int16("t.i16", -700)
        w.add_uint32("t.u32", 70000); w.add_int32("t.i32", -70000); w.add_float32("t.f32", 1.5)
        w.add_uint64("t.u64", 2**40); w.add_int64("t.i64", -2**40); w.add_float64("t.f64", 2.25)
        w.add_bool("t.bool", True); w.add_string("t.str", "h\u00e9llo")
        w.add_array("t.arr_i16", [1, -2, 3]); w.add_array("t.arr_str", ["a", "b"])
        w.add_array("t.arr_f32", [0.5, 1.5])
        w.add_tensor("blk.0.attn_q.weight", np.linspace(-1, 1, 64 * 4, dtype=np.float32).reshape(4, 64))
        w.add_tensor("blk.0.attn_norm.weight", np.ones(64, dtype=np.float32))
        w.add_tensor("blk.0.ffn_down.weight", np.linspace(-1, 1, 40 * 2, dtype=np.float32).reshape(2, 40))
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        with open(p, "rb") as f, open(os.path.join(d, "kv_types.bin"), "wb") as o:
            o.write(b"\x00\x05" + f.read())


def main():
    fuzz_seeds()
    os.makedirs(OUT, exist_ok=True)
    d = os.path.join(OUT, "tiny_tok")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    cfg = make_tiny(d)
    tensors = expected_tensors(d, cfg)
    lines, enc = [], {}
    for tname, want in TYPES.items():
        enc[tname] = encode_all(tensors, want)
        for name, t, ne0, ne1, h, _ in enc[tname]:
            lines.append(f"{tname} {name} {t.name} {ne0} {ne1} {h}")
    # re-quantizing tiny_llama.gguf (F16 / F32 tensors): decode, encode
    r = gguf.GGUFReader(TINY_GGUF)
    src = [(t.name, gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(n) for n in reversed(t.shape)]))
           for t in r.tensors]
    for tname in ("q8_0", "q4_1"):
        for name, t, ne0, ne1, h, _ in encode_all(src, TYPES[tname]):
            lines.append(f"gguf_{tname} {name} {t.name} {ne0} {ne1} {h}")
    with open(os.path.join(OUT, "tensors.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    sv = tokenizer_ref(d, os.path.join(OUT, "tokenizer_ref.gguf"))

    report = [f"# gguf {gguf.__version__ if hasattr(gguf, '__version__') else '0.19'}, transformers {transformers.__version__}, "
              f"torch {torch.__version__}; SpecialVocab: {sv!r}"]
    if os.path.exists(TCF):
        _, ref_kv = fields(os.path.join(OUT, "tokenizer_ref.gguf"))
        with tempfile.TemporaryDirectory() as tmp:
            for tname in TYPES:
                o = os.path.join(tmp, f"{tname}.gguf")
                subprocess.run([TCF, "quantize", "--model", d, "--out", o, "--type", tname], check=True,
                               capture_output=True)
                rd, kv = fields(o)
                want = {row[0]: row for row in enc[tname]}
                same = sum(1 for t in rd.tensors if t.name in want and t.tensor_type == want[t.name][1]
                           and t.data.tobytes() == want[t.name][5])
                tk_same = sum(1 for k, v in ref_kv.items() if k.startswith("tokenizer.") and kv.get(k) == v)
                tk_n = sum(1 for k in ref_kv if k.startswith("tokenizer."))
                report.append(f"{tname}: GGUFReader read {len(kv)} keys, {len(rd.tensors)} tensors; "
                              f"{same}/{len(want)} tensors byte-identical to gguf.quants.quantize; "
                              f"{tk_same}/{tk_n} tokenizer keys equal to convert's; "
                              f"architecture {kv.get('general.architecture')}, file_type {kv.get('general.file_type')}")
    else:
        report.append("build/tcf absent: reader check not run")
    with open(os.path.join(OUT, "reader.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
