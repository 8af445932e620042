#!/usr/bin/env python3
"""Reference outputs of Llama-family decoders, from transformers.

Writes tests/fixtures/llama/:
  tiny_llama/, tiny_qwen2/, tiny_phi3/   random-weight checkpoints saved by
      transformers (config.json + model.safetensors, weights stored as F16):
      hidden 64, 2 layers, 4 heads, 2 kv heads, vocab 512, intermediate 128.
      Llama has tied embeddings, Qwen2 q/k/v biases (random, not zero) and
      untied embeddings, Phi-3 fused qkv_proj and gate_up_proj. RMSNorm
      weights are random too (not ones) so that a missing norm is caught.
  tiny_llama.gguf   the same Llama weights written by gguf-py as llama.cpp's
      convert_hf_to_gguf.py writes them: q/k rows permuted for its RoPE
      layout, 2-D weights F16, norms F32, no output.weight (tied).
  tiny_<arch>/ref/  ids.i32 (B, T) and mask.u8 (B, T) of one batch mixing an
      unpadded, a right-padded and a left-padded row; hidden.f32 (B, T, C)
      last hidden states (final norm applied); last.f32 / mean.f32 (B, C)
      pooled features; score.f32 (3, C) a seeded random head; logits.f32
      (B, 3) from <Arch>ForSequenceClassification with that head.
  smollm2/   (only when models/SmolLM2-135M-Instruct exists) SmolLM2-135M
      dequantised from its Q4_1 GGUF by transformers' GGUF loader: ids/mask
      (8, T) (rows 0-3 right-padded, 4-7 left-padded), hidden_rows.f32 (8, 3,
      C) at each row's first, middle and last real token, last.f32, mean.f32,
      score.f32 (4, C), logits.f32 (8, 4).
  meta.json  shapes, versions, the command.

Positions are those of the real tokens (position_ids = cumsum(mask) - 1,
0 on pads), given explicitly, so a padded row equals the row run alone.
Everything runs in float32 on CPU with eager attention.
Run: .venv/bin/python tests/ref/gen_llama_fixtures.py
"""
import copy, json, os, shutil, sys

import numpy as np
import torch
import transformers
from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification, LlamaConfig,
                          Phi3Config, Qwen2Config)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "llama")
SMOL_DIR = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PAD = 0  # pad_token_id of the tiny models

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=512, max_position_embeddings=256, rms_norm_eps=1e-5,
            pad_token_id=PAD, bos_token_id=1, eos_token_id=2)


def positions(mask):
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def save(path, arr, dtype):
    np.ascontiguousarray(arr, dtype=dtype).tofile(path)


