"""Input checks for the public entry points.

Every check raises ``TypeError`` (wrong kind of array) or ``ValueError`` (wrong
shape or option) with a message that names the argument and says what was
expected and what was received. They use only static information (shapes and
dtypes), so they also run under ``jax.jit``.
"""
from __future__ import annotations

import warnings

import numpy as np
import jax.numpy as jnp

#: the algorithms of :func:`gl.gate_loop` (``mode=``) and how they run (``impl=``)
MODES = ("auto", "recurrent", "parallel", "attention", "chunked")
IMPLS = ("auto", "xla", "pallas")
#: modes that were removed, and what to write instead
OLD_MODES = {"parallel_vjp": "mode='parallel' (it differentiates by the reverse-scan VJP now)",
             "pallas": "impl='pallas' (with mode='parallel' for SISO or 'chunked' for multi-head, "
                       "or mode='auto')"}


def check_mode_impl(mode, impl):
    """``mode`` in :data:`MODES` and ``impl`` in :data:`IMPLS`; a removed mode says what replaces it."""
    if isinstance(mode, str) and mode in OLD_MODES:
        raise ValueError(f"mode: {mode!r} was removed; write {OLD_MODES[mode]}")
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if not isinstance(impl, str) or impl not in IMPLS:
        raise ValueError(f"impl: expected one of {IMPLS}, got {impl!r}")
    if impl == "pallas" and mode in ("recurrent", "attention"):
        raise ValueError(f"mode={mode!r}, impl='pallas': no Pallas kernel implements mode {mode!r}; "
                         f"use impl='xla', or mode='parallel' (SISO) or 'chunked' (multi-head) "
                         f"with impl='pallas'")


#: the dtypes the entry points take (bfloat16/float16 compute in float32: :func:`compute_dtype`)
ACCEPTED = "float32, float64, complex64, complex128, bfloat16, float16"


def dtype_of(name: str, x) -> np.dtype:
    """Return the dtype of ``x``; raise TypeError unless it is one of :data:`ACCEPTED` (or
    another float JAX holds; NumPy's long double ``float128``/``complex256`` is refused)."""
    try:
        dt = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    except TypeError as e:  # pragma: no cover - exotic objects
        raise TypeError(f"{name}: expected a float or complex array, got {type(x).__name__}") from e
    if not (jnp.issubdtype(dt, jnp.floating) or jnp.issubdtype(dt, jnp.complexfloating)):
        raise TypeError(f"{name}: expected a float or complex dtype ({ACCEPTED}), got {dt}")
    if dt.itemsize > (16 if dt.kind == "c" else 8):  # NumPy's long double: JAX has none
        raise TypeError(f"{name}: expected a float or complex dtype ({ACCEPTED}), got {dt} "
                        f"(long double, which JAX cannot hold: cast it to float64 or complex128)")
    return dt


