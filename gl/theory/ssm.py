"""State space models (eq. 2-6, 10): discretization, initialization, the convolution kernel.

The continuous, diagonalized SSM (eq. 3b) is ``dh/dt = Λ h + B̄ x``, ``y = Re(C̄ h)`` with a
diagonal ``Λ`` stored as a vector. Discretizing it with a step ``Δ`` gives the linear RNN of
eq. 4, ``h_n = A h_{n-1} + B x_n``, with a diagonal ``A`` (also a vector).

Shapes:
  ``Lambda``: ``(..., N)`` complex, the diagonal of ``Λ`` (``N`` states per channel).
  ``B_bar``: ``Lambda.shape`` (one input per state, the SISO case) or
  ``Lambda.shape + (d_x,)`` (``d_x`` inputs).
  ``delta``: a positive scalar or an array that broadcasts against ``Lambda``
  (e.g. ``(H, 1)`` for one step per channel of ``Lambda`` ``(H, N)``).

Array kinds: the discretizations and :func:`kernel` compute with ``jax.numpy`` when any input
is a JAX array (so they ``jit`` and differentiate) and with NumPy otherwise (float64 and
complex128, used by the tests that measure convergence orders). The deterministic
initializations return NumPy arrays; those that take a ``jax.random`` key return JAX arrays.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import gates

__all__ = [
    "discretize_zoh",
    "discretize_bilinear",
    "discretize_euler",
    "log_spaced_delta",
    "init_log_delta",
    "init_s4d_lin",
    "init_s4d_inv",
    "init_lru",
    "lru_transition",
    "init_retnet",
    "kernel",
    "causal_convolution",
]


# ---------------------------------------------------------------- checks and helpers
def _xp(*xs):
    """``jax.numpy`` if any argument is a JAX array, else NumPy."""
    return jnp if any(isinstance(x, jax.Array) for x in xs) else np


def _numeric(name, x, xp):
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a numeric array, got {type(x).__name__}")
    x = xp.asarray(x)
    if not (np.issubdtype(x.dtype, np.number)) or np.issubdtype(x.dtype, np.bool_):
        raise TypeError(f"{name}: expected a float or complex array, got dtype {x.dtype}")
    return x


def _check_discretize(Lambda, B_bar, delta):
    """Validate and convert the arguments shared by the three discretizations."""
    xp = _xp(Lambda, B_bar, delta)
    Lambda = _numeric("Lambda", Lambda, xp)
    B_bar = _numeric("B_bar", B_bar, xp)
    delta = _numeric("delta", delta, xp)
    if Lambda.ndim < 1:
        raise ValueError(f"Lambda: expected the diagonal of Λ with shape (..., N), got shape {Lambda.shape}")
    if B_bar.shape not in (Lambda.shape, Lambda.shape + B_bar.shape[-1:]) or (
        B_bar.ndim not in (Lambda.ndim, Lambda.ndim + 1)
    ):
        raise ValueError(
            f"B_bar: expected shape {Lambda.shape} (one input) or {Lambda.shape + ('d_x',)}, "
            f"got {B_bar.shape}"
        )
    if np.iscomplexobj(delta):
        raise TypeError(f"delta: expected a real step size, got dtype {delta.dtype}")
    try:
        np.broadcast_shapes(delta.shape, Lambda.shape)
    except ValueError:
        raise ValueError(
            f"delta: expected a scalar or a shape that broadcasts against Lambda {Lambda.shape}, "
            f"got {delta.shape}"
        ) from None
    if xp is np and not np.all(delta > 0):
        raise ValueError(f"delta: expected step sizes > 0, got min {float(np.min(delta))}")
    cdt = np.result_type(Lambda.dtype, B_bar.dtype, delta.dtype, np.complex64)
    if B_bar.ndim == Lambda.ndim:
        B_bar = B_bar[..., None]  # one input: d_x = 1, removed again by _apply_B
        squeeze = True
    else:
        squeeze = False
    return xp, Lambda.astype(cdt), (B_bar.astype(cdt), squeeze), delta.astype(np.empty((), cdt).real.dtype)


def _apply_B(xp, factor, B_bar):
    """``factor ⊙ B̄``: the per-state ``factor`` ``(..., N)`` times ``B̄`` ``(..., N, d_x)``."""
    B_bar, squeeze = B_bar
    B = factor[..., None] * B_bar
    return B[..., 0] if squeeze else B


# ---------------------------------------------------------------- discretization (eq. 5)
def discretize_zoh(Lambda, B_bar, delta):
    """Zero-order hold, eq. 5: ``A = exp(ΔΛ)``, ``B = Λ⁻¹ (A − I) B̄``.

    Exact when ``x`` is constant over each step: ``h_n = h(nΔ)`` with ``x_n`` the value of
    ``x`` on ``((n−1)Δ, nΔ]``. For ``λ = 0`` the factor ``(e^{Δλ} − 1)/λ`` is its limit ``Δ``.

    Args:
      Lambda: ``(..., N)`` the diagonal of ``Λ``, complex (real is promoted).
      B_bar: ``Lambda.shape`` or ``Lambda.shape + (d_x,)``.
      delta: ``Δ > 0``, a scalar or broadcastable against ``Lambda``.

    Returns:
      ``(A, B)``: ``A`` of shape ``broadcast(Lambda, delta)`` and ``B`` of ``B_bar``'s shape
      (broadcast likewise), complex64 or complex128 after the inputs.

    Raises:
      TypeError: a non-numeric input, or a complex ``delta``.
      ValueError: shapes that do not fit, or ``delta <= 0`` (checked for NumPy inputs).
    """
    xp, Lambda, B_bar, delta = _check_discretize(Lambda, B_bar, delta)
    dL = delta * Lambda
    A = xp.exp(dL)
    small = xp.abs(dL) < 1e-4
    safe = xp.where(small, xp.ones_like(Lambda), Lambda)
    # (e^{Δλ} − 1)/λ, with the series Δ(1 + Δλ/2 + (Δλ)²/6) where Δλ is tiny (no 0/0, no cancellation)
    factor = xp.where(small, delta * (1 + dL / 2 + dL**2 / 6), xp.expm1(dL) / safe)
    return A, _apply_B(xp, factor, B_bar)


def discretize_bilinear(Lambda, B_bar, delta):
    """Bilinear (Tustin, trapezoidal) rule: ``A = (I − ΔΛ/2)⁻¹ (I + ΔΛ/2)``, ``B = (I − ΔΛ/2)⁻¹ Δ B̄``.

    The discretization of S4 (Gu et al. 2022, S4). Second order in ``Δ`` when ``x_n`` samples the middle
    of step ``n``. Same shapes, dtypes and errors as :func:`discretize_zoh` (eq. 5's slot).
    """
    xp, Lambda, B_bar, delta = _check_discretize(Lambda, B_bar, delta)
    inv = 1 / (1 - delta * Lambda / 2)
    A = inv * (1 + delta * Lambda / 2)
    return A, _apply_B(xp, inv * delta * xp.ones_like(Lambda), B_bar)


def discretize_euler(Lambda, B_bar, delta, *, kind="forward"):
    """Euler's rule: ``kind="forward"``: ``A = I + ΔΛ``, ``B = Δ B̄`` (first order);
    ``kind="backward"``: ``A = (I − ΔΛ)⁻¹``, ``B = (I − ΔΛ)⁻¹ Δ B̄`` (first order, always stable).

    Forward Euler keeps ``|A| < 1`` only while ``Δ < −2 Re λ / |λ|²``. Same shapes, dtypes and
    errors as :func:`discretize_zoh`; ``kind`` other than the two raises ``ValueError``.
    """
    if kind not in ("forward", "backward"):
        raise ValueError(f"kind: expected 'forward' or 'backward', got {kind!r}")
    xp, Lambda, B_bar, delta = _check_discretize(Lambda, B_bar, delta)
    if kind == "forward":
        A = 1 + delta * Lambda
        factor = delta * xp.ones_like(A)
    else:
        A = 1 / (1 - delta * Lambda)
        factor = A * delta
    return A, _apply_B(xp, factor, B_bar)


# ---------------------------------------------------------------- step sizes (S5)
def _check_range(name_lo, lo, name_hi, hi, *, positive=True):
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name_lo}, {name_hi}: expected finite numbers, got {lo}, {hi}")
    if positive and lo <= 0:
        raise ValueError(f"{name_lo}: expected > 0, got {lo}")
    if not lo < hi:
        raise ValueError(f"{name_hi}: expected > {name_lo} = {lo}, got {hi}")


def _check_count(name, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{name}: expected >= 1, got {n}")
    return int(n)


def log_spaced_delta(n, dt_min=1e-3, dt_max=1e-1):
    """``n`` step sizes spaced evenly in ``log Δ`` from ``dt_min`` to ``dt_max`` (section 2.2, S5's default range).

    Returns NumPy float64 ``(n,)``; ``n = 1`` gives the geometric mean.
    """
    n = _check_count("n", n)
    _check_range("dt_min", float(dt_min), "dt_max", float(dt_max))
    if n == 1:
        return np.array([math.sqrt(dt_min * dt_max)])
    return np.geomspace(dt_min, dt_max, n)


def init_log_delta(key, shape, dt_min=1e-3, dt_max=1e-1):
    """S5's random initialization: ``log Δ ~ Uniform(log dt_min, log dt_max)`` (Smith et al. 2023).

    Args: ``key`` a ``jax.random`` key; ``shape`` a tuple. Returns ``log Δ`` (the learnable
    parameter), JAX float32 of ``shape``; ``exp`` of it lies in ``[dt_min, dt_max)``.
    """
    _check_range("dt_min", float(dt_min), "dt_max", float(dt_max))
    return jax.random.uniform(key, tuple(shape), minval=math.log(dt_min), maxval=math.log(dt_max))


# ---------------------------------------------------------------- initializations of Λ and a
def init_s4d_lin(n):
    """S4D-Lin (section 2.2): ``λ_k = −1/2 + iπk`` for ``k = 0 … n−1``. NumPy complex128 ``(n,)``."""
    k = np.arange(_check_count("n", n))
    return -0.5 + 1j * np.pi * k


def init_s4d_inv(n):
    """S4D-Inv as the GateLoop paper writes it (section 2.2): ``λ_k = −1/2 + iπ/(k+1)``, ``k = 0 … n−1``.

    The S4D paper (Gu et al. 2022, S4D) scales the imaginary part differently,
    ``λ_k = −1/2 + i (N/π)(N/(2k+1) − 1)``; this function follows the text of
    Katsch (2023). NumPy complex128 ``(n,)``.
    """
    k = np.arange(_check_count("n", n))
    return -0.5 + 1j * np.pi / (k + 1)


def lru_transition(alpha, theta):
    """LRU's stable exponential (section 2.2): ``a = exp(−exp(α) + i exp(θ))``.

    ``alpha``, ``theta``: real arrays of one shape; complex result of that shape, ``|a| < 1``.
    Uses :func:`gl.gates.transition` with the ``"stable-exp"`` magnitude and ``"exp"`` phase.
    """
    return gates.transition(alpha, theta, magnitude="stable-exp", phase="exp")


def init_lru(key, n, r_min=0.0, r_max=1.0, max_phase=2 * math.pi):
    """LRU's ring initialization (Orvieto et al. 2023): ``|a|²`` uniform on ``[r_min², r_max²]``,
    i.e. ``a`` uniform over the area of the ring ``r_min ≤ |a| ≤ r_max``; phase uniform in
    ``[0, max_phase)``.

    Args:
      key: a ``jax.random`` key.
      n: number of states.
      r_min, r_max: ``0 ≤ r_min < r_max ≤ 1``.
      max_phase: ``> 0``, in radians.

    Returns:
      ``(alpha, theta)``, JAX float32 ``(n,)`` each, the parameters of
      :func:`lru_transition` (``|a| = exp(−exp(α))``, ``arg a = exp(θ)``).
    """
    n = _check_count("n", n)
    r_min, r_max, max_phase = float(r_min), float(r_max), float(max_phase)
    if not (0.0 <= r_min < r_max <= 1.0):
        raise ValueError(f"r_min, r_max: expected 0 <= r_min < r_max <= 1, got {r_min}, {r_max}")
    if not (math.isfinite(max_phase) and max_phase > 0):
        raise ValueError(f"max_phase: expected a finite number > 0, got {max_phase}")
    k1, k2 = jax.random.split(key)
    tiny = float(np.finfo(np.float32).tiny)
    u1 = jax.random.uniform(k1, (n,), minval=tiny, maxval=1.0)
    u2 = jax.random.uniform(k2, (n,), minval=tiny, maxval=1.0)
    r2 = u1 * (r_max**2 - r_min**2) + r_min**2  # |a|² uniform: uniform density on the ring
    r2 = jnp.clip(r2, tiny, 1.0 - 2 * float(np.finfo(np.float32).eps))
    alpha = jnp.log(-0.5 * jnp.log(r2))  # exp(−exp(α)) = |a|
    theta = jnp.log(max_phase * u2)  # exp(θ) = phase
    return alpha, theta


def init_retnet(n_heads):
    """RetNet's decay per head (Sun et al. 2023): ``γ_c = 1 − 2^{−5−c}`` for ``c = 0 … n_heads−1``.

    The magnitude of ``a = γ exp(iθ)`` (section 2.2). NumPy float64 ``(n_heads,)``, in
    ``[31/32, 1)``, increasing towards 1.
    """
    c = np.arange(_check_count("n_heads", n_heads))
    return 1.0 - 2.0 ** (-5.0 - c)


# ---------------------------------------------------------------- eq. 10: the convolution view
def kernel(A, B, C, L):
    """Eq. 10's filter of a time-invariant diagonal linear RNN: ``K_ℓ = Σ_j C_j A_j^ℓ B_j``.

    Args:
      A: ``(..., N)`` the diagonal of ``A``.
      B, C: ``(..., N)`` (one input, one output per channel; broadcast against ``A``).
      L: kernel length, an int ``>= 1``.

    Returns:
      ``K``: ``(..., L)``, complex, with ``y_n = Σ_{m≤n} K_{n−m} x_m`` (take ``.real`` as eq. 4).
    """
    L = _check_count("L", L)
    xp = _xp(A, B, C)
    A, B, C = (_numeric(n, x, xp) for n, x in (("A", A), ("B", B), ("C", C)))
    try:
        shape = np.broadcast_shapes(A.shape, B.shape, C.shape)
    except ValueError:
        raise ValueError(
            f"B, C: expected shapes that broadcast against A {A.shape} (..., N), got {B.shape}, {C.shape}"
        ) from None
    if len(shape) < 1:
        raise ValueError(f"A: expected shape (..., N), got {A.shape}")
    cdt = np.result_type(A.dtype, B.dtype, C.dtype, np.complex64)
    A = xp.broadcast_to(A, shape).astype(cdt)
    CB = xp.broadcast_to(C * B, shape).astype(cdt)
    ell = xp.arange(L)
    powers = A[..., None, :] ** ell[:, None]  # (..., L, N): A^ℓ
    return xp.sum(CB[..., None, :] * powers, axis=-1)


def causal_convolution(K, x):
    """Eq. 10 ``y = x * K``: ``y_n = Σ_{m≤n} K_{n−m} x_m`` by FFT, for each channel.

    Args:
      K: ``(H, L)`` one filter per channel (from :func:`kernel`).
      x: ``(..., L, H)`` inputs.

    Returns ``y``: ``(..., L, H)``, complex.
    """
    xp = _xp(K, x)
    K, x = _numeric("K", K, xp), _numeric("x", x, xp)
    if K.ndim != 2:
        raise ValueError(f"K: expected shape (H, L), got {K.shape}")
    if x.ndim < 2 or x.shape[-2:] != (K.shape[1], K.shape[0]):
        raise ValueError(f"x: expected shape (..., L, H) = (..., {K.shape[1]}, {K.shape[0]}), got {x.shape}")
    L = K.shape[1]
    n = 2 * L  # zero-pad: a linear (not circular) convolution
    Kf = xp.fft.fft(K.T, n=n, axis=0)  # (n, H)
    xf = xp.fft.fft(x, n=n, axis=-2)
    return xp.fft.ifft(Kf * xf, axis=-2)[..., :L, :]