def run_and_save(causal, cls_cfg, ids, mask, n_labels, ref, seed):
    """Base-model hidden states, pooled features and sequence-classification
    logits with a seeded head; returns the dict of what was saved."""
    base = causal.model
    pos = positions(mask)
    with torch.no_grad():
        h = base(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
    B, T, C = h.shape
    last_idx = torch.tensor([int(np.nonzero(mask[b].numpy())[0][-1]) for b in range(B)])
    last = h[torch.arange(B), last_idx]
    m = mask.unsqueeze(-1).float()
    mean = (h * m).sum(1) / m.sum(1)
    g = torch.Generator().manual_seed(seed)
    score = torch.randn(n_labels, C, generator=g) * 0.5
    cls_cfg = copy.deepcopy(cls_cfg)
    cls_cfg.num_labels = n_labels
    clsm = AutoModelForSequenceClassification.from_config(cls_cfg, attn_implementation="eager")
    clsm = clsm.float().eval()
    missing = clsm.load_state_dict({**{k: v for k, v in causal.state_dict().items() if k.startswith("model.")},
                                    "score.weight": score}, strict=False)
    assert not missing.missing_keys, missing.missing_keys
    with torch.no_grad():
        logits = clsm(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    # the head on our pooled features must give the same logits
    assert torch.allclose(logits, last @ score.T, atol=1e-5, rtol=1e-5), (logits, last @ score.T)
    os.makedirs(ref, exist_ok=True)
    save(os.path.join(ref, "ids.i32"), ids.numpy(), np.int32)
    save(os.path.join(ref, "mask.u8"), mask.numpy(), np.uint8)
    save(os.path.join(ref, "last.f32"), last.numpy(), np.float32)
    save(os.path.join(ref, "mean.f32"), mean.numpy(), np.float32)
    save(os.path.join(ref, "score.f32"), score.numpy(), np.float32)
    save(os.path.join(ref, "logits.f32"), logits.numpy(), np.float32)
    return h, dict(B=B, T=T, C=C, labels=n_labels)


def tiny_batch(vocab, seed):
    """B=3, T=7: row 0 full, row 1 right-padded (4 real), row 2 left-padded (5 real)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (3, 7), generator=g)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 4:] = 0
    mask[2, :2] = 0
    ids[mask == 0] = PAD
    return ids, mask


def randomise(model, seed):
    """Random weights everywhere (norms and biases included), rounded to f16
    so that the saved F16 checkpoint holds exactly the weights used."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
            p.copy_(p.half().float())


def gen_tiny(name, cfg, seed, meta):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
    randomise(model, seed)
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    # a half copy is saved; the model itself stays f32 (half() would also
    # round RoPE's inv_freq buffer)
    copy.deepcopy(model).half().save_pretrained(d)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(d, extra)):
            os.remove(os.path.join(d, extra))
    ids, mask = tiny_batch(cfg.vocab_size, seed + 1)
    h, shapes = run_and_save(model, cfg, ids, mask, 3, os.path.join(d, "ref"), seed + 2)
    save(os.path.join(d, "ref", "hidden.f32"), h.numpy(), np.float32)
    meta[name] = dict(shapes, model_type=cfg.model_type)
    return model


def llama_cpp_permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rotate_half rows -> GGUF's
    interleaved pairs, per head."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def gen_tiny_gguf(model, cfg, path):
    import gguf
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(cfg.vocab_size)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_pad_token_id(PAD)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    H, Hkv = cfg.num_attention_heads, cfg.num_key_value_heads

    def t(name, arr):
        arr = np.ascontiguousarray(arr)
        w.add_tensor(name, arr.astype(np.float32 if arr.ndim == 1 else np.float16))

    t("token_embd.weight", sd["model.embed_tokens.weight"])
    for l in range(cfg.num_hidden_layers):
        p = f"model.layers.{l}."
        t(f"blk.{l}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        t(f"blk.{l}.attn_q.weight", llama_cpp_permute(sd[p + "self_attn.q_proj.weight"], H))
        t(f"blk.{l}.attn_k.weight", llama_cpp_permute(sd[p + "self_attn.k_proj.weight"], Hkv))
        t(f"blk.{l}.attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        t(f"blk.{l}.attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        t(f"blk.{l}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        t(f"blk.{l}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        t(f"blk.{l}.ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        t(f"blk.{l}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    t("output_norm.weight", sd["model.norm.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gen_smollm2(meta):
    path = os.path.join(SMOL_DIR, SMOL_FILE)
    if not os.path.exists(path):
        print("SmolLM2 not found, skipping its fixtures:", path)
        return
    model = AutoModelForCausalLM.from_pretrained(SMOL_DIR, gguf_file=SMOL_FILE, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    cfg = model.config
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else 2
    try:
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(SMOL_DIR, gguf_file=SMOL_FILE)
        texts = ["I was charged twice for my order", "how do I reset my password?",
                 "cancel my subscription", "What's the weather like in Paris tomorrow",
                 "transfer 200 dollars to savings", "hi", "my card was declined at the store yesterday "
                 "and I need help", "book a table for two at 7pm"]
        seqs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
        source = "GGUF tokenizer via transformers"
    except Exception as e:  # any ids will do for parity
        print("tokenizer unavailable (%s), using random ids" % e)
        g = torch.Generator().manual_seed(5)
        seqs = [torch.randint(3, cfg.vocab_size, (n,), generator=g).tolist() for n in (9, 7, 4, 12, 6, 1, 16, 8)]
        source = "random"
    assert all(pad not in s for s in seqs)
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, T), pad, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, s in enumerate(seqs):
        n = len(s)
        if b < 4:
            ids[b, :n], mask[b, :n] = torch.tensor(s), 1
        else:
            ids[b, T - n:], mask[b, T - n:] = torch.tensor(s), 1
    cfg.pad_token_id = pad
    d = os.path.join(OUT, "smollm2")
    h, shapes = run_and_save(model, cfg, ids, mask, 4, d, 77)
    rows = []
    for b in range(B):
        real = np.nonzero(mask[b].numpy())[0]
        rows += [h[b, real[0]], h[b, real[len(real) // 2]], h[b, real[-1]]]
    save(os.path.join(d, "hidden_rows.f32"), torch.stack(rows).numpy(), np.float32)
    meta["smollm2"] = dict(shapes, ids=source, pad_token_id=pad, gguf=SMOL_FILE)


def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    meta = dict(torch=torch.__version__, transformers=transformers.__version__,
                command="python tests/ref/gen_llama_fixtures.py")
    llama = gen_tiny("tiny_llama", LlamaConfig(**TINY, rope_theta=5000.0, tie_word_embeddings=True), 10, meta)
    gen_tiny("tiny_qwen2", Qwen2Config(**TINY, rope_theta=20000.0, tie_word_embeddings=False), 20, meta)
    gen_tiny("tiny_phi3", Phi3Config(**TINY, rope_theta=10000.0, tie_word_embeddings=False,
                                     sliding_window=None), 30, meta)
    gen_tiny_gguf(llama, llama.config, os.path.join(OUT, "tiny_llama.gguf"))
    if "--no-smollm2" not in sys.argv:
        gen_smollm2(meta)
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