def check_bool(name: str, x) -> None:
    """Raise TypeError unless ``x`` is a bool (a flag such as ``real`` or ``return_state``)."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(x).__name__} {x!r}")


def shape_of(name: str, x, min_ndim: int) -> tuple[int, ...]:
    shape = tuple(np.shape(x))
    if len(shape) < min_ndim:
        raise ValueError(
            f"{name}: expected at least {min_ndim} dimensions, got shape {shape}"
        )
    return shape


def is_tile(n: int) -> bool:
    """Whether ``n`` is a power of two from 16: a dimension Triton's matmul tiles take (the fused
    multi-head kernels of :mod:`gl.kernels.chunked` need ``d_k`` and ``d_v`` of this kind)."""
    return n >= 16 and not n & (n - 1)


def check_gate_loop_inputs(q, k, v, a, h0=None):
    """Validate the arguments of :func:`gl.gate_loop`; return the result dtype.

    Shapes (eq. 7-8): ``q, k``: ``(..., L, H, d_k)``; ``a``: the same, or ``(..., L, H, 1)`` (one
    gate per head); ``v``: ``(..., L, H, d_v)``; ``h0``: ``(..., H, d_k, d_v)``.
    """
    dts = [dtype_of(n, x) for n, x in (("q", q), ("k", k), ("v", v), ("a", a))]
    sq = shape_of("q", q, 3)
    sk = shape_of("k", k, 3)
    if sk != sq:
        raise ValueError(f"k: expected the shape of q (..., L, H, d_k) = {sq}, got {sk}")
    sa = shape_of("a", a, 3)
    if sa != sq and sa != sq[:-1] + (1,):
        raise ValueError(
            f"a: expected the shape of q (..., L, H, d_k) = {sq}, or {sq[:-1] + (1,)} for one "
            f"gate per head, got {sa}"
        )
    sv = shape_of("v", v, 3)
    if sv[:-1] != sq[:-1]:
        raise ValueError(
            f"v: expected shape (..., L, H, d_v) = {sq[:-1] + ('d_v',)} to match q's "
            f"leading (..., L, H) = {sq[:-1]}, got {sv}"
        )
    if h0 is not None:
        dts.append(dtype_of("h0", h0))
        want = sq[:-3] + (sq[-2], sq[-1], sv[-1])
        sh = tuple(np.shape(h0))
        if sh != want:
            raise ValueError(
                f"h0: expected shape (..., H, d_k, d_v) = {want}, got {sh}"
            )
    with warnings.catch_warnings():
        # Without jax x64, float64 inputs run in float32, as everywhere in JAX; the
        # "dtype truncated" warning would fire on every call with NumPy float64 arrays.
        warnings.filterwarnings("ignore", "Explicitly requested dtype", UserWarning)
        return jnp.result_type(*dts)


def dtype_arg(dtype, inputs) -> np.dtype:
    """The ``dtype=`` argument of :func:`gl.gate_loop_reference` and
    :func:`gl.surrogate_attention`, checked, as the compute dtype (:func:`compute_dtype`).

    ``inputs``: ``(name, dtype)`` pairs of the arrays it will cast (``dtype`` None for an
    absent one). A real ``dtype`` is refused when one of them is complex: the cast would drop
    its imaginary part. Raises ``TypeError`` naming ``dtype`` and what was expected.
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:  # NumPy's "data type 'x' not understood" names no argument
        raise TypeError(f"dtype: expected a float or complex dtype ({ACCEPTED}) or None, "
                        f"got {dtype!r}") from None
    cdt = compute_dtype(dt)  # bfloat16/float16 -> float32 (bfloat16 has NumPy kind "V")
    if cdt not in (np.float32, np.float64, np.complex64, np.complex128):
        why = " (long double: JAX and gl.gate_loop have none)" if cdt.kind in "fc" else ""
        raise TypeError(f"dtype: expected a float or complex dtype ({ACCEPTED}) or None, "
                        f"got {dt}{why}")
    cplx = [n for n, d in inputs if d is not None and np.dtype(d).kind == "c"]
    if cdt.kind == "f" and cplx:
        want = np.result_type(dt, np.complex64)
        raise TypeError(f"dtype: expected a complex dtype, since {', '.join(cplx)} is complex "
                        f"(e.g. {want}, or None for the inputs' own), got {dt}")
    return cdt


def compute_dtype(dt) -> np.dtype:
    """The dtype arithmetic runs in: ``dt``, except that bfloat16/float16 compute in float32.

    Low-precision inputs are accepted but never accumulated in low precision: a long
    recurrence in bfloat16 (8 mantissa bits) loses the state within a few hundred steps.
    So ``gl.gate_loop`` returns float32 (or complex64) for bfloat16 inputs.
    """
    dt = np.dtype(dt)
    if jnp.issubdtype(dt, jnp.floating) and jnp.finfo(dt).bits < 32:
        return np.dtype(np.float32)
    return dt
