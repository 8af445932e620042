#!/usr/bin/env python3
"""Check by hand that a `tcf train --mode full` run directory is a transformers model: load it with
BertForSequenceClassification.from_pretrained (and its tokenizer with AutoTokenizer), and compare
its class probabilities on a few texts with `tcf predict` on the same run.

Usage: .venv/bin/python tests/ref/check_full_run.py RUN_DIR [TCF_BINARY]
Exit status 1 if any probability differs by more than 1e-4.
"""
import json, subprocess, sys

import torch
from transformers import AutoTokenizer, BertForSequenceClassification

TEXTS = ["I was charged twice for my subscription", "where is my parcel",
         "how do I reset my password?", "cancel my order please"]


def main():
    run = sys.argv[1]
    tcf = sys.argv[2] if len(sys.argv) > 2 else "build/tcf"
    labels = json.load(open(f"{run}/tcf_run.json"))["labels"]
    m = BertForSequenceClassification.from_pretrained(run, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(run)
    assert [m.config.id2label[i] for i in range(len(labels))] == labels, "id2label differs from tcf_run.json"
    with torch.no_grad():
        probs = []
        for t in TEXTS:  # one at a time: no padding, as tcf predict sorts and pads its own way
            enc = tok(t, return_tensors="pt", truncation=True, max_length=128)
            probs.append(torch.softmax(m(**enc).logits[0], -1))
    out = subprocess.run([tcf, "predict", "--model", run, "--top", str(len(labels))], input="\n".join(TEXTS) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    worst = 0.0
    for p, line in zip(probs, out):
        top = dict(json.loads(line)["top"])
        for i, name in enumerate(labels):
            worst = max(worst, abs(float(p[i]) - top[name]))
    print(f"{len(TEXTS)} texts x {len(labels)} classes: max |p_tcf - p_transformers| = {worst:.2e}")
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
