"""Checkers for chapter 8, "Looking inside: the learned gates".

* :func:`check_reset_statistic`: a student's mean ``|a_n|`` at reset tokens and elsewhere.

Runs the student's function on fresh random gates and inputs, compares with
:func:`gl.tasks.memory_horizon.gates_analysis.reset_statistic`, and raises ``AssertionError`` naming the input,
expected vs got. On success it prints one line.
"""
from __future__ import annotations

import numpy as np

from ..tasks.memory_horizon.gates_analysis import reset_statistic

__all__ = ["check_reset_statistic"]

ATOL = 1e-5


def check_reset_statistic(fn, seed=None):
    """Check ``fn(gates, inputs, reset_id) -> (at_reset, elsewhere)``.

    ``gates`` ``(B, L, H, d_k)`` complex, ``inputs`` ``(B, L)`` int; compared with
    :func:`gl.tasks.memory_horizon.gates_analysis.reset_statistic` at absolute tolerance ``ATOL``.
    """
    rng = np.random.default_rng(seed)
    shapes = [(1, 12, 1, 1), (2, 30, 4, 1), (3, 20, 2, 3)]
    for B, L, H, d in shapes:
        mag = rng.uniform(0.5, 1.0, (B, L, H, d))
        inputs = rng.integers(0, 5, (B, L)).astype(np.int32)
        inputs[:, rng.choice(L, 2, replace=False)] = 5
        mag[inputs == 5] *= 0.1  # gates that forget at resets, so the two numbers differ
        gates = (mag * np.exp(1j * rng.uniform(-np.pi, np.pi, mag.shape))).astype(np.complex64)
        want = reset_statistic(gates, inputs, 5)
        got = tuple(float(x) for x in fn(gates, inputs, 5))
        if len(got) != 2 or not np.allclose(got, want, atol=ATOL):
            hint = ""
            if np.allclose(got, want[::-1], atol=ATOL):
                hint = " (the two numbers are swapped)"
            raise AssertionError(f"gates of shape {(B, L, H, d)}: expected (at_reset, elsewhere) = "
                                 f"({want[0]:.6f}, {want[1]:.6f}), got {got}{hint}")
    print(f"check_reset_statistic: all {len(shapes)} cases agree with gl.tasks.memory_horizon.gates_analysis.reset_statistic.")
