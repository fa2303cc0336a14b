"""Checkers for chapter 11, "Beyond one device".

* :func:`check_combine`: a student's combination of two block aggregates ``(A, h)``.

Runs the student's function on fresh random aggregates, compares with
:func:`gl.sharded.combine`, and checks that folding the blocks of a sequence with it gives
the state :func:`gl.gate_loop` reaches; raises ``AssertionError`` naming the input,
expected vs got. On success it prints one line.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..operator import gate_loop
from ..sharded import combine

__all__ = ["check_combine"]


def _agg(rng, d_k, d_v):
    a = rng.uniform(0.5, 1, d_k) * np.exp(1j * rng.uniform(-1, 1, d_k))
    h = rng.normal(size=(d_k, d_v)) + 1j * rng.normal(size=(d_k, d_v))
    return jnp.asarray(a, jnp.complex64), jnp.asarray(h, jnp.complex64)


def check_combine(fn, seed=None, n_cases=20):
    """Check ``fn(left, right) -> (A, h)`` (``left`` the earlier block) against
    :func:`gl.sharded.combine` on ``(A, h)`` pairs with ``d_k, d_v`` from 1 to 4, then fold
    4 blocks of a random sequence with it and compare with :func:`gl.gate_loop`'s final state.
    """
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        d_k, d_v = (int(x) for x in rng.integers(1, 5, 2))
        left, right = _agg(rng, d_k, d_v), _agg(rng, d_k, d_v)
        want, got = combine(left, right), fn(left, right)
        for name, w, g in zip(("A", "h"), want, got):
            g = jnp.asarray(g)
            if g.shape != w.shape or not np.allclose(g, w, rtol=1e-5, atol=1e-5):
                raise AssertionError(
                    f"combine(left, right) with d_k = {d_k}, d_v = {d_v}: {name} expected "
                    f"{np.asarray(w).round(4).tolist()}, got {np.asarray(g).round(4).tolist()}"
                    + (" (is right's A applied to left's h, not the other way round?)"
                       if name == "h" else ""))
    length, d_k, d_v, n = 16, 2, 3, 4
    q, k = (jnp.asarray(rng.normal(size=(length, 1, d_k)), jnp.float32) for _ in range(2))
    v = jnp.asarray(rng.normal(size=(length, 1, d_v)), jnp.float32)
    a = jnp.asarray(rng.uniform(0.5, 1, (length, 1, d_k)), jnp.float32)
    _, want = gate_loop(q, k, v, a, return_state=True)
    acc = None
    for blk in range(n):
        s = slice(blk * length // n, (blk + 1) * length // n)
        _, h = gate_loop(q[s], k[s], v[s], a[s], return_state=True)
        agg = (jnp.prod(a[s], axis=0), h)
        acc = agg if acc is None else fn(acc, agg)
    if not np.allclose(acc[1], want, rtol=1e-4, atol=1e-5):
        raise AssertionError(f"folding 4 blocks of 4 steps: final state expected "
                             f"{np.asarray(want).round(4).tolist()}, got "
                             f"{np.asarray(acc[1]).round(4).tolist()}")
    print(f"check_combine: {n_cases} pairs agree with gl.sharded.combine, and 4 folded blocks "
          "give gl.gate_loop's final state.")
