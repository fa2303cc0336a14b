"""Checkers for chapter 10, "A language model"."""
from __future__ import annotations

import numpy as np

__all__ = ["check_top_k"]


def _top_k(logits, k):
    """nanoGPT's rule: logits below the ``k``-th largest of their row become ``-inf``."""
    kth = np.sort(logits, axis=-1)[..., -k][..., None]
    return np.where(logits < kth, -np.inf, logits)


def check_top_k(fn, seed=0):
    """Check ``fn(logits, k) -> filtered``: every logit below the ``k``-th largest of its row
    set to ``-inf``, the others unchanged (what :func:`gl.tasks.char_lm.generate.sample_logits`
    does before sampling).

    ``logits``: float ``(B, V)`` with distinct entries; cases ``k = 1``, ``k = V`` (nothing
    removed) and values in between, on ``V = 65`` (the Shakespeare vocabulary).
    Raises ``AssertionError`` naming the case, the row and the entry that differ.
    """
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((4, 65))
    for k in (1, 2, 10, 64, 65):
        want = _top_k(logits, k)
        try:
            got = np.asarray(fn(logits.copy(), k), dtype=np.float64)
        except Exception as e:  # noqa: BLE001 - a crash is reported as what it is
            raise AssertionError(f"k = {k}: your function raised {type(e).__name__}: {e}") from e
        if got.shape != want.shape:
            raise AssertionError(f"k = {k}: expected shape {want.shape}, got {got.shape}")
        kept = np.isfinite(got).sum(axis=-1)
        if np.any(kept != k):
            row = int(np.argmax(kept != k))
            raise AssertionError(f"k = {k}: row {row} keeps {kept[row]} logits, expected {k}"
                                 " (keep the k largest, remove the rest with -inf)")
        bad = ~((got == want) | (np.isneginf(got) & np.isneginf(want)))
        if bad.any():
            b, v = np.argwhere(bad)[0]
            raise AssertionError(f"k = {k}: row {b}, entry {v} is {got[b, v]}, expected "
                                 f"{want[b, v]} (kept logits are unchanged)")
    print("check_top_k: k = 1, 2, 10, 64 and 65 agree with nanoGPT's rule")
