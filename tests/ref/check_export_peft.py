#!/usr/bin/env python3
"""By hand: a tcf LoRA run exported with `tcf export --format peft` loads in
PEFT 0.21 (PeftModel.from_pretrained onto BertForSequenceClassification) and
gives the class probabilities `tcf predict` gives for the same texts.

    .venv/bin/python tests/ref/check_export_peft.py RUN/ [TEXTS.txt]

Exports RUN/ to a temporary directory with build/tcf, predicts with
build/tcf, compares, prints the max abs difference; exits 1 above 1e-4.
"""
import json
import subprocess
import sys
import tempfile

import numpy as np
import torch
from peft import PeftModel
from transformers import AutoTokenizer, BertForSequenceClassification

run = sys.argv[1]
texts_path = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/peft/texts.txt"
texts = [t for t in open(texts_path, encoding="utf-8").read().split("\n") if t]
meta = json.load(open(f"{run}/tcf_run.json"))
labels, base = meta["labels"], meta["base_model"]
K = len(labels)
with tempfile.TemporaryDirectory() as out:
    subprocess.run(["build/tcf", "export", "--format", "peft", "--model", run, "--out", out], check=True)
    pred = subprocess.run(["build/tcf", "predict", "--model", run, "--top", str(K), "--input", texts_path],
                          check=True, capture_output=True, text=True).stdout.splitlines()
    ours = np.zeros((len(texts), K))
    for i, line in enumerate(pred):
        for name, p in json.loads(line)["top"]:
            ours[i, labels.index(name)] = p
    model = BertForSequenceClassification.from_pretrained(base, num_labels=K)
    model = PeftModel.from_pretrained(model, out).eval()
    tok = AutoTokenizer.from_pretrained(base)
    enc = tok(texts, padding=True, truncation=True, max_length=meta["max_len"], return_tensors="pt")
    with torch.no_grad():
        ref = torch.softmax(model(**enc).logits, -1).numpy()
d = np.abs(ours - ref).max()
print(f"{len(texts)} texts, {K} classes: max |p_tcf - p_peft| = {d:.3g}")
sys.exit(0 if d < 1e-4 else 1)
