#!/usr/bin/env python3
"""LoRA gradients of a Llama sequence classifier, from PyTorch + PEFT.

On tests/fixtures/llama/tiny_llama (see gen_llama_fixtures.py):
LlamaForSequenceClassification (3 labels, pad_token_id 0, the seeded score
head of tiny_llama/ref/score.f32) with PEFT LoRA r=4, alpha=8, no dropout,
on q_proj k_proj v_proj o_proj gate_proj up_proj down_proj of both layers;
lora_B drawn at random (PEFT's zero init would leave every lora_A gradient
0). One forward + backward of the mean cross-entropy on the batch of
tiny_llama/ref (ids, mask; positions cumsum(mask) - 1), labels 0 2 1.

Writes tests/fixtures/llama/lora/:
  weights.safetensors  layers.L.MODULE.lora_A (r, in), .lora_B (out, r), score (3, C)
  grads.safetensors    the same names: d loss / d tensor
  logits.f32 (3, 3), loss.f32 (1), meta.json
  mean_grads.safetensors, mean_logits.f32, mean_loss.f32: the same step with
      the head on the mean of the final hidden states over the real tokens
      (tcf's --pooling mean; transformers has no such head, so it is the
      PEFT model's LlamaModel output averaged with the mask, then score)
Run: .venv/bin/python tests/ref/gen_llama_lora_fixtures.py
"""
import json, os

import numpy as np
import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForSequenceClassification

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "tests", "fixtures", "llama", "tiny_llama")
OUT = os.path.join(ROOT, "tests", "fixtures", "llama", "lora")
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def key_of(n):
    if "lora_" in n:
        # base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight
        parts = n.split(".")
        l = parts[parts.index("layers") + 1]
        mod = parts[parts.index("layers") + 3]
        return "layers.%s.%s.%s" % (l, mod, parts[-3])
    if "score" in n:
        return "score"
    raise SystemExit("unexpected trainable parameter " + n)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = AutoModelForSequenceClassification.from_pretrained(
        SRC, num_labels=3, pad_token_id=0, dtype=torch.float32, attn_implementation="eager")
    C = model.config.hidden_size
    score = torch.from_numpy(np.fromfile(os.path.join(SRC, "ref", "score.f32"), dtype=np.float32).reshape(3, C))
    with torch.no_grad():
        model.score.weight.copy_(score)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=MODULES, task_type="SEQ_CLS")
    pm = get_peft_model(model, cfg).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    ids = torch.from_numpy(np.fromfile(os.path.join(SRC, "ref", "ids.i32"), dtype=np.int32).reshape(3, 7)).long()
    mask = torch.from_numpy(np.fromfile(os.path.join(SRC, "ref", "mask.u8"), dtype=np.uint8).reshape(3, 7)).long()
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    labels = torch.tensor([0, 2, 1])
    out = pm(input_ids=ids, attention_mask=mask, position_ids=pos, labels=labels)
    out.loss.backward()
    weights, grads = {}, {}
    for n, p in pm.named_parameters():
        if not p.requires_grad:
            continue
        key = key_of(n)
        weights[key] = p.detach().clone().contiguous()
        grads[key] = p.grad.detach().clone().contiguous()
    assert len(weights) == 2 * 7 * 2 + 1, sorted(weights)
    # mean pooling: the same adapters and head, gradients from zero
    pm.zero_grad(set_to_none=True)
    h = pm.base_model.model.model(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
    mf = mask.to(h.dtype).unsqueeze(-1)
    mean_logits = pm.base_model.model.score((h * mf).sum(1) / mf.sum(1))
    mean_loss = torch.nn.functional.cross_entropy(mean_logits, labels)
    mean_loss.backward()
    mean_grads = {}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            mean_grads[key_of(n)] = p.grad.detach().clone().contiguous()
    os.makedirs(OUT, exist_ok=True)
    save_file(weights, os.path.join(OUT, "weights.safetensors"))
    save_file(grads, os.path.join(OUT, "grads.safetensors"))
    save_file(mean_grads, os.path.join(OUT, "mean_grads.safetensors"))
    mean_logits.detach().numpy().astype(np.float32).tofile(os.path.join(OUT, "mean_logits.f32"))
    np.array([mean_loss.item()], dtype=np.float32).tofile(os.path.join(OUT, "mean_loss.f32"))
    out.logits.detach().numpy().astype(np.float32).tofile(os.path.join(OUT, "logits.f32"))
    np.array([out.loss.item()], dtype=np.float32).tofile(os.path.join(OUT, "loss.f32"))
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                       r=4, lora_alpha=8, labels=[0, 2, 1], loss=out.loss.item(), mean_loss=mean_loss.item(),
                       command="python tests/ref/gen_llama_lora_fixtures.py"), f, indent=1)
        f.write("\n")
    print("loss", out.loss.item())


if __name__ == "__main__":
    main()
