#!/usr/bin/env python3
"""LoRA gradients of SmolLM2-135M as a sequence classifier, PyTorch + PEFT,
on the real weights (the Q4_1 GGUF dequantized by transformers).

LlamaForSequenceClassification (4 labels, pad_token_id 2, the seeded head of
tests/fixtures/llama/smollm2/score.f32) with PEFT LoRA r=4 alpha=8, no
dropout, on q k v o gate up down of all 30 layers. Adapter weights follow a
formula the C test recomputes (so they need not be stored): tensor number
j = 2 * (layer * 7 + module) + (0 for lora_A, 1 for lora_B), element i (row
major): 0.02 * sin(0.7 i + 1.3 j + 0.1), computed in float64, stored as f32.
Batch: tests/fixtures/llama/smollm2 ids / mask (8 x 12, right- and left-
padded rows), positions cumsum(mask) - 1, labels 0 1 2 3 0 1 2 3.

Writes tests/fixtures/llama/lora_smollm2/:
  norms.f32   (421) L2 norm of d loss / d tensor: the 420 adapters in the
              order above, then the score head
  grads.safetensors  full gradients of layers.0.q_proj.lora_A,
              layers.29.down_proj.lora_B, layers.15.v_proj.lora_B and score
  logits.f32 (8, 4), loss.f32 (1), meta.json
Run: .venv/bin/python tests/ref/gen_llama_lora_smollm2.py (needs
scripts/fetch_models.sh --all).
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
DIR = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct")
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FIX = os.path.join(ROOT, "tests", "fixtures", "llama", "smollm2")
OUT = os.path.join(ROOT, "tests", "fixtures", "llama", "lora_smollm2")
MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
FULL = ["layers.0.q_proj.lora_A", "layers.29.down_proj.lora_B", "layers.15.v_proj.lora_B"]


def formula(shape, j):
    i = np.arange(int(np.prod(shape)), dtype=np.float64)
    return torch.from_numpy((0.02 * np.sin(0.7 * i + 1.3 * j + 0.1)).astype(np.float32).reshape(shape))


def main():
    torch.set_num_threads(2)
    model = AutoModelForSequenceClassification.from_pretrained(
        DIR, gguf_file=NAME, num_labels=4, pad_token_id=2, dtype=torch.float32, attn_implementation="eager")
    C = model.config.hidden_size
    with torch.no_grad():
        model.score.weight.copy_(torch.from_numpy(np.fromfile(os.path.join(FIX, "score.f32"), dtype=np.float32).reshape(4, C)))
    pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=MODULES,
                                          task_type="SEQ_CLS")).eval()
    layers = pm.base_model.model.model.layers
    order = []
    with torch.no_grad():
        for l, layer in enumerate(layers):
            for m, name in enumerate(MODULES):
                mod = getattr(layer.self_attn if name in MODULES[:4] else layer.mlp, name)
                for k, ab in enumerate((mod.lora_A["default"], mod.lora_B["default"])):
                    ab.weight.copy_(formula(ab.weight.shape, 2 * (l * 7 + m) + k))
                    order.append(("layers.%d.%s.lora_%s" % (l, name, "AB"[k]), ab.weight))
    B, T = 8, 12
    ids = torch.from_numpy(np.fromfile(os.path.join(FIX, "ids.i32"), dtype=np.int32).reshape(B, T)).long()
    mask = torch.from_numpy(np.fromfile(os.path.join(FIX, "mask.u8"), dtype=np.uint8).reshape(B, T)).long()
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = pm(input_ids=ids, attention_mask=mask, position_ids=pos, labels=torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    out.loss.backward()
    score_w = [p for n, p in pm.named_parameters() if "score" in n and p.requires_grad]
    assert len(score_w) == 1
    norms = [w.grad.norm().item() for _, w in order] + [score_w[0].grad.norm().item()]
    os.makedirs(OUT, exist_ok=True)
    np.array(norms, dtype=np.float32).tofile(os.path.join(OUT, "norms.f32"))
    full = {n: w.grad.detach().clone().contiguous() for n, w in order if n in FULL}
    full["score"] = score_w[0].grad.detach().clone().contiguous()
    save_file(full, os.path.join(OUT, "grads.safetensors"))
    out.logits.detach().numpy().astype(np.float32).tofile(os.path.join(OUT, "logits.f32"))
    np.array([out.loss.item()], dtype=np.float32).tofile(os.path.join(OUT, "loss.f32"))
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                       gguf=NAME, r=4, lora_alpha=8, loss=out.loss.item(),
                       command="python tests/ref/gen_llama_lora_smollm2.py"), f, indent=1)
        f.write("\n")
    print("loss", out.loss.item(), "tensors", len(norms))


if __name__ == "__main__":
    main()
