"""Checkers for chapter 1 (linear RNNs)."""
from __future__ import annotations

import numpy as np

from ..theory import ssm
from ._common import call, complex_normal, hint_list, random_gates

__all__ = ["check_kernel"]


def _cases(rng):
    """Fresh random diagonal RNNs: (A, B, C, L) with A (H, N) inside the unit disk."""
    for H, N, L in [(1, 1, 5), (3, 4, 16), (2, 7, 33)]:
        A = random_gates(rng, (H, N), 0.3, 0.99)
        B = complex_normal(rng, (H, N))
        C = complex_normal(rng, (H, N))
        yield A, B, C, L


def check_kernel(kernel_fn, seed=None):
    """Check ``kernel_fn(A, B, C, L)``: eq. 10's filter ``K_ℓ = Σ_j C_j A_j^ℓ B_j``, ``ℓ = 0 … L−1``.

    ``A, B, C``: complex ``(H, N)``; the result must be ``(H, L)``. Compares against
    :func:`gl.theory.ssm.kernel` on fresh random inputs and raises ``AssertionError`` saying what differs.
    """
    rng = np.random.default_rng(seed)
    for A, B, C, L in _cases(rng):
        want = ssm.kernel(A, B, C, L)
        got = call(kernel_fn, (A, B, C, L), who="kernel_fn", convert=np.asarray,
                   after=f" for A, B, C of shape {A.shape} and L = {L}")
        where = f"for A, B, C of shape {A.shape} (H, N) and L = {L}"
        if got.shape != want.shape:
            raise AssertionError(f"shape: expected {want.shape} (H, L) {where}, got {got.shape}")
        if np.allclose(got, want, rtol=1e-5, atol=1e-8):
            continue
        hints = []
        if np.allclose(got, ssm.kernel(A, B, C, L + 1)[:, 1:], rtol=1e-5, atol=1e-8):
            hints.append("your filter starts at A^1: the first tap K_0 = C B has no power of A")
        if np.allclose(got, ssm.kernel(A, B, 1.0, L), rtol=1e-5, atol=1e-8):
            hints.append("C is missing")
        if np.allclose(got, ssm.kernel(A, 1.0, C, L), rtol=1e-5, atol=1e-8):
            hints.append("B is missing")
        if np.allclose(got, (C[..., None] * A[..., None] ** np.arange(L) * B[..., None])[:, 0], rtol=1e-5):
            hints.append("you kept only the first state: sum over the N states")
        i = tuple(int(j) for j in np.unravel_index(np.argmax(np.abs(got - want)), want.shape))
        raise AssertionError(f"K{list(i)} {where}: expected {want[i]:.6g}, got {got[i]:.6g}"
                             + hint_list(hints))
    print("check_kernel: correct on 3 random diagonal RNNs (up to N = 7 states, L = 33).")
