"""The Pallas GPU kernels behind ``gl.gate_loop(..., impl="pallas")``: one module per operation.

* :mod:`gl.kernels.siso_scan`: the SISO scan (``d_k = d_v = 1``) and its reverse-scan
  gradient (a ``jax.custom_vjp``), Triton kernels in :mod:`gl.kernels.siso_kernels`;
* :mod:`gl.kernels.siso_tma`: its one-pass forward through shared memory (Hopper, TMA);
* :mod:`gl.kernels.chunked`: the fused chunked multi-head form (kernel in
  :mod:`gl.kernels.chunked_kernel`), gradient by :mod:`gl.chunked`;
* :mod:`gl.kernels.common`: the tile helpers they share.

Each kernel's ground truth is :func:`gl.gate_loop_reference` (the Numba loop). On a CPU the
kernels run only in the Pallas interpreter (``interpret=True``), for tests. Importing this
package imports no kernel: :func:`available` does, on demand.
"""
from __future__ import annotations

import jax.numpy as jnp

from .._checks import is_tile

__all__ = ["available", "shape_ok", "gate_loop_pallas"]


def available() -> bool:
    """Whether the Pallas kernels can be imported (JAX with Pallas and its Triton backend)."""
    try:
        from . import chunked, siso_scan
    except Exception:  # ImportError, or a Pallas/Triton version mismatch
        return False
    return hasattr(siso_scan, "gate_loop_siso") and hasattr(chunked, "gate_loop_mh")


def shape_ok(d_k: int, d_v: int) -> bool:
    """SISO (``d_k = d_v = 1``, :mod:`~gl.kernels.siso_scan`) or a multi-head state the fused
    kernels take (``d_k, d_v`` powers of two from 16, :mod:`~gl.kernels.chunked`)."""
    return (d_k == 1 and d_v == 1) or (is_tile(d_k) and is_tile(d_v))


def gate_loop_pallas(q, k, v, a, h0, dtype, *, interpret=False, real=False):
    """``gl.gate_loop(..., impl="pallas")`` after its checks: the layout of :func:`gl.gate_loop`
    in and out, the kernels' layout inside; differentiable (reverse mode).

    SISO inputs go to :func:`gl.kernels.siso_scan.gate_loop_siso`, multi-head ones to
    :func:`gl.kernels.chunked.gate_loop_mh` with the leading batch dimensions flattened.
    ``q, k, v`` real; ``a`` real or complex. Returns ``(y, h_L)`` in ``dtype`` (complex64 when
    ``a`` or ``h0`` is complex, else float32); with ``real``, ``y = Re y`` float32 (the kernels
    then neither compute nor write ``Im y``). A complex ``a`` is split into its planes by XLA
    (one pass over ``a``) before the kernels read them. ``interpret``: the Pallas interpreter
    (CPU tests).
    """
    from . import chunked, siso_scan

    cplx = jnp.issubdtype(dtype, jnp.complexfloating)
    q, k, v = (jnp.real(x).astype(jnp.float32) for x in (q, k, v))
    a = a.astype(dtype)
    if q.shape[-1] != 1 or v.shape[-1] != 1:
        batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
        flat = lambda x: x.reshape((-1,) + x.shape[len(batch):])
        h0f = None if h0 is None else flat(h0.astype(dtype))
        y, h = chunked.gate_loop_mh(flat(q), flat(k), flat(v), flat(a), h0f,
                                    complex_y=bool(cplx and not real), interpret=interpret)
        y, h = y.reshape(batch + (L, H, d_v)), h.reshape(batch + (H, d_k, d_v))
        return y.astype(jnp.float32 if real else dtype), h.astype(dtype)
    if h0 is not None:
        h0 = h0.astype(jnp.complex64)
    y, h = siso_scan.gate_loop_siso(q, k, v, a, h0, interpret=interpret, layout="heads",
                                    complex_y=bool(cplx and not real))
    if not cplx:
        h = jnp.real(h)
    return y.astype(jnp.float32 if real else dtype), h.astype(dtype)
