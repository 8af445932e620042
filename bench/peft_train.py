#!/usr/bin/env python3
"""PyTorch + PEFT counterpart of `tcf train` for the side-by-side benchmark
(bench/run_train.sh): the same model (BertForSequenceClassification on
all-MiniLM-L6-v2), LoRA settings (r, alpha, the six dense kinds), optimiser
(torch AdamW, wd 0.01 on every trainable tensor), schedule (linear, warm-up
ratio, lr(k) = lambda(k-1) as torch's LambdaLR), clipping (1.0), batch size,
max length, epochs, seed-shuffled length-bucketed batches (windows of 50
batches sorted by length, then batch order shuffled: what tcf does) and the
same dropout (--dropout: hidden, attention probabilities and classifier, as
BERT's config; LoRA dropout 0). --autocast bf16 runs the forward under
torch.autocast("cpu", bfloat16) (PyTorch's mixed-precision CPU option).
Prints one JSON line: examples/s over the training loop, seconds, peak RSS,
test accuracy and macro-F1.
"""
import argparse, csv, json, random, resource, sys, time

import torch
from peft import LoraConfig, get_peft_model
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification, get_linear_schedule_with_warmup


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def macro_f1(y, p, k):
    f1s = []
    for c in range(k):
        tp = sum(1 for a, b in zip(y, p) if a == c and b == c)
        pc, sc = sum(1 for b in p if b == c), sum(1 for a in y if a == c)
        if pc == 0 and sc == 0:
            continue
        pr, rc = (tp / pc if pc else 0.0), (tp / sc if sc else 0.0)
        f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return sum(f1s) / len(f1s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup-ratio", type=float, default=0.06)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    tok = Tokenizer.from_file(a.model + "/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(a.max_len)
    xtr, ytr = read(a.train)
    xte, yte = read(a.test)
    labels = sorted(set(ytr))
    lid = {l: i for i, l in enumerate(labels)}
    enc = lambda xs: [e.ids for e in tok.encode_batch(xs)]
    itr, ite = enc(xtr), enc(xte)
    m = BertForSequenceClassification.from_pretrained(
        a.model, num_labels=len(labels), hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout,
        classifier_dropout=a.dropout)
    m = get_peft_model(m, LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.0,
                                     target_modules=["query", "key", "value", "attention.output.dense",
                                                     "intermediate.dense", "output.dense"]))
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    nb = (len(itr) + a.batch - 1) // a.batch
    total = nb * a.epochs
    sched = get_linear_schedule_with_warmup(opt, round(a.warmup_ratio * total), total)

    def batch(ids_list, idx):
        T = max(len(ids_list[i]) for i in idx)
        x = torch.zeros(len(idx), T, dtype=torch.long)
        mk = torch.zeros(len(idx), T, dtype=torch.long)
        for r, i in enumerate(idx):
            x[r, :len(ids_list[i])] = torch.tensor(ids_list[i])
            mk[r, :len(ids_list[i])] = 1
        return x, mk

    m.train()
    t0, n = time.time(), 0
    for ep in range(a.epochs):
        order = list(range(len(itr)))
        rng.shuffle(order)
        w = a.batch * 50
        order = sum((sorted(order[s:s + w], key=lambda i: (len(itr[i]), i)) for s in range(0, len(order), w)), [])
        starts = list(range(0, len(order), a.batch))
        rng.shuffle(starts)
        for s in starts:
            idx = order[s:s + a.batch]
            x, mk = batch(itr, idx)
            y = torch.tensor([lid[ytr[i]] for i in idx])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
                loss = m(input_ids=x, attention_mask=mk, labels=y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            n += len(idx)
    train_s = time.time() - t0
    m.eval()
    pred = []
    with torch.inference_mode():
        for s in range(0, len(ite), 64):
            idx = list(range(s, min(s + 64, len(ite))))
            x, mk = batch(ite, idx)
            pred += m(input_ids=x, attention_mask=mk).logits.argmax(-1).tolist()
    yt = [lid[l] for l in yte]
    acc = sum(int(p == t) for p, t in zip(pred, yt)) / len(yt)
    print(json.dumps({"engine": "torch+peft" + ("+bf16" if a.autocast == "bf16" else ""), "dropout": a.dropout, "threads": a.threads, "examples": n, "train_s": round(train_s, 1),
                      "examples_per_s": round(n / train_s, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "test_accuracy": round(acc, 4), "test_macro_f1": round(macro_f1(yt, pred, len(labels)), 4),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    sys.exit(main())
