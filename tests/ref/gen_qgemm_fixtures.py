#!/usr/bin/env python3
"""Fixtures for tests/test_qgemm.c: NF4 (bitsandbytes) and ggml block
quantization, and a quantized matmul forward/backward, from the reference
libraries.

bitsandbytes 0.50.2 (PyPI, runs on CPU; pinned in requirements.txt),
gguf-py 0.19 and torch. Writes raw little-endian files under
tests/fixtures/qgemm/:

  nf4_code.f32        the 16 NF4 values (bnb.functional.get_4bit_type("nf4"))
  dyn_code.f32        the 256-entry signed dynamic map used for double
                      quantization of the absmax (create_dynamic_map())
  nf4_w.f32           W (N, K) = (36, 512), row 3 block 0 all zeros
  nf4_q.u8            quantize_4bit(W, blocksize=64, nf4): packed, first
                      element of each pair in the high nibble, (N*K/2)
  nf4_absmax.f32      its per-block absmax, (N*K/64)
  nf4_deq.f32         dequantize_4bit of that, (N, K)
  nf4dq_q.u8          the same with compress_statistics=True (double quant)
  nf4dq_qabsmax.u8    8-bit codes of absmax - offset, (N*K/64)
  nf4dq_absmax2.f32   one absmax per 256 of those, (ceil(N*K/64/256))
  nf4dq_offset.f32    the offset (mean of the absmax), (1)
  nf4dq_deq.f32       dequantize_4bit with the double-quantized state, (N, K)
  x.f32, bias.f32     X (M, K) = (5, 512), bias (N)
  y.f32               bnb.matmul_4bit(X, W_dq.t(), state_dq, bias), (M, N)
  dy.f32, dx.f32      dY (M, N) and dX = autograd through matmul_4bit, (M, K)
  g_w.f32             (8, 256) f32 for the ggml quantizers
  g_q8_0.u8 g_q4_0.u8 g_q4_1.u8   gguf.quants.quantize of g_w (ggml-quants.c
                      reference quantizers, bit-exact)

Run from the repository root:  .venv/bin/python tests/ref/gen_qgemm_fixtures.py
"""
import numpy as np
import torch
import bitsandbytes as bnb
import bitsandbytes.functional as F
import gguf
from gguf import GGMLQuantizationType as T

OUT = "tests/fixtures/qgemm"
N, K, M = 36, 512, 5
torch.manual_seed(20261201)
rng = np.random.default_rng(20261201)


def save(name, a):
    a = np.ascontiguousarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a)
    a.tofile(f"{OUT}/{name}")


w = torch.from_numpy(rng.standard_normal((N, K)).astype(np.float32) * 0.05)
w[3, :64] = 0
w[7, 100] = 0.4  # an outlier: that block's other weights become small codes
save("nf4_code.f32", F.get_4bit_type("nf4", device="cpu").float())
save("dyn_code.f32", F.create_dynamic_map().float())
save("nf4_w.f32", w)

q, st = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=False)
save("nf4_q.u8", q.view(-1))
save("nf4_absmax.f32", st.absmax.float())
save("nf4_deq.f32", F.dequantize_4bit(q, st))

qd, sd = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)
assert sd.state2.blocksize == 256 and torch.equal(sd.state2.code.float(), F.create_dynamic_map().float())
save("nf4dq_q.u8", qd.view(-1))
save("nf4dq_qabsmax.u8", sd.absmax.view(-1))
save("nf4dq_absmax2.f32", sd.state2.absmax.float())
save("nf4dq_offset.f32", sd.offset.float().reshape(1))
save("nf4dq_deq.f32", F.dequantize_4bit(qd, sd))

x = torch.from_numpy(rng.standard_normal((M, K)).astype(np.float32)).requires_grad_(True)
bias = torch.from_numpy(rng.standard_normal(N).astype(np.float32) * 0.1)
y = bnb.matmul_4bit(x, qd.t(), quant_state=sd, bias=bias)
dy = torch.from_numpy(rng.standard_normal((M, N)).astype(np.float32))
y.backward(dy)
save("x.f32", x)
save("bias.f32", bias)
save("y.f32", y)
save("dy.f32", dy)
save("dx.f32", x.grad)

gw = rng.standard_normal((8, 256)).astype(np.float32)
gw[1, :32] = 0
gw[2, 32:64] = 1.0
for qt, name in ((T.Q8_0, "q8_0"), (T.Q4_0, "q4_0"), (T.Q4_1, "q4_1")):
    save(f"g_{name}.u8", gguf.quants.quantize(gw, qt))
save("g_w.f32", gw)
print("wrote", OUT)
