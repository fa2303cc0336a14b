"""Statistics of learned state transitions ``a_n`` (chapter 8, "Looking inside: the learned gates").

GateLoop's recurrence (eq. 7) is ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``: ``|a_n|`` says how much of
the old state survives step ``n``. These helpers turn the gates that
``gl.tasks.memory_horizon.model.apply(..., return_gates=True)`` returns (one array per layer,
``(B, L, H, d_k)`` complex64) into the numbers chapter 8 reports:

* :func:`reset_statistic`: mean ``|a_n|`` at reset tokens and elsewhere (the "forgets at
  resets" claim of section 5.1 as a number);
* :func:`effective_horizon`: the memory horizon ``-1 / log(m)`` in tokens implied by a mean
  magnitude ``m`` (``m^t = e^{-t/τ}`` decays by ``1/e`` after ``τ`` tokens).
"""
from __future__ import annotations

import numpy as np

__all__ = ["reset_statistic", "effective_horizon", "channel_magnitudes"]


def _check_gates(gates, inputs):
    gates = np.asarray(gates)
    inputs = np.asarray(inputs)
    if not np.issubdtype(inputs.dtype, np.integer):
        raise TypeError(f"inputs: expected an integer array of input ids, got dtype {inputs.dtype}")
    if gates.ndim != inputs.ndim + 2 or gates.shape[: inputs.ndim] != inputs.shape:
        raise ValueError(f"gates: expected shape inputs.shape + (H, d_k) = {inputs.shape} + (H, d_k), "
                         f"got {gates.shape}")
    return gates, inputs


def reset_statistic(gates, inputs, reset_id):
    """Mean ``|a_n|`` at reset tokens and at all other tokens, for one layer.

    Args:
      gates: ``a_n``, shape ``(..., L, H, d_k)`` (complex or real), e.g. one layer of
        ``gl.tasks.memory_horizon.model.apply(..., return_gates=True)``.
      inputs: input ids ``(..., L)`` (integer), the same leading shape as ``gates``.
      reset_id: the id of the reset token (``gl.tasks.memory_horizon.data.reset_id()``).

    Returns ``(at_reset, elsewhere)``: two floats, the means of ``|a_n|`` over all channels
    ``(H, d_k)`` and over the positions where ``inputs == reset_id`` (resp. ``!=``); ``nan``
    when there is no such position.
    """
    gates, inputs = _check_gates(gates, inputs)
    mag = np.abs(gates).mean(axis=(-2, -1))  # (..., L)
    is_reset = inputs == reset_id
    at = float(mag[is_reset].mean()) if is_reset.any() else float("nan")
    rest = float(mag[~is_reset].mean()) if (~is_reset).any() else float("nan")
    return at, rest


def channel_magnitudes(gates, inputs, reset_id):
    """Per-channel mean ``|a_n|`` over non-reset positions: ``(H * d_k,)`` float64.

    ``gates`` ``(..., L, H, d_k)``, ``inputs`` ``(..., L)`` as in :func:`reset_statistic`.
    """
    gates, inputs = _check_gates(gates, inputs)
    mag = np.abs(gates)[inputs != reset_id]  # (n_positions, H, d_k)
    if mag.shape[0] == 0:
        raise ValueError("inputs: expected at least one position that is not a reset token, got none")
    return mag.reshape(mag.shape[0], -1).mean(axis=0).astype(np.float64)


def effective_horizon(mean_magnitude):
    """Tokens ``τ = -1 / log(m)`` after which a state decays by ``1/e`` under a constant ``|a| = m``.

    ``mean_magnitude``: array-like of values in ``[0, 1]``. ``m = 1`` gives ``inf`` (no decay),
    ``m = 0`` gives ``0``. Values outside ``[0, 1]`` raise ``ValueError``.
    """
    m = np.asarray(mean_magnitude, dtype=np.float64)
    if np.any(~np.isfinite(m)) or np.any(m < 0) or np.any(m > 1):
        raise ValueError(f"mean_magnitude: expected values in [0, 1], got min {m.min()}, max {m.max()}")
    with np.errstate(divide="ignore"):
        out = -1.0 / np.log(np.clip(m, 1e-300, 1.0))
    return np.where(m == 0, 0.0, np.where(m == 1, np.inf, out))
