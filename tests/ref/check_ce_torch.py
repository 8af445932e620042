"""Print torch.nn.CrossEntropyLoss on a fixed example, with and without class
weights and label smoothing, plus the gradient w.r.t. the logits. The numbers
are hard-coded in tests/test_grad.c (test_ce_torch) to pin tcf_cross_entropy's
semantics to torch's. Run: .venv/bin/python tests/ref/check_ce_torch.py
"""
import torch

torch.set_printoptions(precision=10)
logits = torch.tensor([[1.5, -0.3, 0.2],
                       [0.1, 0.4, -1.2],
                       [-0.7, 2.0, 0.3],
                       [0.0, 0.5, 0.9]], dtype=torch.float64)
labels = torch.tensor([0, 2, 1, -100])  # last row ignored (ignore_index=-100)
weight = torch.tensor([0.5, 2.0, 1.25], dtype=torch.float64)
print("torch", torch.__version__)
for name, w, eps in [("plain", None, 0.0), ("w", weight, 0.0), ("ls", None, 0.1), ("w_ls", weight, 0.1)]:
    z = logits.clone().requires_grad_(True)
    loss = torch.nn.CrossEntropyLoss(weight=w, label_smoothing=eps)(z, labels)
    loss.backward()
    print(f"{name}: loss = {loss.item():.12f}")
    print(f"{name}: dlogits = {[round(v, 12) for v in z.grad.flatten().tolist()]}")
