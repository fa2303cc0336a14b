"""Sequence parallelism: :func:`gate_loop_sharded` runs GateLoop with the time axis split
over a mesh axis (``jax.shard_map`` under ``jax.jit``).

The recurrence ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n`` is an associative scan (eq. 12-13), so a
block of steps is one element ``(A, h)`` of the same monoid: ``A`` the product of the
block's ``a``, ``h`` its final state from zero. Device ``i`` of ``n``:

1. scans its own block with :func:`gl.gate_loop` (any ``mode``/``impl``) from zero, keeping
   ``y_loc`` and ``h_loc``, and ``P_t = a_1 ⋯ a_t`` (the prefix product inside the block);
2. gets the exclusive scan of the blocks before it, ``h_in`` (the state entering its block,
   ``h0`` folded in), through one of two collectives (:data:`COMBINES`):

   * ``"allgather"``: every device gathers all ``n`` aggregates and folds the ones before it;
     one collective call, ``(n - 1)·S`` bytes received per device (``S`` = one aggregate;
     inside the call, ``n - 1`` latency steps on a ring, ``⌈log2 n⌉`` by recursive doubling);
   * ``"ppermute"``: a Hillis-Steele scan over devices, ``⌈log2 n⌉`` rounds of ``ppermute``
     plus one shift, ``(⌈log2 n⌉ + 1)·S`` bytes received per device;

   ``"auto"`` takes ``"allgather"`` up to :data:`ALLGATHER_MAX_DEVICES` = 4 devices (no
   more bytes than the tree up to 5 devices, in one call instead of up to four) and
   ``"ppermute"`` above it;
3. corrects its block: ``y_t += q_t (P_t ⊙ h_in)``, ``h_out = A ⊙ h_in + h_loc``.

``S`` is ``B·H·d_k·d_v`` state entries plus ``B·H·d_k`` for ``A`` (complex when the inputs
are); chapter 11 compares it with a block's own bytes.
"""
from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec as P

from ._checks import check_bool, check_gate_loop_inputs, check_mode_impl, compute_dtype
from .operator import gate_loop

__all__ = ["gate_loop_sharded", "COMBINES", "ALLGATHER_MAX_DEVICES", "aggregate_bytes",
           "local_mesh", "rounds", "combine"]

#: the ways to combine the blocks' aggregates across devices
COMBINES = ("auto", "allgather", "ppermute")
#: ``combine="auto"`` gathers up to this many devices and uses the ``ppermute`` tree above it
#: (the all-gather receives no more bytes than the tree up to 5 devices, in one call)
ALLGATHER_MAX_DEVICES = 4


def aggregate_bytes(batch: int, heads: int, d_k: int, d_v: int, itemsize: int) -> int:
    """Bytes of one block's aggregate ``(A, h)``: ``B·H·d_k`` + ``B·H·d_k·d_v`` entries."""
    return batch * heads * d_k * (d_v + 1) * itemsize


def combine(left, right):
    """``left`` then ``right``: the GateLoop monoid (eq. 13) on block aggregates ``(A, h)``,
    ``A`` ``(..., d_k)``, ``h`` ``(..., d_k, d_v)``: ``(A₁A₂, A₂ ⊙ h₁ + h₂)``."""
    (a1, h1), (a2, h2) = left, right
    return a1 * a2, a2[..., None] * h1 + h2


def _exclusive_allgather(agg, axis, n):
    """The fold of the aggregates of devices ``0 .. i-1`` on device ``i`` (identity on 0)."""
    big_a, big_h = (jax.lax.all_gather(x, axis) for x in agg)  # (n, ...)
    acc = (jnp.ones_like(big_a[0]), jnp.zeros_like(big_h[0]))
    prefix = [acc]
    for j in range(n - 1):
        acc = combine(acc, (big_a[j], big_h[j]))
        prefix.append(acc)
    i = jax.lax.axis_index(axis)
    return tuple(jnp.stack(p)[i] for p in zip(*prefix))


def _exclusive_ppermute(agg, axis, n):
    """The same with ``⌈log2 n⌉`` ``ppermute`` rounds (Hillis-Steele) and one shift."""
    i = jax.lax.axis_index(axis)
    acc, step = agg, 1
    while step < n:
        perm = [(j, j + step) for j in range(n - step)]
        got = tuple(jax.lax.ppermute(x, axis, perm) for x in acc)  # zeros where none is sent
        new = combine(got, acc)
        acc = tuple(jnp.where(i >= step, x_new, x) for x_new, x in zip(new, acc))
        step *= 2
    got = tuple(jax.lax.ppermute(x, axis, [(j, j + 1) for j in range(n - 1)]) for x in acc)
    return jnp.where(i == 0, 1, got[0]).astype(agg[0].dtype), jnp.where(i == 0, 0, got[1])


def _block(q, k, v, a, h0, *, axis, n, combine, mode, impl, dtype):
    """One device's part: local scan, exclusive scan of the aggregates, correction."""
    q, k, v, a = (x.astype(jnp.result_type(x.dtype, dtype)) for x in (q, k, v, a))
    y, h_loc = gate_loop(q, k, v, a, mode=mode, impl=impl, return_state=True)
    prefix = jnp.cumprod(a, axis=-3)  # P_t, (..., l, H, d_k)
    agg = (prefix[..., -1, :, :], h_loc)
    a_in, h_in = (_exclusive_allgather if combine == "allgather" else _exclusive_ppermute)(
        agg, axis, n)
    h_in = a_in[..., None] * h0.astype(h_in.dtype) + h_in  # fold h0 in front of device 0
    y = y + jnp.einsum("...lhk,...hkv->...lhv", q * prefix, h_in)  # complex if h_in is
    h_out = agg[0][..., None] * h_in + h_loc
    return y, h_out[None]  # a leading device axis: the caller keeps the last device's state


