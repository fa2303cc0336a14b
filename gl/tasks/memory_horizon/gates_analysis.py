"""Statistics of learned state transitions ``a_n`` (chapter 8, "Looking inside: the learned gates").

GateLoop's recurrence (eq. 7) is ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``: ``|a_n|`` says how much of
the old state survives step ``n``. These helpers turn the gates that
``gl.tasks.memory_horizon.model.apply(..., return_gates=True)`` returns (one array per layer,
``(B, L, H, d_k)`` complex64) into the numbers chapter 8 reports:

* :func:`reset_statistic`: mean ``|a_n|`` at reset tokens and elsewhere (the "forgets at
  resets" claim of section 5.1 as a number);
* :func:`reset_contrast`: the same as a ratio with a bootstrap interval over samples and a
  permutation test (is the drop at resets more than chance?);
* :func:`effective_horizon`: the memory horizon ``-1 / log(m)`` in tokens implied by a mean
  magnitude ``m`` (``m^t = e^{-t/τ}`` decays by ``1/e`` after ``τ`` tokens).
"""
from __future__ import annotations

import numpy as np

__all__ = ["reset_statistic", "reset_contrast", "effective_horizon", "channel_magnitudes"]


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


def reset_contrast(gates, inputs, reset_id, *, seed, n_boot=1000, n_perm=2000, level=0.95):
    """Mean ``|a_n|`` at resets over mean elsewhere, with an interval and a permutation test.

    ``gates`` ``(B, L, H, d_k)`` (one layer) and ``inputs`` ``(B, L)`` as in
    :func:`reset_statistic`; ``seed`` (an int) drives both resamplings.

    * ``ratio``: ``at_reset / elsewhere`` (channel-mean ``|a_n|``; 1 = no drop, 0 = forgets);
    * ``lo, hi``: a percentile bootstrap interval of the ratio at ``level``, resampling the
      ``B`` samples with replacement ``n_boot`` times;
    * ``p``: one-sided permutation p-value for "lower at resets": the share of ``n_perm``
      random relabellings (as many "reset" positions, drawn uniformly among all tokens)
      whose ratio is at most the observed one, with the usual ``+1`` correction.

    Raises ``ValueError`` when there is no reset token or no other token.
    """
    gates, inputs = _check_gates(gates, inputs)
    if gates.ndim != 4:
        raise ValueError(f"gates: expected (B, L, H, d_k), got shape {gates.shape}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    mag = np.abs(gates).mean(axis=(-2, -1)).astype(np.float64)  # (B, L)
    is_reset = inputs == reset_id
    if not is_reset.any() or is_reset.all():
        raise ValueError("inputs: expected both reset tokens and other tokens")
    rng = np.random.default_rng(int(seed))
    # per sample: sums and counts at resets and elsewhere
    sr, nr = (mag * is_reset).sum(1), is_reset.sum(1)
    se, ne = (mag * ~is_reset).sum(1), (~is_reset).sum(1)
    ratio = (sr.sum() / nr.sum()) / (se.sum() / ne.sum())
    b = mag.shape[0]
    w = rng.multinomial(b, np.full(b, 1.0 / b), size=int(n_boot)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = ((w @ sr) / (w @ nr)) / ((w @ se) / (w @ ne))
    boot = boot[np.isfinite(boot)]  # draws without a reset token have no ratio
    q = (1 - level) / 2
    lo, hi = np.quantile(boot, [q, 1 - q])
    flat, k, total = mag.ravel(), int(nr.sum()), mag.sum()
    perm = np.empty(int(n_perm))
    for i in range(int(n_perm)):
        pick = rng.choice(flat.size, size=k, replace=False)
        at = flat[pick].sum()
        perm[i] = (at / k) / ((total - at) / (flat.size - k))
    p = (1 + np.sum(perm <= ratio)) / (1 + n_perm)
    return {"ratio": float(ratio), "lo": float(lo), "hi": float(hi), "p": float(p),
            "n_reset": k, "n_other": int(flat.size - k), "level": float(level)}


def channel_magnitudes(gates, inputs, reset_id, geometric=False):
    """Per-channel mean ``|a_n|`` over non-reset positions: ``(H * d_k,)`` float64.

    ``gates`` ``(..., L, H, d_k)``, ``inputs`` ``(..., L)`` as in :func:`reset_statistic`.
    ``geometric``: the geometric mean ``exp(mean log|a_n|)`` instead of the arithmetic one. A
    write decays by the *product* of the magnitudes after it (eq. 9), whose rate per step is
    the geometric mean; the arithmetic mean is never smaller (Jensen), so the horizon
    :func:`effective_horizon` gives from it is an upper bound where ``|a_n|`` varies.
    """
    gates, inputs = _check_gates(gates, inputs)
    mag = np.abs(gates)[inputs != reset_id]  # (n_positions, H, d_k)
    if mag.shape[0] == 0:
        raise ValueError("inputs: expected at least one position that is not a reset token, got none")
    mag = mag.reshape(mag.shape[0], -1).astype(np.float64)
    if geometric:
        return np.exp(np.log(np.maximum(mag, 1e-300)).mean(axis=0))
    return mag.mean(axis=0)


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
