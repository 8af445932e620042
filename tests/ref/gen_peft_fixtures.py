#!/usr/bin/env python3
"""Fixture for tests/test_export.c and tests/cli_export.sh: a LoRA adapter
made with PEFT 0.21 in Python on all-MiniLM-L6-v2 (BertForSequenceClassification,
4 labels, r=4 on query,value, lora_alpha=8), with random non-zero A and B
(PEFT's default B = 0 would make the adapter a no-op) and a random head, then
trained for 3 AdamW steps so it is a Python-trained adapter, and the logits
PEFT computes with it in eval mode for 8 texts.

Writes under tests/fixtures/peft/:
  adapter/adapter_config.json, adapter/adapter_model.safetensors
              PeftModel.save_pretrained output (its README.md model
              card removed)
  keys.txt    the tensor names PEFT saved (sorted), one per line
  labels.txt  the 4 label names, texts.txt the 8 texts
  logits.f32  (8, 4) little-endian f32 logits from PEFT

Run from the repository root:  .venv/bin/python tests/ref/gen_peft_fixtures.py
"""
import os

import numpy as np
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from safetensors import safe_open
from transformers import AutoTokenizer, BertForSequenceClassification

MODEL = "models/all-MiniLM-L6-v2"
OUT = "tests/fixtures/peft"
LABELS = ["billing", "delivery", "account", "other"]
TEXTS = [
    "I was charged twice for my order",
    "where is my package? it has been two weeks",
    "how do I reset my password",
    "hello",
    "The delivery driver left the parcel at the wrong address!!",
    "can you close my account and delete my data",
    "Refund pls — card ending 4242 was billed 3x",
    "qué tal, necesito ayuda con mi cuenta",
]


def main():
    torch.manual_seed(20261201)
    tok = AutoTokenizer.from_pretrained(MODEL)
    base = BertForSequenceClassification.from_pretrained(
        MODEL, num_labels=4, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0,
                     target_modules=["query", "value"])
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_A" in n or "lora_B" in n:
                p.copy_(torch.randn_like(p) * 0.05)
            elif "classifier" in n and p.requires_grad:
                p.copy_(torch.randn_like(p) * 0.5)
    # three AdamW steps on the texts with fixed labels (dropout off: eval mode)
    model.eval()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    enc = tok(TEXTS, padding=True, truncation=True, max_length=128, return_tensors="pt")
    y = torch.tensor([0, 1, 2, 3, 1, 2, 0, 2])
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**enc).logits, y)
        loss.backward()
        opt.step()
    os.makedirs(f"{OUT}/adapter", exist_ok=True)
    model.save_pretrained(f"{OUT}/adapter")
    os.remove(f"{OUT}/adapter/README.md")

    # reload from disk, as a user would, and compute the logits
    fresh = BertForSequenceClassification.from_pretrained(
        MODEL, num_labels=4, id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    loaded = PeftModel.from_pretrained(fresh, f"{OUT}/adapter").eval()
    with torch.no_grad():
        logits = loaded(**enc).logits.float().numpy()
        again = model(**enc).logits.float().numpy()
    assert np.abs(logits - again).max() < 1e-6, "reloaded adapter differs"
    logits.astype("<f4").tofile(f"{OUT}/logits.f32")
    with safe_open(f"{OUT}/adapter/adapter_model.safetensors", "np") as f:
        keys = sorted(f.keys())
    with open(f"{OUT}/keys.txt", "w") as f:
        f.write("\n".join(keys) + "\n")
    with open(f"{OUT}/labels.txt", "w") as f:
        f.write("\n".join(LABELS) + "\n")
    with open(f"{OUT}/texts.txt", "w") as f:
        f.write("\n".join(TEXTS) + "\n")
    print("loss", float(loss), "logits[0]", logits[0], "keys", len(keys))


if __name__ == "__main__":
    main()
