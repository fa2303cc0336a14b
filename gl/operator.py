"""The GateLoop operator: one entry point; ``mode`` names the algorithm, ``impl`` how it runs.

* ``mode="recurrent"``: eq. 7-8 step by step (``lax.scan``); ``impl="xla"``.
* ``mode="parallel"``: the associative scan (eq. 12-13), differentiated by a reverse scan
  (:mod:`gl.vjp`); ``impl="xla"``, or ``"pallas"`` for SISO states (:mod:`gl.kernels.siso_scan`).
* ``mode="attention"``: stable surrogate attention (eq. 17-21), O(L²); ``impl="xla"``.
* ``mode="chunked"``: surrogate attention inside chunks, eq. 7 between them (:mod:`gl.chunked`);
  ``impl="xla"``, or ``"pallas"`` for ``d_k, d_v`` powers of two from 16
  (:mod:`gl.kernels.chunked`).

:func:`pick` decides ``"auto"`` (either argument or both): a pure function of the backend,
the shapes and the dtypes.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import kernels
from ._checks import (IMPLS, MODES, check_bool, check_gate_loop_inputs, check_mode_impl,
                      compute_dtype)
from .attention import surrogate_attention
from .chunked import gate_loop_chunked
from .scan import empty_sequence, gate_loop_recurrent
from .vjp import gate_loop_parallel_vjp

__all__ = ["gate_loop", "pick", "MODES", "IMPLS", "CHUNKED_MIN_STATE"]

#: ``d_k * d_v`` from which ``"auto"`` uses the chunked mode: the associative scan then carries
#: a ``(d_k, d_v)`` state per step, the chunked mode one per chunk.
CHUNKED_MIN_STATE = 16

#: the pairs the Pallas kernels run: SISO scans, and the fused chunked multi-head form
_PALLAS_MODE = {True: "parallel", False: "chunked"}  # keyed by "is SISO"

_XLA = {"recurrent": gate_loop_recurrent, "parallel": gate_loop_parallel_vjp,
        "attention": surrogate_attention, "chunked": gate_loop_chunked}


def _pallas_why_not(backend, d_k, d_v, dtype, qkv_complex, has_pallas):
    """Why ``impl="pallas"`` cannot run here (a sentence), or None."""
    if not has_pallas:
        return "the Pallas kernels cannot be imported"
    if not kernels.shape_ok(d_k, d_v):
        return f"expected d_k = d_v = 1 (SISO) or d_k, d_v powers of two >= 16, got d_k = {d_k}, d_v = {d_v}"
    if qkv_complex:
        return "expected real q, k, v"
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.complex64)):
        return f"expected float32/complex64 computation, got {np.dtype(dtype)}"
    if backend != "gpu":
        return f"the Pallas Triton kernels need a GPU, got backend {backend!r}"
    return None


def pick(backend: str, q_shape, v_shape, dtype, *, has_pallas: bool, qkv_complex: bool = False,
         mode: str = "auto", impl: str = "auto") -> tuple[str, str]:
    """The ``(mode, impl)`` that :func:`gate_loop` runs for ``mode`` and ``impl`` (either may be
    ``"auto"``): a pure function of the backend, the shapes and the dtypes.

    * Both ``"auto"``: ``impl="pallas"`` where it can run (GPU, real ``q, k, v``, float32 or
      complex64 computation, the kernels importable, and SISO: ``("parallel", "pallas")``, or
      ``d_k, d_v`` powers of two from 16: ``("chunked", "pallas")``); else ``"chunked"`` for a
      state of ``d_k · d_v >= CHUNKED_MIN_STATE`` entries (the associative scan would
      materialise it at every step), else ``"parallel"``, both with ``impl="xla"``.
    * ``mode`` given, ``impl="auto"``: ``"pallas"`` if that pair exists and can run here,
      else ``"xla"``.
    * ``impl`` given, ``mode="auto"``: for ``"xla"`` the rule above; for ``"pallas"`` the mode
      its kernels implement for the shape.

    Args:
      backend: ``jax.default_backend()``; q_shape, v_shape: ``(..., L, H, d_k)``,
        ``(..., L, H, d_v)``; dtype: the compute dtype; has_pallas: :func:`gl.kernels.available`;
        qkv_complex: whether any of ``q, k, v`` is complex.
    """
    check_mode_impl(mode, impl)
    d_k, d_v = q_shape[-1], v_shape[-1]
    siso = d_k == 1 and d_v == 1
    why_not = _pallas_why_not(backend, d_k, d_v, dtype, qkv_complex, has_pallas)
    if impl == "pallas":
        return (_PALLAS_MODE[siso] if mode == "auto" else mode), "pallas"
    if mode == "auto":
        if impl == "auto" and why_not is None:
            return _PALLAS_MODE[siso], "pallas"
        return ("chunked" if d_k * d_v >= CHUNKED_MIN_STATE else "parallel"), "xla"
    if impl == "auto":
        return mode, ("pallas" if why_not is None and _PALLAS_MODE[siso] == mode else "xla")
    return mode, impl


def _check_pallas(mode, q, k, v, dtype):
    """``impl="pallas"``: the pair exists for this shape, and the device and dtypes allow it."""
    d_k, d_v = q.shape[-1], v.shape[-1]
    pair = f"mode={mode!r}, impl='pallas'"
    if mode not in _PALLAS_MODE.values():
        raise ValueError(f"{pair}: no Pallas kernel implements mode {mode!r}; use impl='xla', or "
                         f"mode='parallel' (SISO) or 'chunked' (multi-head) with impl='pallas'")
    if not kernels.shape_ok(d_k, d_v):
        raise ValueError(f"{pair}: expected d_k = d_v = 1 (SISO) or d_k, d_v powers of two >= 16 "
                         f"(multi-head), got q {q.shape} and v {v.shape}; use impl='xla'")
    want = _PALLAS_MODE[d_k == 1 and d_v == 1]
    if mode != want:
        raise ValueError(f"{pair}: the Pallas kernel for q {q.shape} and v {v.shape} implements "
                         f"mode={want!r}; pass mode={want!r} or impl='xla'")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if jnp.iscomplexobj(x):
            raise TypeError(f"{pair}: expected a real {name}, got {x.dtype}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.complex64)):
        raise TypeError(f"{pair}: expected float32/complex64 computation, got {np.dtype(dtype)}")
    if jax.default_backend() != "gpu":
        raise RuntimeError(f"{pair}: the Pallas Triton kernels need a GPU, got backend "
                           f"{jax.default_backend()!r}; use impl='auto'")


def gate_loop(q, k, v, a, *, mode="auto", impl="auto", h0=None, return_state=False, real=False):
    """GateLoop (eq. 7-8): ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``, ``y_n = q_n h_n``.

    Args:
      q, k: output and input gates, ``(..., L, H, d_k)``.
      v: values, ``(..., L, H, d_v)``.
      a: state transitions, ``(..., L, H, d_k)``; diagonal over ``d_k``, broadcast over ``d_v``.
        ``(..., L, H, 1)`` is one gate per head (RetNet, Mamba-2): the XLA chunked mode then
        builds each chunk's decays as one ``(C, C)`` matrix (:func:`gl.chunked.head_scores`),
        the other XLA modes broadcast it in their arithmetic, and the fused Pallas kernel
        (:func:`gl.kernels.chunked.gate_loop_mh`) expands it to ``(..., L, H, d_k)``.
      mode: the algorithm: ``"recurrent"`` (``lax.scan``, eq. 7-8), ``"parallel"``
        (associative scan, eq. 12-13, differentiated by a reverse scan: reverse mode only; for
        ``jax.jvp`` use ``"recurrent"`` or :func:`gl.scan.gate_loop_parallel`), ``"attention"``
        (stable surrogate attention, eq. 17-21), ``"chunked"`` (surrogate attention inside
        chunks, eq. 7 between them: for multi-head states) or ``"auto"`` (:func:`pick`).
      impl: how it runs: ``"xla"`` (JAX operations, any device), ``"pallas"`` (GPU kernels,
        real ``q, k, v``, single precision: ``mode="parallel"`` for SISO ``d_k = d_v = 1``,
        ``mode="chunked"`` for ``d_k, d_v`` powers of two from 16) or ``"auto"`` (:func:`pick`).
      h0: initial state ``(..., H, d_k, d_v)``; zeros when omitted.
      return_state: also return the final state ``h_L`` ``(..., H, d_k, d_v)``.
      real: return ``Re y`` only, as the paper's model does ("return only the real part of the
        GateLoop output", App. C). The same numbers as ``gate_loop(...).real``; with
        ``impl="pallas"`` the kernels then skip ``Im y``.

    Leading ``...`` are batch dimensions. ``y`` is ``(..., L, H, d_v)``, complex when any
    input is complex and ``real`` is false, real otherwise.
    bfloat16/float16 inputs are computed and returned in float32 (complex64 with a complex input).
    The SISO ("max-headed") case of the paper is ``d_k = d_v = 1``.

    Guarantees (README, "What `gl` guarantees"): ``L = 0`` gives an empty ``y`` and ``h0`` (or
    zeros) as the state in every mode; a NaN or inf in any input at step ``t`` changes no
    output before ``t`` (from ``t`` on outputs may be NaN: the attention and chunked modes
    give NaN where the recurrence gives ``±inf``), in every mode (the fused multi-head Pallas
    kernels, ``impl="pallas"`` with ``d_k, d_v >= 16``, pass such inputs to ``"chunked"``).
    ``"attention"`` refuses (``ValueError``) when its O(L²) memory estimate is over
    ``gl.attention.MAX_BYTES`` (set that module constant to change the limit; ``gate_loop``
    takes no ``max_bytes=``); ``"auto"`` never picks it. The estimate reads the shapes it is
    given, so under ``jax.vmap`` it sees one vmapped slice: ``jax.vmap`` over ``n`` examples
    may allocate ``n`` times the limit without an error (JAX has no public way to see the
    vmapped axis, and none at all inside a ``jax.jit`` under the ``vmap``). Pass the batch as
    leading ``...`` dimensions instead, which the estimate counts.

    Raises:
      TypeError: an input is not a float or complex array, or is NumPy's long double
        (``float128``/``complex256``, which JAX cannot hold); or ``real`` or ``return_state``
        is not a bool.
      ValueError: shapes disagree, ``mode`` or ``impl`` is unknown, the pair does not exist, or
        ``mode="attention"`` would need more memory than the limit
        (:func:`gl.attention.check_attention_memory`).
      RuntimeError: ``impl="pallas"`` without a GPU.
    """
    check_bool("real", real)
    check_bool("return_state", return_state)
    check_mode_impl(mode, impl)
    dtype = compute_dtype(check_gate_loop_inputs(q, k, v, a, h0))
    q, k, v, a = (jnp.asarray(x) for x in (q, k, v, a))
    h0 = None if h0 is None else jnp.asarray(h0)
    mode, impl = pick(jax.default_backend(), q.shape, v.shape, dtype,
                      has_pallas=(impl != "xla" and kernels.available()),
                      qkv_complex=any(jnp.iscomplexobj(x) for x in (q, k, v)), mode=mode, impl=impl)
    if impl == "pallas":
        _check_pallas(mode, q, k, v, dtype)
        y, h = empty_sequence(q, v, h0, dtype) if q.shape[-3] == 0 else \
            kernels.gate_loop_pallas(q, k, v, a, h0, dtype, real=real)
    else:
        y, h = _XLA[mode](q, k, v, a, h0, dtype)
    if real:
        y = jnp.real(y)
    return (y, h) if return_state else y
