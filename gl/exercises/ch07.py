"""Checkers for chapter 7, "Memory Horizon".

* :func:`check_compress_memory`: a student's appendix A compression function.

Runs the student's function on fresh random memories, compares with
:func:`gl.tasks.memory_horizon.data.compress_memory`, and raises ``AssertionError`` naming the input, expected vs
got. On success it prints one line.
"""
from __future__ import annotations

import numpy as np

from ..tasks.memory_horizon.data import compress_memory

__all__ = ["check_compress_memory"]


def check_compress_memory(fn, seed=None, n_cases=200):
    """Check ``fn(memory, max_output) -> int`` against :func:`gl.tasks.memory_horizon.data.compress_memory`.

    Memories are Python lists of ints in ``[0, 4]`` of length 0 to 12 (both parities, the
    empty list included), with ``max_output`` in ``{7, 50}``.
    """
    rng = np.random.default_rng(seed)
    cases = [([], 50), ([3], 50), ([1, 2], 50), ([4, 4, 4], 7)]
    for _ in range(n_cases):
        n = int(rng.integers(0, 13))
        cases.append(([int(x) for x in rng.integers(0, 5, n)], int(rng.choice([7, 50]))))
    for memory, m in cases:
        want = compress_memory(memory, m)
        got = fn(list(memory), m)
        if got != want:
            hint = ""
            if got == (-want) % m:
                hint = " (the sign alternation is flipped: the first pair is added)"
            raise AssertionError(f"compress_memory({memory}, {m}): expected {want}, got {got}{hint}")
    print(f"check_compress_memory: all {len(cases)} memories agree with gl.tasks.memory_horizon.data.compress_memory.")
