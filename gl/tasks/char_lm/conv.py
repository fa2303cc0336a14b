"""The short causal convolution that GateLoop's successors put before their recurrence.

Mamba (Gu & Dao 2023, the ``Conv`` of its Fig. 3; width 4, its code's ``d_conv``), Griffin
(De et al. 2024, the temporal ``Conv1D`` of its recurrent block, width 4), xLSTM's mLSTM
block (Beck et al. 2024, a causal convolution of width 4) and flash-linear-attention's
layers (``use_short_conv``, ``conv_size=4``) filter the recurrence's input with a depthwise
causal convolution of a few steps; RWKV's token shift is the width-2 case.
GateLoop's paper has none. :mod:`gl.family` maps each member's recurrence and leaves this
filter out; here it is, as an option of the language model (``Config.conv``), so a reader
can measure what it adds around GateLoop.

With width ``K`` and weights ``w`` ``(K, D)`` (one filter per channel, no bias):

    ``u'_t = Σ_{j=0}^{K-1} w_j ⊙ u_{t-K+1+j}``  (``u_s = 0`` for ``s < 0``)

so ``w_{K-1}`` weighs the current step. :func:`init` makes it the identity
(``w_{K-1} = 1``, the rest 0): a model with the filter starts as the model without it.
"""
from __future__ import annotations

import jax.numpy as jnp

__all__ = ["init", "apply", "step", "init_buffer"]


def init(width: int, d: int):
    """The identity filter ``(width, d)`` float32."""
    return jnp.zeros((width, d), jnp.float32).at[-1].set(1.0)


def apply(w, u):
    """``u'`` ``(B, L, D)`` for ``u`` ``(B, L, D)``: the causal filter above, over ``L``."""
    K, L = w.shape[0], u.shape[1]
    padded = jnp.pad(u, ((0, 0), (K - 1, 0), (0, 0)))
    return sum(w[j] * padded[:, j:j + L] for j in range(K))


def init_buffer(width: int, batch: int, d: int):
    """The zero buffer of the last ``width - 1`` inputs ``(batch, width - 1, d)``."""
    return jnp.zeros((batch, width - 1, d), jnp.float32)


def step(w, buf, u_t):
    """One step: ``(u'_t (B, D), new buffer)`` for ``u_t`` ``(B, D)`` and the buffer of the
    ``K - 1`` previous inputs (:func:`init_buffer`, or the previous step's). Equal to
    :func:`apply` at the same position."""
    window = jnp.concatenate([buf, u_t[:, None]], axis=1)  # (B, K, D), oldest first
    return jnp.einsum("bkd,kd->bd", window, w), window[:, 1:]
