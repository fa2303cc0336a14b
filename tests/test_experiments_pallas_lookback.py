"""The single-pass look-back scan (experiments/pallas_lookback.py), run by the Pallas interpreter on the CPU.

The interpreter runs tiles one after another, so every predecessor has finished when a tile
looks back; ``test_aggregates`` hides odd tiles' inclusive states, so look-backs must fold
aggregates across windows. Tolerance: 1e-5 relative to the complex128 Numba loop (float32).
"""
from __future__ import annotations

import numpy as np
import pytest

import gl
from experiments import pallas_lookback
from conftest import sweep

# kernel research in experiments/, not gl: `make test-all` runs it, `make test` does not
pytestmark = pytest.mark.slow


def siso(rng, B, L, D, mag=(0.7, 1.0)):
    q, k, v = (rng.standard_normal((B, L, D)).astype(np.float32) for _ in range(3))
    a = (rng.uniform(*mag, (B, L, D)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (B, L, D)))).astype(np.complex64)
    h0 = (rng.standard_normal((B, D)) + 1j * rng.standard_normal((B, D))).astype(np.complex64)
    return q, k, v, a, h0


def reference(q, k, v, a, h0=None):
    e = lambda x: x[..., None]
    y, h = gl.gate_loop_reference(e(q), e(k), e(v), e(a), h0=None if h0 is None else h0[..., None, None],
                                  return_state=True, dtype=np.complex128)
    return y[..., 0], h[..., 0, 0]


def rel(x, ref):
    return np.linalg.norm(np.asarray(x) - ref) / np.linalg.norm(ref)


@pytest.mark.parametrize("cfg", sweep([dict(T=4, block_d=16, window=2),
                                 dict(T=8, block_d=8, window=3, test_aggregates=True),
                                 dict(T=2, block_d=32, window=1, test_aggregates=True),
                                 dict(T=12, chunk=4, block_d=16, window=2),  # long tiles, read twice
                                 dict(T=8, chunk=2, block_d=8, window=3, test_aggregates=True),
                                 # persistent: fewer programs than tiles, each taking tickets in turn
                                 dict(T=12, chunk=4, block_d=16, window=2, programs=3),
                                 dict(T=4, block_d=8, window=2, programs=2, test_aggregates=True)],
                                fast=(3, 5)))
def test_matches_reference(rng, cfg):
    q, k, v, a, h0 = siso(rng, 2, 45, 21)  # L, D not multiples of T, block_d
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = pallas_lookback.gate_loop_siso_lookback(q, k, v, a, h0, interpret=True, complex_y=True, **cfg)
    assert rel(y, y_ref) < 1e-5 and rel(h, h_ref) < 1e-5
    y, h = pallas_lookback.gate_loop_siso_lookback(q, k, v, (a.real, a.imag), interpret=True, **cfg)
    y_ref, h_ref = reference(q, k, v, a)
    assert y.dtype == np.float32 and rel(y, y_ref.real) < 1e-5 and rel(h, h_ref) < 1e-5


def test_real_a(rng):
    q, k, v, a, _ = siso(rng, 1, 20, 8)
    ar = a.real
    y, _ = pallas_lookback.gate_loop_siso_lookback(q, k, v, ar, interpret=True, T=4, block_d=8, window=2,
                                                   test_aggregates=True)
    assert rel(y, reference(q, k, v, ar)[0].real) < 1e-5


def test_bad_programs(rng):
    q, k, v, a, _ = siso(rng, 1, 20, 8)
    with pytest.raises(ValueError, match="programs: expected a positive number"):
        pallas_lookback.gate_loop_siso_lookback(q, k, v, a, interpret=True, T=4, programs=0)


def test_bad_chunk(rng):
    q, k, v, a, _ = siso(rng, 1, 20, 8)
    with pytest.raises(ValueError, match="chunk: expected a divisor of T = 8"):
        pallas_lookback.gate_loop_siso_lookback(q, k, v, a, interpret=True, T=8, chunk=3)
