"""What every family member returns, how it runs, and the input checks they share.

A family member is a function ``f(x, params) -> Mapped``: it takes the token sequence
``x`` of shape ``(..., L, D)`` and a dict of the model's own parameters (named as in its
paper) and returns GateLoop's ``(q, k, v, a)`` plus a read-out that turns GateLoop's
``y`` into the model's output ``(..., L, D)``. :func:`apply` runs it.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import dtype_of
from ..operator import gate_loop


class Mapped(NamedTuple):
    """One model written as GateLoop (eq. 7-8: ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``, ``y_n = q_n h_n``).

    Fields:
      q, k, a: ``(..., L, H, d_k)``; v: ``(..., L, H, d_v)`` (the shapes of :func:`gl.gate_loop`).
      out: ``out(y, y2) -> (..., L, D)``: what the model does with GateLoop's output ``y``
        outside the recurrence (a skip term ``D u``, a real part, a readout matrix ``C``,
        RWKV-6's bonus, mLSTM's normalizer division). ``y2`` is the output of ``second``.
      second: ``(q, k, v, a)`` of a second GateLoop the read-out needs (mLSTM's normalizer
        state ``n_t``, a GateLoop with ``v = 1``), else None.
    """

    q: jax.Array
    k: jax.Array
    v: jax.Array
    a: jax.Array
    out: Callable
    second: Optional[tuple] = None


def apply(m: Mapped, mode: str = "auto"):
    """Run a :class:`Mapped` model: :func:`gl.gate_loop` (twice for mLSTM), then its read-out.

    ``mode`` is passed to :func:`gl.gate_loop`. Returns the model's output ``(..., L, D)``.
    """
    y = gate_loop(m.q, m.k, m.v, m.a, mode=mode)
    y2 = None if m.second is None else gate_loop(*m.second, mode=mode)
    return m.out(y, y2)


def split_heads(x, H: int):
    """``(..., L, H·d) -> (..., L, H, d)``."""
    return x.reshape(x.shape[:-1] + (H, x.shape[-1] // H))


def merge_heads(y):
    """``(..., L, H, d) -> (..., L, H·d)``."""
    return y.reshape(y.shape[:-2] + (-1,))


def check_x(model: str, x):
    """``x``: a real float array ``(..., L, D)`` with ``L, D >= 1`` (``TypeError`` for another
    dtype, as :func:`gl.gate_loop`; ``ValueError`` for a shape). Returns it as a JAX array."""
    dt = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"{model}: x: expected a real float array (..., L, D), got dtype {dt}")
    dtype_of(f"{model}: x", x)  # the shared refusals, e.g. NumPy's long double
    x = jnp.asarray(x)
    if x.ndim < 2 or 0 in x.shape[-2:]:
        raise ValueError(f"{model}: x: expected shape (..., L, D) with L, D >= 1, "
                         f"got {x.shape}")
    return x


def check_params(model: str, params, want: dict):
    """Check that ``params`` has each name of ``want`` with exactly that shape.

    ``want``: ``{name: (shape tuple, "real" | "complex" | "any")}``. Raises ``ValueError``
    naming the model, the parameter, the expected and the received shape (or dtype).
    Returns ``{name: jnp.asarray(value)}``.
    """
    if not hasattr(params, "keys"):
        raise ValueError(f"{model}: params: expected a dict of arrays, got "
                         f"{type(params).__name__}")
    out = {}
    for name, (shape, kind) in want.items():
        if name not in params:
            raise ValueError(f"{model}: params[{name!r}]: missing (expected an array of "
                             f"shape {shape}); got keys {sorted(params)}")
        p = params[name]
        got = tuple(np.shape(p))
        if got != tuple(shape):
            raise ValueError(f"{model}: params[{name!r}]: expected shape {tuple(shape)}, "
                             f"got {got}")
        dt = np.dtype(getattr(p, "dtype", None) or np.asarray(p).dtype)
        ok = {"real": jnp.issubdtype(dt, jnp.floating),
              "complex": jnp.issubdtype(dt, jnp.complexfloating),
              "any": jnp.issubdtype(dt, jnp.inexact)}[kind]
        if not ok:
            raise ValueError(f"{model}: params[{name!r}]: expected a {kind} float dtype, "
                             f"got {dt}")
        out[name] = jnp.asarray(p)
    return out


def check_range(model: str, name: str, value, ok, expected: str):
    """Raise ``ValueError`` when ``ok(value)`` is false anywhere (a decay out of its range).

    Under ``jax.jit`` the values are not known and the check is skipped.
    """
    if isinstance(value, jax.core.Tracer):
        return
    v = np.asarray(value)
    bad = ~np.asarray(ok(v))
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        raise ValueError(f"{model}: params[{name!r}]: expected {expected}, got "
                         f"{v[i].item()} at index {i}")


def check_div(model: str, what: str, n: int, H: int, shape=None):
    """Multi-head members split ``n`` (``D`` or ``H·d_k``) into ``H`` heads; ``shape`` is the
    received shape the message quotes (``n`` when omitted)."""
    if n % H:
        raise ValueError(f"{model}: {what}: expected a size divisible by heads = {H}, "
                         f"got {n if shape is None else tuple(shape)}")


def real_dtype(x):
    """The real dtype of ``x`` (float32 for complex64)."""
    return jnp.real(jnp.zeros((), x.dtype)).dtype


def complex_dtype(x):
    """The complex dtype that matches ``x`` (complex64 for float32)."""
    return jnp.result_type(x.dtype, jnp.complex64)


def rng_of(seed):
    """A NumPy generator from an int seed or a generator."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def cast(params: dict, x):
    """Real parameters to ``x.dtype``, complex ones to the matching complex dtype."""
    c = complex_dtype(x)
    return {n: p.astype(c if jnp.iscomplexobj(p) else x.dtype) for n, p in params.items()}


def broadcast_steps(p, x, H: int, d: int):
    """A per-channel constant ``(H, d)`` as ``a_n`` for every step: ``(..., L, H, d)``."""
    return jnp.broadcast_to(p, x.shape[:-1] + (H, d))


def dim(params, name: str, axis: int = 0) -> int:
    """The size of ``params[name]`` along ``axis`` (0 when absent: :func:`check_params` then
    names the missing parameter)."""
    try:
        return int(np.shape(params[name])[axis])
    except (KeyError, TypeError, IndexError):
        return 0


def n_heads(model: str, params, D: int) -> int:
    """Multi-head members keep their head count in ``params["heads"]`` (an int);
    ``D = heads · d_v``."""
    if not hasattr(params, "keys"):
        raise ValueError(f"{model}: params: expected a dict of arrays, got "
                         f"{type(params).__name__}")
    H = params.get("heads")
    if isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1:
        raise ValueError(f"{model}: params['heads']: expected a positive int, got {H!r}")
    check_div(model, "x", D, int(H))
    return int(H)
