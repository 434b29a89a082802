#!/usr/bin/env python3
"""The numpy.histogram peer: 64 MiB of float32 (16 Mi values), 2048 bins of |x| over [0, 8), single thread.

Run: python3 benchmarks/peers/numpy_histogram.py   (prints seconds per call and GB/s of input read)
"""
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import time
import numpy as np

N = 16 * 1024 * 1024
x = np.random.default_rng(42).standard_normal(N).astype(np.float32)
a = np.abs(x)
best = float("inf")
for _ in range(5):
    t0 = time.perf_counter()
    counts, _ = np.histogram(a, bins=2048, range=(0.0, 8.0))
    best = min(best, time.perf_counter() - t0)
print(f"numpy {np.__version__} histogram 2048 bins of |x|, {N} float32: {best * 1e3:.1f} ms, "
      f"{N * 4 / best / 1e9:.2f} GB/s read (best of 5; abs computed beforehand)")