def _check_shardings(named):
    """Committed ``jax.Array`` inputs (not tracers) must share one sharding."""
    seen = [(name, x) for name, x in named if isinstance(x, jax.Array)
            and not isinstance(x, jax.core.Tracer) and x.committed]
    for name, x in seen[1:]:
        first, x0 = seen[0]
        if not x.sharding.is_equivalent_to(x0.sharding, x.ndim):
            raise ValueError(f"shardings disagree: {first} has {x0.sharding}, {name} has "
                             f"{x.sharding}; expected one sharding for q, k, v and a")


def gate_loop_sharded(q, k, v, a, *, mesh: Mesh, axis: str, mode="auto", impl="auto", h0=None,
                      return_state=False, combine="auto", pad=False):
    """:func:`gl.gate_loop` with the time axis (``-3``) split over ``mesh`` axis ``axis``.

    Args:
      q, k, v, a, h0, mode, impl, return_state: as :func:`gl.gate_loop` (``mode`` and
        ``impl`` choose the algorithm inside each device's block).
      mesh: a :class:`jax.sharding.Mesh`; axis: the name of the mesh axis that splits time.
        Batch dimensions are replicated over it (use another mesh axis for data parallelism).
      combine: ``"allgather"``, ``"ppermute"`` or ``"auto"`` (:data:`ALLGATHER_MAX_DEVICES`).
      pad: when ``L`` is not a multiple of the axis size, pad time with ``a = 1``,
        ``q = k = v = 0`` (steps that change no state) and slice the output back.

    Returns ``y`` (and ``h_L``), equal to the single-device result up to rounding; for
    ``L = 0``, :func:`gl.gate_loop`'s (an empty ``y``, ``h0`` as ``h_L``).

    Raises:
      TypeError: ``mesh`` is not a Mesh; ``return_state`` or ``pad`` is not a bool.
      ValueError: ``axis`` is not an axis of ``mesh``; ``L`` is not divisible by its size and
        ``pad`` is false; committed input shardings of ``q, k, v, a`` disagree; ``combine``
        unknown; and the errors of :func:`gl.gate_loop`.
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh: expected a jax.sharding.Mesh, got {type(mesh).__name__}")
    if axis not in mesh.axis_names:
        raise ValueError(f"axis: expected one of the mesh axes {tuple(mesh.axis_names)}, "
                         f"got {axis!r}")
    if combine not in COMBINES:
        raise ValueError(f"combine: expected one of {COMBINES}, got {combine!r}")
    check_mode_impl(mode, impl)
    check_bool("return_state", return_state)
    check_bool("pad", pad)
    _check_shardings((("q", q), ("k", k), ("v", v), ("a", a)))
    dtype = compute_dtype(check_gate_loop_inputs(q, k, v, a, h0))
    q, k, v, a = (jnp.asarray(x) for x in (q, k, v, a))
    n, length = mesh.shape[axis], q.shape[-3]
    if length == 0:  # nothing to split: one device's result (an empty y, and h0 as h_L)
        return gate_loop(q, k, v, a, h0=h0, mode=mode, impl=impl, return_state=return_state)
    if length % n:
        if not pad:
            raise ValueError(f"q, k, v, a: expected a length L divisible by the size {n} of mesh "
                             f"axis {axis!r}, got L = {length} (pass pad=True to pad it)")
        extra = n - length % n
        widths = [(0, 0)] * (q.ndim - 3) + [(0, extra), (0, 0), (0, 0)]
        q, k, v = (jnp.pad(x, widths) for x in (q, k, v))
        a = jnp.pad(a, widths, constant_values=1)
    if combine == "auto":
        combine = "allgather" if n <= ALLGATHER_MAX_DEVICES else "ppermute"
    batch = q.shape[:-3]
    hdt = jnp.result_type(q.dtype, k.dtype, v.dtype, a.dtype, dtype)
    h0 = jnp.zeros((*batch, q.shape[-2], q.shape[-1], v.shape[-1]), hdt) if h0 is None \
        else jnp.broadcast_to(jnp.asarray(h0), (*batch, q.shape[-2], q.shape[-1], v.shape[-1]))
    t_spec = P(*([None] * (q.ndim - 3)), axis, None, None)
    f = jax.shard_map(
        partial(_block, axis=axis, n=n, combine=combine, mode=mode, impl=impl, dtype=dtype),
        mesh=mesh, in_specs=(t_spec, t_spec, t_spec, t_spec, P()),
        out_specs=(t_spec, P(axis)), check_vma=False)
    y, h = f(q, k, v, a, h0)
    y = y[..., :length, :, :]
    return (y, h[n - 1]) if return_state else y


def local_mesh(n: int, axis: str = "seq") -> Mesh:
    """A one-axis mesh of the first ``n`` local devices (``ValueError`` if there are fewer)."""
    devices = jax.devices()
    if n < 1 or n > len(devices):
        raise ValueError(f"n: expected 1 to {len(devices)} devices, got {n}")
    return Mesh(devices[:n], (axis,))


def rounds(n: int, how: str) -> int:
    """Collective calls of the exclusive scan over ``n`` devices (0 for one device).

    One ``all_gather`` for ``"allgather"``; ``⌈log2 n⌉ + 1`` ``ppermute`` for the tree. A call
    is not one latency: an all-gather takes ``(n - 1)·α`` on a ring, ``⌈log2 n⌉·α`` with
    recursive doubling (Thakur, Rabenseifner & Gropp 2005), ``α`` one message's latency.
    """
    if n <= 1:
        return 0
    return 1 if how == "allgather" else math.ceil(math.log2(n)) + 1
