#!/usr/bin/env python3
"""Q4_K fixtures for tests/test_quantize.c: f32 rows encoded by ggml itself.

gguf-py 0.19 has no Q4_K quantizer, so the byte reference is ggml's
quantize_row_q4_K_ref, reached through ggml_quantize_chunk(GGML_TYPE_Q4_K,
..., imatrix=NULL) in the libggml-base.so that llama-cpp-python bundles
(its ggml-base is built without -march, so no fused multiply-add changes
the float operations).

Writes under tests/fixtures/quant/:
  q4_k_input.f32  (ROWS, 256) little-endian f32, one super-block per row:
                  seeded normal rows at several scales, all-equal rows
                  (positive, negative), zeros, rows with outliers, tiny
                  magnitudes (f16-subnormal and zero scales), one-signed rows,
                  uniform and heavy-tailed rows, rows whose sub-blocks differ
                  wildly in range (6-bit scales that round to 0), constant
                  and zero sub-blocks inside a normal row, values on exact
                  rounding ties
  q4_k.bin        (ROWS, 144) ggml's Q4_K blocks of q4_k_input.f32
  q4_k_meta.txt   the llama-cpp-python version and library used

Run from the repository root, with a Python that has numpy and can find
llama_cpp (only located, not imported), e.g. the wheel unpacked outside the
shared venv:
    .venv/bin/pip install --no-deps --target /tmp/ggml-pkg llama_cpp_python-0.3.36-*.whl
    PYTHONPATH=/tmp/ggml-pkg .venv/bin/python tests/ref/gen_q4k_fixtures.py
or name the library (e.g. the libggml-base.so of a llama-cpp-python build
tree) and what it is:
    GGML_BASE_LIB=/path/libggml-base.so GGML_BASE_DESC="..." python tests/ref/gen_q4k_fixtures.py
"""
import ctypes
import glob
import os
import sys

import numpy as np

OUT = "tests/fixtures/quant"
GGML_TYPE_Q4_K = 12
QK = 256
rng = np.random.default_rng(20261202)


def find_lib():
    """(description, path) of the libggml-base.so to use."""
    if os.environ.get("GGML_BASE_LIB"):
        p = os.environ["GGML_BASE_LIB"]
        return os.environ.get("GGML_BASE_DESC", p), p
    # located, not imported: importing llama_cpp needs its runtime deps (diskcache, jinja2)
    import importlib.metadata
    import importlib.util
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None:
        sys.exit("llama_cpp not found: install the llama-cpp-python wheel or set GGML_BASE_LIB")
    d = os.path.dirname(spec.origin)
    libs = sorted(glob.glob(os.path.join(d, "**", "libggml-base.so*"), recursive=True))
    if not libs:
        sys.exit(f"no libggml-base.so under {d}")
    ver = importlib.metadata.version("llama_cpp_python")
    return f"llama-cpp-python {ver} (installed wheel), {os.path.relpath(libs[0], d)}", libs[0]


def rows():
    r = []

    def add(x):
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        assert x.size == QK
        r.append(x)

    for s in (1.0, 0.02, 300.0, 1e-3):
        for _ in range(12):
            add(rng.standard_normal(QK) * s)
    add(np.zeros(QK))
    for v in (1.0, -1.0, 0.37, -2.5e-3, 1e4):
        add(np.full(QK, v))                                   # all equal
    for _ in range(16):                                       # outliers
        x = rng.standard_normal(QK) * 0.05
        idx = rng.choice(QK, size=rng.integers(1, 4), replace=False)
        x[idx] = rng.choice([-1, 1], size=idx.size) * rng.uniform(2, 40, size=idx.size)
        add(x)
    for s in (1e-5, 1e-6, 1e-7, 1e-9, 1e-30):                 # tiny: f16 subnormal / zero d
        for _ in range(3):
            add(rng.standard_normal(QK) * s)
    for _ in range(12):
        add(-np.abs(rng.standard_normal(QK)) * 0.1)           # negatives only
    for _ in range(8):
        add(np.abs(rng.standard_normal(QK)) * 0.1)            # positives only
    for _ in range(8):
        add(-np.abs(rng.standard_normal(QK)) - 1.0)           # negative, away from zero
    for _ in range(8):
        add(rng.uniform(-1, 1, QK))
    for _ in range(12):
        add(rng.standard_t(3, QK) * 0.03)                     # heavy tails
    for _ in range(16):                                       # sub-block ranges differ wildly
        x = rng.standard_normal((8, 32)) * (10.0 ** rng.uniform(-4, 1, size=(8, 1)))
        add(x)
    for _ in range(8):                                        # constant / zero sub-blocks
        x = rng.standard_normal((8, 32)) * 0.1
        x[rng.integers(0, 8)] = 0.0
        x[rng.integers(0, 8)] = rng.standard_normal()
        add(x)
    for _ in range(8):                                        # exact grids: ties in the roundings
        x = rng.integers(0, 16, QK).astype(np.float64)
        if rng.integers(0, 2):
            x = x / 2 - 3.75
        add(x)
    for _ in range(8):                                        # few distinct values per sub-block
        x = rng.choice([-0.5, 0.0, 0.25, 1.0], size=QK) * rng.uniform(0.01, 2)
        add(x)
    return np.stack(r).astype(np.float32)


def main():
    desc, path = find_lib()
    lib = ctypes.CDLL(path)
    f = lib.ggml_quantize_chunk
    f.restype = ctypes.c_size_t
    f.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                  ctypes.c_void_p]
    x = np.ascontiguousarray(rows())
    n = x.shape[0]
    dst = np.zeros(n * 144, dtype=np.uint8)
    got = f(GGML_TYPE_Q4_K, x.ctypes.data, dst.ctypes.data, 0, n, QK, None)
    assert got == n * 144, got
    # sanity: gguf-py's decoder of ggml's bytes is close to the input
    try:
        import gguf
        y = gguf.quants.dequantize(dst.reshape(n, 144), gguf.GGMLQuantizationType.Q4_K).reshape(n, QK)
        rel = np.sqrt(((y - x) ** 2).sum() / max((x ** 2).sum(), 1e-30))
        print(f"gguf-py decode of ggml's Q4_K: relative rms error {rel:.4f}")
    except ImportError:
        pass
    os.makedirs(OUT, exist_ok=True)
    x.tofile(f"{OUT}/q4_k_input.f32")
    dst.tofile(f"{OUT}/q4_k.bin")
    with open(f"{OUT}/q4_k_meta.txt", "w") as fh:
        fh.write(f"{desc}\nggml_quantize_chunk(GGML_TYPE_Q4_K, rows={n}, n_per_row={QK}, imatrix=NULL)\n")
    print(f"wrote {n} rows to {OUT}/q4_k_input.f32, q4_k.bin")


if __name__ == "__main__":
    main()
