#!/usr/bin/env python3
"""Reference outputs of the all-MiniLM-L6-v2 encoder, from transformers.

Writes tests/fixtures/encoder/:
  texts.txt        one text per line (210 texts sampled from ../shared/data)
  ids.txt          their token ids from the HF tokenizer (specials, truncation 128)
  mean.f32         (N, 384) masked mean of the last hidden states, unnormalised
  cls.f32          (N, 384) last hidden state of the first token ([CLS])
  hidden_ids.txt   indices (into texts) of the texts whose full hidden states follow
  hidden.f32       concatenated (T_i, 384) last hidden states of those texts
  meta.json        versions, model sha256, and the command

Each text is run alone (no padding) in float32 on CPU; the C test checks
that padded batches give the same numbers. Raw little-endian float32.
Run: .venv/bin/python tests/ref/gen_encoder_fixtures.py
"""
import csv, hashlib, json, os, random, sys

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
DATA = os.environ.get("TCF_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "tests", "fixtures", "encoder")
N_PER_SET = 30  # 7 datasets with a test split -> 210 texts
N_HIDDEN = 16


def main():
    torch.manual_seed(0)
    rng = random.Random(1234)
    texts = []
    for name in sorted(os.listdir(DATA)):
        path = os.path.join(DATA, name, "test.csv")
        if not os.path.exists(path):
            continue
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r["text"] for r in csv.DictReader(f)]
        rows = [t for t in rows if "\n" not in t and "\r" not in t]
        texts += rng.sample(rows, N_PER_SET)
    # a few extra edge cases: a very long text (truncated at 128), punctuation, digits
    texts[-1] = " ".join(["the customer asked about the refund for order 12345 again"] * 30)
    texts[-2] = "!!!???"
    texts[-3] = "a"
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.no_padding()
    model = AutoModel.from_pretrained(MODEL, dtype=torch.float32).eval()
    os.makedirs(OUT, exist_ok=True)
    means, clss, hidden = [], [], []
    hidden_idx = list(range(0, len(texts), len(texts) // N_HIDDEN))[:N_HIDDEN - 1] + [len(texts) - 1]
    all_ids = []
    with torch.no_grad():
        for i, t in enumerate(texts):
            ids = tok.encode(t).ids
            all_ids.append(ids)
            x = torch.tensor([ids])
            h = model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]
            means.append(h.mean(0).numpy())
            clss.append(h[0].numpy())
            if i in hidden_idx:
                hidden.append(h.numpy())
    with open(os.path.join(OUT, "texts.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(t + "\n" for t in texts)
    with open(os.path.join(OUT, "ids.txt"), "w") as f:
        f.writelines(" ".join(map(str, ids)) + "\n" for ids in all_ids)
    np.stack(means).astype("<f4").tofile(os.path.join(OUT, "mean.f32"))
    np.stack(clss).astype("<f4").tofile(os.path.join(OUT, "cls.f32"))
    np.concatenate(hidden).astype("<f4").tofile(os.path.join(OUT, "hidden.f32"))
    with open(os.path.join(OUT, "hidden_ids.txt"), "w") as f:
        f.write(" ".join(map(str, hidden_idx)) + "\n")
    sha = hashlib.sha256(open(os.path.join(MODEL, "model.safetensors"), "rb").read()).hexdigest()
    meta = {"model": "all-MiniLM-L6-v2", "model_sha256": sha, "torch": torch.__version__,
            "transformers": transformers.__version__, "texts": len(texts),
            "command": "python tests/ref/gen_encoder_fixtures.py"}
    json.dump(meta, open(os.path.join(OUT, "meta.json"), "w"), indent=1)
    print(f"wrote {len(texts)} texts, {sum(len(h) for h in hidden)} hidden rows to {OUT}")


if __name__ == "__main__":
    sys.exit(main())
