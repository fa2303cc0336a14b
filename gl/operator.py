"""The GateLoop operator: one entry point, seven modes (eq. 7-21)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_gate_loop_inputs, compute_dtype, is_tile
from .attention import surrogate_attention
from .chunked import gate_loop_chunked
from .scan import empty_sequence, gate_loop_parallel, gate_loop_recurrent
from .vjp import gate_loop_parallel_vjp

#: ``d_k * d_v`` from which ``"auto"`` uses the chunked mode: the associative scan then carries
#: a ``(d_k, d_v)`` state per step, the chunked mode one per chunk.
CHUNKED_MIN_STATE = 16


def pallas_available() -> bool:
    """Whether the Pallas kernels (:mod:`gl.pallas_scan`, :mod:`gl.pallas_chunked`) can be imported."""
    try:
        from . import pallas_chunked, pallas_scan  # noqa: F401
    except Exception:  # ImportError, or a Pallas/Triton version mismatch
        return False
    return hasattr(pallas_scan, "gate_loop_siso") and hasattr(pallas_chunked, "gate_loop_mh")


def _pallas_shape_ok(d_k, d_v) -> bool:
    """SISO (``d_k = d_v = 1``) or a multi-head state the fused kernel takes (powers of two >= 16)."""
    return (d_k == 1 and d_v == 1) or (is_tile(d_k) and is_tile(d_v))


def pick_mode(backend: str, q_shape, v_shape, dtype, *, has_pallas: bool, qkv_complex: bool = False) -> str:
    """The mode ``"auto"`` runs: a pure function of the backend, the shapes and the dtypes.

    * ``"pallas"``: GPU, real ``q, k, v``, ``a`` float32 or complex64 (compute dtype float32 or
      complex64), the Pallas kernels importable, and either SISO (``d_k = d_v = 1``:
      :mod:`gl.pallas_scan`, a streaming forward scan and a streaming reverse scan for the
      gradient) or a multi-head state with ``d_k, d_v`` powers of two from 16
      (:mod:`gl.pallas_chunked`, the fused chunked kernels; gradient by :mod:`gl.chunked`).
    * ``"chunked"``: a state of ``d_k · d_v >= CHUNKED_MIN_STATE`` entries (multi-head): the
      associative scan would materialise that state at every step.
    * ``"parallel_vjp"`` otherwise: the associative scan with the hand-written backward pass.

    Args:
      backend: ``jax.default_backend()`` (``"cpu"``, ``"gpu"``, ``"tpu"``).
      q_shape, v_shape: ``(..., L, H, d_k)`` and ``(..., L, H, d_v)``.
      dtype: the compute dtype (complex when ``a`` or ``h0`` is: the kernels handle a complex
        ``a`` by its planes); qkv_complex: whether any of ``q, k, v`` is complex.
      has_pallas: :func:`pallas_available`.
    """
    d_k, d_v = q_shape[-1], v_shape[-1]
    single = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64))
    if backend == "gpu" and has_pallas and _pallas_shape_ok(d_k, d_v) and single and not qkv_complex:
        return "pallas"
    if d_k * d_v >= CHUNKED_MIN_STATE:
        return "chunked"
    return "parallel_vjp"


def _pallas(q, k, v, a, h0, dtype, interpret=False, real=False):
    """The Pallas kernels, differentiable: SISO (:func:`gl.pallas_scan.gate_loop_siso`) or
    multi-head (:func:`gl.pallas_chunked.gate_loop_mh`, leading batch dimensions flattened).

    ``q, k, v`` real; ``a`` real or complex. Returns ``(y, h_L)`` in ``dtype`` (complex64 when
    ``a`` or ``h0`` is complex, else float32); with ``real``, ``y = Re y`` float32 (the kernels
    then neither compute nor write ``Im y``). A complex ``a`` is split into its planes by XLA
    (one pass over ``a``) before the kernels read them.
    """
    from . import pallas_chunked, pallas_scan

    cplx = jnp.issubdtype(dtype, jnp.complexfloating)
    q, k, v = (jnp.real(x).astype(jnp.float32) for x in (q, k, v))
    a = a.astype(dtype)
    if q.shape[-1] != 1 or v.shape[-1] != 1:
        batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
        flat = lambda x: x.reshape((-1,) + x.shape[len(batch):])
        h0f = None if h0 is None else flat(h0.astype(dtype))
        y, h = pallas_chunked.gate_loop_mh(flat(q), flat(k), flat(v), flat(a), h0f,
                                           complex_y=bool(cplx and not real), interpret=interpret)
        y, h = y.reshape(batch + (L, H, d_v)), h.reshape(batch + (H, d_k, d_v))
        return y.astype(jnp.float32 if real else dtype), h.astype(dtype)
    if h0 is not None:
        h0 = h0.astype(jnp.complex64)
    y, h = pallas_scan.gate_loop_siso(q, k, v, a, h0, interpret=interpret, complex_y=bool(cplx and not real))
    if not cplx:
        h = jnp.real(h)
    return y.astype(jnp.float32 if real else dtype), h.astype(dtype)


def _check_pallas(q, k, v, dtype):
    """``mode="pallas"`` needs a GPU, a state shape the kernels take, real ``q, k, v`` and single precision."""
    if not _pallas_shape_ok(q.shape[-1], v.shape[-1]):
        raise ValueError(f"mode='pallas': expected d_k = d_v = 1 (SISO) or d_k, d_v powers of two >= 16 "
                         f"(multi-head), got q {q.shape} and v {v.shape}; use mode='chunked'")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if jnp.iscomplexobj(x):
            raise TypeError(f"mode='pallas': expected a real {name}, got {x.dtype}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.complex64)):
        raise TypeError(f"mode='pallas': expected float32/complex64 computation, got {np.dtype(dtype)}")
    if jax.default_backend() != "gpu":
        raise RuntimeError(f"mode='pallas': the Pallas Triton kernels need a GPU, got backend "
                           f"{jax.default_backend()!r}; use mode='auto'")


def gate_loop(q, k, v, a, *, mode="auto", h0=None, return_state=False, real=False):
    """GateLoop (eq. 7-8): ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``, ``y_n = q_n h_n``.

    Args:
      q, k: output and input gates, ``(..., L, H, d_k)``.
      v: values, ``(..., L, H, d_v)``.
      a: state transitions, ``(..., L, H, d_k)``; diagonal over ``d_k``, broadcast over ``d_v``.
      mode: ``"recurrent"`` (``lax.scan``, eq. 7-8), ``"parallel"`` (associative scan,
        eq. 12-13), ``"attention"`` (stable surrogate attention, eq. 17-21), ``"chunked"``
        (surrogate attention inside chunks, eq. 7 between them: for multi-head states),
        ``"parallel_vjp"`` (the associative scan with a hand-written backward pass:
        reverse mode only, no ``jax.jvp``), ``"pallas"`` (GPU only, real ``q, k, v``: streaming
        Pallas kernels for the SISO scan and its reverse-mode gradient, or the fused chunked
        kernels for multi-head states with ``d_k, d_v`` powers of two >= 16) or ``"auto"``
        (:func:`pick_mode`).
      h0: initial state ``(..., H, d_k, d_v)``; zeros when omitted.
      return_state: also return the final state ``h_L`` ``(..., H, d_k, d_v)``.
      real: return ``Re y`` only, as the paper's model does ("return only the real part of the
        GateLoop output", App. C). The same numbers as ``gate_loop(...).real``; ``mode="pallas"``
        (and ``"auto"`` on it) then skips ``Im y`` inside the kernels and the merge of two planes
        into complex64 (multi-head, (16, 4096, 8, 64) on an H100: the merge alone 0.19 ms, the
        kernel 2.08 ms for ``Re y`` and 2.20 ms for both parts; ``gl/assets/bench/NOTES.md``,
        items 20 and 22).

    Leading ``...`` are batch dimensions. ``y`` is ``(..., L, H, d_v)``, complex when any
    input is complex and ``real`` is false, real otherwise.
    bfloat16/float16 inputs are computed and returned in float32 (complex64 with a complex input).
    The SISO ("max-headed") case of the paper is ``d_k = d_v = 1``.

    Guarantees (README, "What `gl` guarantees"): ``L = 0`` gives an empty ``y`` and ``h0`` (or
    zeros) as the state in every mode; a NaN or inf in any input at step ``t`` changes no
    output before ``t`` (from ``t`` on outputs may be NaN: the attention and chunked modes
    give NaN where the recurrence gives ``±inf``), in every mode but the fused multi-head
    Pallas kernels (``"pallas"`` with ``d_k, d_v >= 16``: open, ``tests/test_fuzz.py``).
    ``"attention"`` refuses (``ValueError``) when its O(L²) memory estimate is over
    ``gl.attention.MAX_BYTES``; ``"auto"`` never picks it.

    Raises:
      TypeError: an input is not a float or complex array, or ``real`` is not a bool.
      ValueError: shapes disagree, ``mode`` is unknown, or ``mode="attention"`` would need
        more memory than the limit (:func:`gl.attention.check_attention_memory`).
      RuntimeError: ``mode="pallas"`` without a GPU.
    """
    if not isinstance(real, (bool, np.bool_)):
        raise TypeError(f"real: expected a bool, got {type(real).__name__} {real!r}")
    dtype = compute_dtype(check_gate_loop_inputs(q, k, v, a, h0, mode))
    q, k, v, a = (jnp.asarray(x) for x in (q, k, v, a))
    h0 = None if h0 is None else jnp.asarray(h0)
    if mode == "auto":
        mode = pick_mode(jax.default_backend(), q.shape, v.shape, dtype, has_pallas=pallas_available(),
                         qkv_complex=any(jnp.iscomplexobj(x) for x in (q, k, v)))
    if mode == "recurrent":
        y, h = gate_loop_recurrent(q, k, v, a, h0, dtype)
    elif mode == "parallel":
        y, h = gate_loop_parallel(q, k, v, a, h0, dtype)
    elif mode == "chunked":
        y, h = gate_loop_chunked(q, k, v, a, h0, dtype)
    elif mode == "parallel_vjp":
        y, h = gate_loop_parallel_vjp(q, k, v, a, h0, dtype)
    elif mode == "pallas":
        _check_pallas(q, k, v, dtype)
        y, h = empty_sequence(q, v, h0, dtype) if q.shape[-3] == 0 else \
            _pallas(q, k, v, a, h0, dtype, real=real)
    else:
        y, h = surrogate_attention(q, k, v, a, h0, dtype)
    if real:
        y = jnp.real(y)
    return (y, h) if return_state else y
