"""Checkers for chapter 5, "Surrogate attention" (eq. 14-21).

Each checker runs the student's function on fresh random inputs (``seed=None``) against
``gl``'s own implementation, raises ``AssertionError`` saying what is wrong (which input,
expected vs got), and prints one line on success.
"""
from __future__ import annotations

import numpy as np
import jax.numpy as jnp

from ..attention import relative_decay
from ..reference import gate_loop_reference

__all__ = ["check_relative_decay", "check_surrogate_attention"]


def _random_a(rng, L, H, d_k, mag):
    """Complex transitions ``(L, H, d_k)`` with ``|a|`` uniform in ``mag`` and any phase (complex64)."""
    r = rng.uniform(*mag, size=(L, H, d_k))
    return (r * np.exp(1j * rng.uniform(-np.pi, np.pi, size=(L, H, d_k)))).astype(np.complex64)


def _first_bad(got, want, rtol, atol):
    """Index of the first entry where ``got`` and ``want`` differ beyond ``atol + rtol |want|``, or None."""
    bad = ~(np.abs(got - want) <= atol + rtol * np.abs(want))
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def check_relative_decay(fn, seed=None):
    """Check ``fn(a) -> D`` against :func:`gl.relative_decay`.

    ``a``: ``(L, H, d_k)`` complex64; ``D``: ``(H, d_k, L, L)`` with
    ``D[h, c, n, m] = prod_{j=m+1..n} a[j, h, c]`` for ``n >= m`` and 0 above the diagonal.
    Tolerance: ``|got - want| <= 1e-6 + 1e-4 |want|`` entrywise.
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("short sequence, L=7, H=2, d_k=3, |a| in (0.5, 1)", (7, 2, 3), (0.5, 1.0)),
        ("long sequence, L=300, H=1, d_k=2, |a| in (0.55, 0.65): "
         "prod_{j<=n} a_j underflows in float32 here", (300, 1, 2), (0.55, 0.65)),
    ]
    for label, (L, H, d_k), mag in cases:
        a = _random_a(rng, L, H, d_k, mag)
        want = np.asarray(relative_decay(jnp.asarray(a)))
        got = np.asarray(fn(jnp.asarray(a)))
        if got.shape != want.shape:
            raise AssertionError(
                f"{label}: expected D of shape (H, d_k, L, L) = {want.shape}, got {got.shape}")
        if not np.all(np.isfinite(got)):
            h, c, n, m = (int(i) for i in np.argwhere(~np.isfinite(got))[0])
            raise AssertionError(
                f"{label}: D[{h}, {c}, {n}, {m}] is {got[h, c, n, m]}, expected "
                f"{want[h, c, n, m]:.3g}. Dividing prefix products Π_n / Π_m overflows once "
                f"Π_m underflows to 0; sum log|a_j| and the phases over j = m+1..n instead.")
        upper = np.triu(np.ones((L, L), bool), 1)
        if np.any(got[..., upper] != 0):
            h, c, n, m = (int(i) for i in np.argwhere((got != 0) & upper)[0])
            raise AssertionError(
                f"{label}: D[{h}, {c}, {n}, {m}] (n < m, above the diagonal) should be 0 "
                f"(the causal mask, eq. 20), got {got[h, c, n, m]:.3g}")
        idx = _first_bad(got, want, rtol=1e-4, atol=1e-6)
        if idx is not None:
            h, c, n, m = idx
            raise AssertionError(
                f"{label}: D[{h}, {c}, {n}, {m}] should be prod_(j={m + 1}..{n}) a[j, {h}, {c}] "
                f"= {want[idx]:.6g}, got {got[idx]:.6g}"
                + (" (the diagonal n = m is the empty product, 1)" if n == m else ""))
    print("check_relative_decay: correct on a short and a long sequence (L=7 and L=300).")


def check_surrogate_attention(fn, seed=None):
    """Check ``fn(q, k, v, a) -> y`` (eq. 17-21) against the reference loop :func:`gl.gate_loop_reference`.

    ``q, k``: ``(L, H, d_k)`` float32; ``v``: ``(L, H, d_v)`` float32; ``a``: ``(L, H, d_k)``
    complex64; ``y``: ``(L, H, d_v)``. Tolerance: relative error
    ``‖y - y_ref‖ / ‖y_ref‖ < 1e-4`` against a complex128 loop.
    """
    rng = np.random.default_rng(seed)
    cases = [
        ("short sequence, L=9, H=2, d_k=3, d_v=2, |a| in (0.5, 1)", (9, 2, 3, 2), (0.5, 1.0)),
        ("long sequence, L=300, H=1, d_k=2, d_v=2, |a| in (0.55, 0.65): "
         "Π⁻¹ of eq. 19 overflows in float32 here", (300, 1, 2, 2), (0.55, 0.65)),
    ]
    for label, (L, H, d_k, d_v), mag in cases:
        q, k = (rng.standard_normal((L, H, d_k)).astype(np.float32) for _ in range(2))
        v = rng.standard_normal((L, H, d_v)).astype(np.float32)
        a = _random_a(rng, L, H, d_k, mag)
        want = gate_loop_reference(q, k, v, a, dtype=np.complex128)
        got = np.asarray(fn(*(jnp.asarray(x) for x in (q, k, v, a))))
        if got.shape != want.shape:
            raise AssertionError(
                f"{label}: expected y of shape (L, H, d_v) = {want.shape}, got {got.shape}")
        if not np.all(np.isfinite(got)):
            n = int(np.argwhere(~np.isfinite(got))[0][0])
            raise AssertionError(
                f"{label}: y is not finite (first at step n={n}). Did you use Q ⊙ Π and K ⊙ Π⁻¹? "
                f"Build the weights from the relative decay prod_(j=m+1..n) a_j instead.")
        err = float(np.linalg.norm(got - want) / np.linalg.norm(want))
        if err >= 1e-4:
            n = int(np.argmax(np.abs(got - want).reshape(L, -1).max(axis=1)))
            raise AssertionError(
                f"{label}: relative error {err:.2e} against the loop of eq. 7-8 (tolerance 1e-4); "
                f"worst at step n={n}: expected y[{n}, 0] = {want[n, 0]}, got {got[n, 0]}")
    print("check_surrogate_attention: matches the loop of eq. 7-8 on a short and a long sequence.")
