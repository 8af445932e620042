"""Fixture for tests/cli_decoder.sh: a tcf-trained decoder adapter (tiny random
Llama, tests/fixtures/llama/tiny_llama + tiny_decoder_tokenizer.json, trained by
`tcf train --quant f32`) loaded by Python PEFT onto LlamaForSequenceClassification,
and PEFT's class probabilities for a few texts. tcf predict on the same run must
give them (so tcf's adapter files are what PEFT reads, key names included).

    make && .venv/bin/python tests/ref/gen_decoder_peft_fixture.py
"""
import json, os, shutil, subprocess, tempfile
import torch
from peft import PeftModel
from tokenizers import Tokenizer
from transformers import LlamaForSequenceClassification

L = "tests/fixtures/llama"
OUT = L + "/decoder_peft"
tmp = tempfile.mkdtemp()
m = tmp + "/tiny"
os.makedirs(m)
for f in ("config.json", "model.safetensors"):
    shutil.copy(f"{L}/tiny_llama/{f}", m)
shutil.copy(f"{L}/tiny_decoder_tokenizer.json", m + "/tokenizer.json")
lines = open("data/demo/train.csv", encoding="utf-8").read().splitlines()
open(tmp + "/train.csv", "w", encoding="utf-8").write("\n".join(lines[:301]) + "\n")
vl = open("data/demo/valid.csv", encoding="utf-8").read().splitlines()
open(tmp + "/valid.csv", "w", encoding="utf-8").write("\n".join(vl[:41]) + "\n")
subprocess.run(["build/tcf", "train", "--model", m, "--train", tmp + "/train.csv", "--valid", tmp + "/valid.csv",
                "--out", tmp + "/run", "--epochs", "2", "--batch", "16", "--lr", "3e-3", "--quant", "f32",
                "--threads", "1", "--seed", "3"], check=True, capture_output=True)
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
for f in ("adapter_config.json", "adapter_model.safetensors"):
    shutil.copy(f"{tmp}/run/{f}", OUT)
labels = json.load(open(tmp + "/run/tcf_run.json"))["labels"]
json.dump({"labels": labels}, open(OUT + "/labels.json", "w"))
texts = ["my card was charged twice", "how do I reset my password", "the app crashes when I open it",
         "I want to cancel my subscription", "great service, thank you!"]
open(OUT + "/texts.txt", "w").write("\n".join(texts) + "\n")
base = LlamaForSequenceClassification.from_pretrained(m, num_labels=len(labels), torch_dtype=torch.float32)
base.config.pad_token_id = 0
model = PeftModel.from_pretrained(base, OUT).eval()
tok = Tokenizer.from_file(m + "/tokenizer.json")
rows = []
with torch.no_grad():
    for t in texts:
        ids = torch.tensor([tok.encode(t).ids])
        p = torch.softmax(model(input_ids=ids).logits[0], -1)
        rows.append([float(x) for x in p])
json.dump({"peft": __import__("peft").__version__, "torch": torch.__version__, "probs": rows},
          open(OUT + "/peft_probs.json", "w"))
print("wrote", OUT, "top labels:", [labels[max(range(len(r)), key=r.__getitem__)] for r in rows])
