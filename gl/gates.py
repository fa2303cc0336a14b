"""State transitions in polar form (eq. 24): ``a_n = f(α_n) exp(i g(β_n))``.

The magnitude activations ``f`` and the phase activations ``g`` the paper compares,
and :func:`transition` that puts them together. Arrays of any shape; float in,
complex out (``complex64`` for ``float32``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from ._checks import compute_dtype


def sigmoid_magnitude(alpha):
    """``γ = σ(α)`` (the paper's choice, section 4): values in (0, 1), no bias towards 1."""
    return jax.nn.sigmoid(alpha)


def stable_exp_magnitude(alpha):
    """``γ = exp(-exp(α))``, LRU's stable exponential (section 2.2, Figure 4): biased towards 1."""
    return jnp.exp(-jnp.exp(alpha))


def identity_phase(beta):
    """``θ = β`` (the paper's choice: no phase activation)."""
    return beta


def exp_phase(beta):
    """``θ = exp(β)``, LRU's phase parameterization.

    In float32, ``exp(β)`` overflows for ``β > 88.7`` and the gate ``e^{iθ}`` is NaN (which then
    reaches every later step, causally); already for ``β > 17.8`` the spacing of float32 numbers
    near ``exp(β)`` exceeds ``2π``, so the phase is rounding noise. LRU initialises
    ``β = log θ`` with ``θ ≤ 2π``, far below both."""
    return jnp.exp(beta)


def zero_phase(beta):
    """``θ = 0``: a real, non-negative transition (the ``"real"`` ablation)."""
    return jnp.zeros_like(beta)


MAGNITUDES = {"sigmoid": sigmoid_magnitude, "stable-exp": stable_exp_magnitude}
PHASES = {"identity": identity_phase, "exp": exp_phase, "zero": zero_phase}


def transition(alpha, beta, magnitude="sigmoid", phase="identity"):
    """Eq. 24: ``a = f(α) exp(i g(β))`` with ``f``, ``g`` named by ``magnitude`` and ``phase``.

    ``alpha``, ``beta``: real arrays of one shape. Returns a complex array of that shape:
    complex64 for float32, complex128 for float64; bfloat16/float16 compute in float32 (there is
    no complex half precision), as in :func:`gl.gate_loop`.
    """
    try:
        f, g = MAGNITUDES[magnitude], PHASES[phase]
    except (KeyError, TypeError) as e:  # an unknown name, or an unhashable one
        raise ValueError(
            f"magnitude/phase: expected magnitude in {sorted(MAGNITUDES)} and phase in "
            f"{sorted(PHASES)}, got {magnitude!r}, {phase!r}"
        ) from e
    alpha, beta = jnp.asarray(alpha), jnp.asarray(beta)
    for name, x in (("alpha", alpha), ("beta", beta)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"{name}: expected a real floating-point array, got {x.dtype}")
    if alpha.shape != beta.shape:
        raise ValueError(f"beta: expected the shape of alpha {alpha.shape}, got {beta.shape}")
    alpha, beta = (x.astype(compute_dtype(x.dtype)) for x in (alpha, beta))  # half -> float32
    return jax.lax.complex(f(alpha), jnp.zeros_like(alpha)) * jnp.exp(1j * g(beta))
