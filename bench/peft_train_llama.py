"""PyTorch + PEFT side of bench/run_train_llama.sh: LoRA training steps of
SmolLM2-135M as LlamaForSequenceClassification (weights dequantized from the
same GGUF by transformers), r / alpha on q k v o gate up down, AdamW, on the
exact padded batches tcf trains on (ids/mask from `tcf tokenize`, one batch of
B texts per step, each text cut at --max-len). Optionally the base in
bitsandbytes 4-bit (--bnb nf4: QLoRA as the reference system did it).
Prints one JSON line: examples/s over the timed steps (after --warmup steps),
peak RSS (ru_maxrss), the last loss.
"""
import argparse, json, resource, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--gguf", required=True)
ap.add_argument("--ids", required=True, help="file of token id lines (tcf tokenize output), one text per line")
ap.add_argument("--labels", required=True, help="file of integer labels, one per line")
ap.add_argument("--n-labels", type=int, required=True)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--max-len", type=int, default=64)
ap.add_argument("--steps", type=int, default=8)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--r", type=int, default=8)
ap.add_argument("--alpha", type=float, default=16)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--bnb", default="none", choices=["none", "nf4"])
ap.add_argument("--group-by-length", action="store_true",
                help="order batches as HF Trainer's LengthGroupedSampler does: random megabatches of 50 batches, "
                     "each sorted by length, longest first")
a = ap.parse_args()

import os
import torch
from transformers import AutoModelForSequenceClassification
from peft import LoraConfig, get_peft_model

torch.set_num_threads(a.threads)
torch.manual_seed(0)
d, f = os.path.split(os.path.abspath(a.gguf))
kw = {}
if a.bnb == "nf4":
    from transformers import BitsAndBytesConfig
    kw["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                   bnb_4bit_compute_dtype=torch.float32)
if kw:
    # transformers refuses a quantization_config with a GGUF file: dequantize
    # the GGUF once into a plain directory, then load that in 4 bits
    # (in a child process, so the f32 copy does not count in this one's peak RSS)
    import subprocess, tempfile
    tmp = tempfile.mkdtemp(prefix="peft_llama_")
    # (transformers 5 will not save_pretrained a GGUF-loaded model: write its
    # config and state dict directly)
    subprocess.run([sys.executable, "-c", "import sys, torch; from transformers import "
                    "AutoModelForSequenceClassification as M; from safetensors.torch import save_file; "
                    "m = M.from_pretrained(sys.argv[1], gguf_file=sys.argv[2], num_labels=int(sys.argv[3]), "
                    "torch_dtype=torch.float32); m.config.__dict__.pop('quantization_config', None); m.config.save_pretrained(sys.argv[4]); "
                    "save_file({k: v.contiguous() for k, v in m.state_dict().items()}, "
                    "sys.argv[4] + '/model.safetensors', metadata={'format': 'pt'})",
                    d, f, str(a.n_labels), tmp], check=True)
    model = AutoModelForSequenceClassification.from_pretrained(tmp, num_labels=a.n_labels, **kw)
else:
    model = AutoModelForSequenceClassification.from_pretrained(d, gguf_file=f, num_labels=a.n_labels,
                                                               torch_dtype=torch.float32)
model.config.pad_token_id = 2
cfg = LoraConfig(r=a.r, lora_alpha=a.alpha, lora_dropout=0.0, task_type="SEQ_CLS",
                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
model = get_peft_model(model, cfg)
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr, weight_decay=0.01)

rows = [[int(t) for t in l.split()][: a.max_len] for l in open(a.ids)]
labels = [int(l) for l in open(a.labels)]
order = list(range(len(rows)))
if a.group_by_length:
    import random
    random.Random(0).shuffle(order)
    mb = 50 * a.batch
    order = [j for s in range(0, len(order), mb) for j in sorted(order[s:s + mb], key=lambda j: -len(rows[j]))]
def batch(i):
    rs = [rows[order[(i * a.batch + b) % len(rows)]] for b in range(a.batch)]
    ls = [labels[order[(i * a.batch + b) % len(rows)]] for b in range(a.batch)]
    T = max(len(r) for r in rs)
    ids = torch.full((a.batch, T), 2, dtype=torch.long)
    mask = torch.zeros((a.batch, T), dtype=torch.long)
    for b, r in enumerate(rs):
        ids[b, : len(r)] = torch.tensor(r)
        mask[b, : len(r)] = 1
    return ids, mask, torch.tensor(ls), T

t0 = None
tokens = 0
for step in range(a.warmup + a.steps):
    if step == a.warmup:
        t0 = time.perf_counter()
    # timed steps: batches 0 .. steps-1; the warm-up runs the batches after
    # them (with --group-by-length batch 0 holds the longest texts: it is timed)
    ids, mask, y, T = batch(step - a.warmup if step >= a.warmup else a.steps + step)
    out = model(input_ids=ids, attention_mask=mask, labels=y)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    if step >= a.warmup:
        tokens += a.batch * T
dt = time.perf_counter() - t0
print(json.dumps({"examples_per_s": a.steps * a.batch / dt, "tokens": tokens, "seconds": dt,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "last_loss": float(out.loss.detach()), "bnb": a.bnb, "torch": torch.__version__}))
