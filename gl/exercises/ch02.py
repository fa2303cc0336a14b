"""Checkers for chapter 2 (SSMs and their discretization)."""
from __future__ import annotations

import numpy as np

from ..theory import ssm
from ._common import call, complex_normal, hint_list, pair

__all__ = ["check_discretize_bilinear"]


def check_discretize_bilinear(discretize_fn, seed=None):
    """Check ``discretize_fn(Lambda, B_bar, delta) -> (A, B)`` against :func:`gl.theory.ssm.discretize_bilinear`.

    ``Lambda``, ``B_bar``: complex ``(N,)``; ``delta``: a positive float. Raises
    ``AssertionError`` naming the input and the first entry that differs.
    """
    rng = np.random.default_rng(seed)
    for N, delta in [(1, 0.01), (4, 0.1), (6, 0.7)]:
        Lambda = -rng.uniform(0.1, 2.0, N) + 1j * rng.uniform(-10, 10, N)
        B_bar = complex_normal(rng, N)
        where = f"for Lambda = {np.round(Lambda, 3)}, delta = {delta}"
        A, B = call(discretize_fn, (Lambda, B_bar, delta), who="discretize_fn",
                    after=f" {where}; it must return a pair (A, B)",
                    convert=lambda out: pair(np.asarray(x) for x in out))
        A_want, B_want = ssm.discretize_bilinear(Lambda, B_bar, delta)
        for name, got, want in (("A", A, A_want), ("B", B, B_want)):
            if got.shape != want.shape:
                raise AssertionError(f"{name}: expected shape {want.shape} {where}, got {got.shape}")
            if np.allclose(got, want, rtol=1e-5, atol=1e-9):
                continue
            hints = []
            others = {
                "zero-order hold (eq. 5)": ssm.discretize_zoh,
                "forward Euler": ssm.discretize_euler,
                "backward Euler": lambda *a: ssm.discretize_euler(*a, kind="backward"),
            }
            for label, f in others.items():
                if np.allclose(got, f(Lambda, B_bar, delta)[name == "B"], rtol=1e-5):
                    hints.append(f"your {name} is the {label} one")
            if name == "B" and np.allclose(got * delta, want, rtol=1e-5):
                hints.append("B is missing the factor Δ")
            if name == "B" and np.allclose(got, delta * B_bar, rtol=1e-5):
                hints.append("B is missing the factor (1 − ΔΛ/2)⁻¹")
            i = int(np.argmax(np.abs(got - want)))
            raise AssertionError(f"{name}[{i}] {where}: expected {want[i]:.6g}, got {got[i]:.6g}"
                                 + hint_list(hints))
    print("check_discretize_bilinear: A and B correct for 3 random diagonal SSMs (Δ from 0.01 to 0.7).")
