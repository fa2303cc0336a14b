"""Check the compiled fused multi-head kernels (gl.pallas_chunked) on a GPU against the
complex128 Numba loop: odd lengths, real and complex a and h0, Re y and complex y, every
precision, segments and sub-blocks; then gl.gate_loop(mode="auto") and its gradient.

Usage: python tools/gpu_mh_check.py
"""
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

import jax
import jax.numpy as jnp
import numpy as np

import gl
from gl import bench
from gl.kernels import chunked as P

print(jax.devices()[0].device_kind, jax.__version__, flush=True)
rng = np.random.default_rng(0)
worst = 0.0
CASES = ([((333, 16, 32), ca, ch, p, 2, 3, 1.0) for ca, ch in itertools.product([True, False], repeat=2)
          for p in ("f16x3", "tf32x3")]
         + [((1000, 64, 64), True, True, p, b, s, 1.0) for p, b, s in
            [("f16x3", 2, None), ("f16x3", 4, None), ("tf32x3", 4, None), ("fp32", 4, None), ("bf16x3", 4, None),
             ("tf32x3", 1, 2), ("f16x3", 8, 5)]]
         + [((100, 32, 32), True, True, "f16x3", 2, 2, g) for g in (1e-6, 1e6, 2.5)])  # input scales; |a| up to 2.5
for (L, d_k, d_v), complex_a, complex_h0, prec, blocks, segments, g in CASES:
    B, H = 2, 3
    q, k = ((rng.standard_normal((B, L, H, d_k)) / np.sqrt(d_k)).astype(np.float32) for _ in range(2))
    v = rng.standard_normal((B, L, H, d_v)).astype(np.float32)
    mag = rng.uniform(0.0, 1.0, (B, L, H, d_k))
    a = (mag * np.exp(1j * rng.uniform(-np.pi, np.pi, mag.shape))).astype(np.complex64) if complex_a \
        else (mag * rng.choice([-1, 1], mag.shape)).astype(np.float32)
    a[:, 7] = 0
    if g == 2.5:  # growing decays: "f16x3" must hand over to TF32x3
        a = (a * 2.5).astype(a.dtype)
    elif g != 1.0:
        q = (q * g).astype(np.float32)
    h0 = rng.standard_normal((B, H, d_k, d_v)).astype(np.float32)
    if complex_h0:
        h0 = (h0 + 1j * rng.standard_normal(h0.shape)).astype(np.complex64)
    cy = complex_a or complex_h0
    y, h = P.gate_loop_mh(q, k, v, a, h0, complex_y=cy, precision=prec, blocks=blocks, segments=segments)
    y_ref, h_ref = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
    ey, eh = bench.rel_err(np.asarray(y), y_ref), bench.rel_err(np.asarray(h), h_ref)
    tol = 1e-4 if prec == "bf16x3" else 2e-6
    flag = "ok" if max(ey, eh) < tol else "FAIL"
    if prec != "bf16x3":
        worst = max(worst, ey, eh)
    print(f"L={L} d_k={d_k} d_v={d_v} complex a {complex_a!s:5} h0 {complex_h0!s:5} {prec:6} blocks {blocks} "
          f"segments {segments} scale {g:g}: y {ey:.1e} h {eh:.1e} {flag}", flush=True)
print(f"worst f16x3/tf32x3/fp32 error: {worst:.1e}", flush=True)
q, k, v, a = bench.mh_inputs(jax.random.key(1), 2, 300, 4, 64)
w = jax.random.normal(jax.random.key(2), (2, 300, 4, 64))
loss = lambda mode: lambda q, k, v, a: jnp.sum(gl.gate_loop(q, k, v, a, mode=mode).real * w)
print("auto picks:", gl.operator.pick_mode("gpu", q.shape, v.shape, jnp.complex64, has_pallas=gl.operator.pallas_available()))
g = jax.grad(loss("auto"), argnums=(0, 1, 2, 3))(q, k, v, a)
g_ref = jax.grad(loss("chunked"), argnums=(0, 1, 2, 3))(q, k, v, a)
print("auto gradient vs chunked:", [f"{bench.rel_err(np.asarray(x), np.asarray(r)):.1e}" for x, r in zip(g, g_ref)],
      flush=True)
