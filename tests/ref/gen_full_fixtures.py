#!/usr/bin/env python3
"""Reference outputs of FULL fine-tuning (no PEFT) on all-MiniLM-L6-v2, from PyTorch.

Model: transformers BertForSequenceClassification loaded from models/all-MiniLM-L6-v2 with
num_labels=15, all dropout probabilities 0 AND model.eval(), float32, eager attention, CPU,
1 thread; every parameter trainable (embeddings incl. LayerNorm, every layer, pooler, classifier).

Inputs are shared with the LoRA fixtures (tests/fixtures/lora/, from gen_lora_fixtures.py): the
batch ids/mask/labels [8, T] and the classifier init init/classifier.{weight,bias}.

Writes tests/fixtures/full/ (raw little-endian .f32, row-major; manifest.json lists them):
  logits.f32 [8,15], loss.f32 [1]
  grad_norms.f32 [N]      L2 norm (float64) of the gradient of every parameter, in
                          manifest["params"] order (model.named_parameters())
  grad/<name>.f32         full gradient of a few tensors: embeddings.LayerNorm.weight/bias,
                          layer 0 attention.output.LayerNorm.weight/bias, layer 5 output.dense.bias,
                          pooler.dense.bias, classifier.weight/bias
  grad_slices/...         rows of big gradients: intermediate.dense.weight of layer 3 rows 0..7,
                          attention.self.query.weight of layer 0 rows 0..7,
                          position_embeddings rows 0..T-1, word_embeddings rows manifest["word_rows"]
                          (pad id 0, [CLS], [SEP] and the tokens of the first text)
  train_loss.f32 [STEPS+1] AdamW (lr 1e-4, betas (0.9, 0.999), eps 1e-8) on the same batch,
                          weight decay 0.01 except on biases and LayerNorm weights (transformers
                          Trainer's get_decay_parameter_names rule), no clipping, no schedule:
                          the loss with the params after s updates, s = 0..STEPS
  train_norms.f32 [N]     L2 norm of every parameter after STEPS updates
Run: .venv/bin/python tests/ref/gen_full_fixtures.py [--out DIR]
"""
import argparse, hashlib, json, os, shutil

import numpy as np
import torch
import transformers
from transformers import BertForSequenceClassification

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = "models/all-MiniLM-L6-v2"
LORA = os.path.join(ROOT, "tests", "fixtures", "lora")
OUT = os.path.join(ROOT, "tests", "fixtures", "full")
NUM_LABELS = 15
STEPS = 5
ADAMW = dict(lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
WD = 0.01
FULL_GRADS = ["bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
              "bert.encoder.layer.0.attention.output.LayerNorm.weight",
              "bert.encoder.layer.0.attention.output.LayerNorm.bias",
              "bert.encoder.layer.5.output.dense.bias", "bert.pooler.dense.bias",
              "classifier.weight", "classifier.bias"]
ROW_SLICES = [("bert.encoder.layer.3.intermediate.dense.weight", 0, 8),
              ("bert.encoder.layer.0.attention.self.query.weight", 0, 8)]


def no_decay(name):
    n = name.lower()
    return "bias" in n or "layernorm" in n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.chdir(ROOT)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    lman = json.load(open(os.path.join(LORA, "manifest.json")))
    shape = {t["name"]: t["shape"] for t in lman["tensors"]}
    B, T = shape["ids"]
    ids = np.fromfile(os.path.join(LORA, "ids.i32"), "<i4").reshape(B, T)
    mask = np.fromfile(os.path.join(LORA, "mask.i32"), "<i4").reshape(B, T)
    labels = np.fromfile(os.path.join(LORA, "labels.i32"), "<i4")
    head_w = np.fromfile(os.path.join(LORA, "init", "classifier.weight.f32"), "<f4").reshape(NUM_LABELS, -1)
    head_b = np.fromfile(os.path.join(LORA, "init", "classifier.bias.f32"), "<f4")

    m = BertForSequenceClassification.from_pretrained(
        MODEL, num_labels=NUM_LABELS, dtype=torch.float32, attn_implementation="eager",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    with torch.no_grad():
        m.classifier.weight.copy_(torch.from_numpy(head_w))
        m.classifier.bias.copy_(torch.from_numpy(head_b))
    m.eval()
    ids_t, mask_t = torch.from_numpy(ids).long(), torch.from_numpy(mask).long()
    lab_t = torch.from_numpy(labels).long()

    def fwd():
        o = m(input_ids=ids_t, attention_mask=mask_t, token_type_ids=torch.zeros_like(ids_t), labels=lab_t)
        return o.logits, o.loss

    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    files = []

    def put(rel, arr):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        path = os.path.join(out, rel + ".f32")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        arr.astype("<f4").tofile(path)
        files.append(dict(file=rel + ".f32", shape=list(arr.shape)))

    m.zero_grad()
    logits, loss = fwd()
    loss.backward()
    params = list(m.named_parameters())
    put("logits", logits.detach().numpy())
    put("loss", np.array([loss.item()]))
    put("grad_norms", np.array([float(p.grad.double().norm()) for _, p in params]))
    pd = dict(params)
    for n in FULL_GRADS:
        put("grad/" + n, pd[n].grad.numpy())
    for n, r0, r1 in ROW_SLICES:
        put(f"grad_slices/{n}.rows{r0}-{r1}", pd[n].grad[r0:r1].numpy())
    put(f"grad_slices/bert.embeddings.position_embeddings.weight.rows0-{T}",
        pd["bert.embeddings.position_embeddings.weight"].grad[:T].numpy())
    word_rows = [0, 101, 102] + [int(t) for t in ids[0] if int(t) not in (0, 101, 102)][:6]
    put("grad_slices/bert.embeddings.word_embeddings.weight.word_rows",
        pd["bert.embeddings.word_embeddings.weight"].grad[word_rows].numpy())

    groups = [dict(params=[p for n, p in params if not no_decay(n)], weight_decay=WD),
              dict(params=[p for n, p in params if no_decay(n)], weight_decay=0.0)]
    opt = torch.optim.AdamW(groups, **ADAMW)
    losses = []
    for s in range(STEPS + 1):
        opt.zero_grad()
        _, loss = fwd()
        losses.append(loss.item())
        if s == STEPS:
            break
        loss.backward()
        opt.step()
    put("train_loss", np.array(losses))
    put("train_norms", np.array([float(p.detach().double().norm()) for _, p in params]))

    man = dict(
        model="all-MiniLM-L6-v2",
        model_sha256=hashlib.sha256(open(os.path.join(MODEL, "model.safetensors"), "rb").read()).hexdigest(),
        torch=torch.__version__, transformers=transformers.__version__, numpy=np.__version__,
        command="python tests/ref/gen_full_fixtures.py",
        inputs="tests/fixtures/lora/{ids,mask,labels}.i32 and init/classifier.*",
        batch=[B, T], steps=STEPS, adamw=dict(ADAMW, weight_decay=WD,
                                             no_decay="names containing 'bias' or 'layernorm' (lowercased)"),
        params=[dict(name=n, shape=list(p.shape)) for n, p in params],
        word_rows=word_rows, files=files)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    print(f"loss {losses[0]:.7f} -> {losses[-1]:.7f}; wrote {out}")


if __name__ == "__main__":
    main()
