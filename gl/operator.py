"""The GateLoop operator: one entry point, four modes (eq. 7-21)."""
from __future__ import annotations

import jax.numpy as jnp

from ._checks import check_gate_loop_inputs
from .attention import surrogate_attention
from .scan import gate_loop_parallel, gate_loop_recurrent


def _pick_mode(q, v) -> str:
    """The mode ``"auto"`` runs. For now the associative scan everywhere."""
    return "parallel"


def gate_loop(q, k, v, a, *, mode="auto", h0=None, return_state=False):
    """GateLoop (eq. 7-8): ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``, ``y_n = q_n h_n``.

    Args:
      q, k: output and input gates, ``(..., L, H, d_k)``.
      v: values, ``(..., L, H, d_v)``.
      a: state transitions, ``(..., L, H, d_k)``; diagonal over ``d_k``, broadcast over ``d_v``.
      mode: ``"recurrent"`` (``lax.scan``, eq. 7-8), ``"parallel"`` (associative scan,
        eq. 12-13), ``"attention"`` (stable surrogate attention, eq. 17-21) or ``"auto"``.
      h0: initial state ``(..., H, d_k, d_v)``; zeros when omitted.
      return_state: also return the final state ``h_L`` ``(..., H, d_k, d_v)``.

    Leading ``...`` are batch dimensions. ``y`` is ``(..., L, H, d_v)``, complex when any
    input is complex (take ``.real`` as the paper's model does), real otherwise.
    The SISO ("max-headed") case of the paper is ``d_k = d_v = 1``.

    Raises:
      TypeError: an input is not a float or complex array.
      ValueError: shapes disagree, or ``mode`` is unknown.
    """
    dtype = check_gate_loop_inputs(q, k, v, a, h0, mode)
    q, k, v, a = (jnp.asarray(x) for x in (q, k, v, a))
    h0 = None if h0 is None else jnp.asarray(h0)
    if mode == "auto":
        mode = _pick_mode(q, v)
    if mode == "recurrent":
        y, h = gate_loop_recurrent(q, k, v, a, h0, dtype)
    elif mode == "parallel":
        y, h = gate_loop_parallel(q, k, v, a, h0, dtype)
    else:
        y, h = surrogate_attention(q, k, v, a, h0, dtype)
    return (y, h) if return_state else y
