"""Checkers for chapter 12, "The language model at nanoGPT's scale"."""
from __future__ import annotations

import numpy as np

from ._common import call, expect_shape, pair

__all__ = ["check_conv_step"]


def check_conv_step(fn, seed=0):
    """Check ``fn(w, buf, u_t) -> (y_t, new_buf)``: one step of the short causal convolution
    of chapter 12 (:func:`gl.tasks.char_lm.conv.step`), ``y_t = Σ_j w_j ⊙ u_{t-K+1+j}``.

    ``w`` ``(K, D)``, oldest tap first; ``buf`` ``(B, K-1, D)``, the ``K - 1`` previous inputs,
    oldest first (zeros before the first step); ``u_t`` ``(B, D)``. Fed a sequence one step at
    a time from a zero buffer, the outputs must equal :func:`gl.tasks.char_lm.conv.apply`'s
    (float32, tolerance 1e-5) for widths ``K`` = 1, 2 and 4. Raises ``AssertionError`` naming
    the width, the step and what differs.
    """
    from gl.tasks.char_lm import conv  # the reference (imports JAX)

    rng = np.random.default_rng(seed)
    B, L, D = 2, 7, 3
    for K in (1, 2, 4):
        w = rng.standard_normal((K, D)).astype(np.float32)
        u = rng.standard_normal((B, L, D)).astype(np.float32)
        want = np.asarray(conv.apply(w, u))
        buf = np.zeros((B, K - 1, D), np.float32)
        for t in range(L):
            where = f"K = {K}, step {t}"
            # no copies: each step gets the very buffer the step before returned
            y, buf = call(fn, (w, buf, u[:, t]), where, copy=False, convert=pair)
            y, buf = np.asarray(y), np.asarray(buf)
            expect_shape(y, (B, D), where, "y_t")
            expect_shape(buf, (B, K - 1, D), where, "a buffer")
            if not np.allclose(y, want[:, t], atol=1e-5):
                err = float(np.abs(y - want[:, t]).max())
                raise AssertionError(f"{where}: y_t differs from the convolution by up to {err:.3g} "
                                     "(is the buffer oldest first, and does it drop the oldest input?)")
    print("check_conv_step: widths 1, 2 and 4 agree with the convolution over 7 steps")
