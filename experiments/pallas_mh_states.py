"""Kernel 1 of the Pallas multi-head backward (:mod:`experiments.pallas_mh_bwd`): the saved states.

The backward walks time backwards and needs the forward state entering every chunk of
``C = 16`` steps, ``h_in``; it cannot get it from the state after the chunk without dividing by
the chunk's decay. :func:`chunk_states` writes it, for every ``stride``-th chunk, by the
forward's state update only (eq. 7 once per chunk, no outputs): ``h ← T ⊙ h + K_Cᵀ V`` with
``K_C[m] = k_m ⊙ R_m``, ``R_m = prod_{j>m} a_j`` to the chunk's end and ``T`` its total decay,
built by the step rule ``K ← a_j ⊙ K``, row ``j`` = ``k_j`` (:func:`decayed_keys`): products of
gates only, as in :mod:`gl.kernels.chunked`.

**Segments** (eq. 13), as the forward kernel: with ``G`` segments a first kernel
(:func:`_summary_kernel`) gives each of segments ``0 .. G-2`` its total decay ``A_s`` and its
final state from zero ``U_s``; the second (:func:`_states_kernel`) starts segment ``g`` from
``h0`` folded as ``h ← A_s ⊙ h + U_s`` for ``s < g`` and walks its chunks. So ``B H J G``
programs walk ``L / G`` steps each instead of ``B H J`` programs walking all of ``L``.

The tile helpers here (``dot``, ``full``, ``row``, ``decayed_keys``, ``advance``, ``params``,
``pad``) are shared with the backward kernels.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

__all__ = ["chunk_states", "CHUNK", "dot", "full", "row", "decayed_keys", "advance", "params", "pad"]

CHUNK = 16  #: steps per chunk, the smallest Triton matmul tile (as gl.kernels.chunked.CHUNK)
HIGHEST = lax.Precision.HIGHEST


def dot(x, y, trans_a=False):
    """``x @ y`` (``x`` transposed if ``trans_a``), IEEE precision, in ``x``'s dtype."""
    dims = (((0 if trans_a else 1,), (0,)), ((), ()))
    return lax.dot_general(x, y, dims, precision=HIGHEST, preferred_element_type=x.dtype)


def full(n):
    """``[0, n)`` as an index with an int32 start (a bare ``:`` turns int64 under x64)."""
    return pl.ds(jnp.int32(0), n)


def row(ref, b, t, hd, cols=None):
    """Row ``t`` of ``ref[b, :, hd, cols]`` (all columns if None) as a ``(1, width)`` tile."""
    return plgpu.load(ref.at[b, t, hd, full(ref.shape[-1]) if cols is None else cols])[None, :]


def decayed_keys(k_ref, a_ref, b, hd, n0, n, C, d_k, dt):
    """``(K, P)`` after steps ``0 .. n-1`` of the chunk starting at ``n0``: ``K[m] = k_m ⊙
    prod_{m<j<n} a_j`` for ``m < n`` (zero rows from ``n`` on) and ``P = prod_{j<n} a_j``, by
    the step rule ``K ← a_j ⊙ K``, row ``j`` = ``k_j``: products of gates only."""
    rows = lax.broadcasted_iota(jnp.int32, (C, d_k), 0)

    def step(j, st):
        K, P = st
        aj = row(a_ref, b, n0 + j, hd).astype(dt)
        K = jnp.where(rows == j, row(k_ref, b, n0 + j, hd).astype(dt), K * aj)
        return K, P * aj

    init = (jnp.zeros((C, d_k), dt), jnp.ones((1, d_k), dt))
    return lax.fori_loop(jnp.int32(0), jnp.int32(n), step, init)


def advance(k_ref, v_ref, a_ref, b, hd, vs, c, h, C):
    """``(h', T)``: the state after chunk ``c`` from the state ``h`` before it (eq. 7 once per
    chunk, ``T ⊙ h + K_Cᵀ V``) and the chunk's total decay ``T`` ``(1, d_k)``."""
    d_k = h.shape[0]
    K, T = decayed_keys(k_ref, a_ref, b, hd, c * C, C, C, d_k, h.dtype)
    V = plgpu.load(v_ref.at[b, pl.ds(c * C, C), hd, vs]).astype(h.dtype)
    return T.reshape(d_k, 1) * h + dot(K, V, trans_a=True), T


def params(interpret, num_warps):
    return dict(interpret=True) if interpret else dict(
        compiler_params=plgpu.CompilerParams(num_warps=num_warps, num_stages=1))


def pad(x, Lp, fill=0.0):
    """Steps ``L .. Lp-1`` with ``a = 1``, ``q = k = v = dy = 0``: they leave the state as it is."""
    return jnp.pad(x, ((0, 0), (0, Lp - x.shape[1]), (0, 0), (0, 0)), constant_values=fill)


def _summary_kernel(k_ref, v_ref, a_ref, A_ref, U_ref, *, n_chunks, C, block_v, n_vblocks):
    """Segment ``s``'s total decay ``A_s`` and final state from zero ``U_s`` (eq. 13's leaves)."""
    b, hd = pl.program_id(0), pl.program_id(1)
    j, s = pl.program_id(2) % n_vblocks, pl.program_id(2) // n_vblocks
    vs = pl.ds(j * block_v, block_v)
    d_k, dt = k_ref.shape[-1], U_ref.dtype

    def body(i, st):
        h, A = st
        h, T = advance(k_ref, v_ref, a_ref, b, hd, vs, s * n_chunks + i, h, C)
        return h, A * T

    init = (jnp.zeros((d_k, block_v), dt), jnp.ones((1, d_k), dt))
    h, A = lax.fori_loop(jnp.int32(0), jnp.int32(n_chunks), body, init)
    plgpu.store(A_ref.at[b, hd, s, full(d_k)], A[0])
    plgpu.store(U_ref.at[b, hd, s, full(d_k), vs], h)


def _states_kernel(k_ref, v_ref, a_ref, h0_ref, *refs, n_chunks, C, block_v, stride, n_vblocks,
                   n_segments):
    """Segment ``g``: ``h0`` folded with the earlier segments' summaries, then its chunks; the
    state entering every ``stride``-th chunk to ``hs[b, hd, c // stride]``; the last segment
    writes the final state ``hL`` (a check)."""
    A_ref, U_ref = refs[:2] if n_segments > 1 else (None, None)
    hs_ref, hL_ref = refs[-2:]
    b, hd = pl.program_id(0), pl.program_id(1)
    j, g = pl.program_id(2) % n_vblocks, pl.program_id(2) // n_vblocks
    vs = pl.ds(j * block_v, block_v)
    d_k, dt = k_ref.shape[-1], hs_ref.dtype
    h = plgpu.load(h0_ref.at[b, hd, full(d_k), vs]).astype(dt)
    if n_segments > 1:
        def fold(s, h):
            A = plgpu.load(A_ref.at[b, hd, s, full(d_k)]).astype(dt)
            return A.reshape(d_k, 1) * h + plgpu.load(U_ref.at[b, hd, s, full(d_k), vs]).astype(dt)
        h = lax.fori_loop(jnp.int32(0), g, fold, h)

    def body(i, h):
        c = g * n_chunks + i

        @pl.when(c % stride == 0)
        def _():
            plgpu.store(hs_ref.at[b, hd, c // stride, full(d_k), vs], h)
        return advance(k_ref, v_ref, a_ref, b, hd, vs, c, h, C)[0]

    h = lax.fori_loop(jnp.int32(0), jnp.int32(n_chunks), body, h)

    @pl.when(g == n_segments - 1)
    def _():
        plgpu.store(hL_ref.at[b, hd, full(d_k), vs], h)


@functools.partial(jax.jit, static_argnames=("block_v", "interpret", "num_warps", "n_chunks", "stride",
                                             "segments"))
def chunk_states(k, v, a, h0, *, block_v, interpret=False, num_warps=4, n_chunks=None, stride=1,
                 segments=1):
    """``(hs, hL)``: the ``(B, H, ceil(N / stride), d_k, d_v)`` states entering chunks
    ``0, stride, 2 stride, ..`` of the ``N`` chunks and the final state ``(B, H, d_k, d_v)``.

    ``k, a``: ``(B, L, H, d_k)`` (``a`` real, per key); ``v``: ``(B, L, H, d_v)``; ``h0``:
    ``(B, H, d_k, d_v)``, whose dtype is the kernels'. ``N``: ``ceil(L / 16)`` rounded up to a
    multiple of ``segments``, or ``n_chunks`` if more (padded steps: ``a = 1``, ``k = v = 0``).
    """
    B, L, H, d_k = k.shape
    d_v, dt, nJ, G = v.shape[-1], h0.dtype, v.shape[-1] // block_v, segments
    N = max(-(-L // (CHUNK * G)) * G, n_chunks or 0)
    if N % G:
        raise ValueError(f"chunk_states: n_chunks: expected a multiple of segments = {G}, got {N}")
    Lp, Ns = N * CHUNK, N // G
    k, v, a = pad(k, Lp), pad(v, Lp), pad(a, Lp, 1.0)
    summ = []
    if G > 1:  # the summaries of segments 0 .. G-2
        kern = functools.partial(_summary_kernel, n_chunks=Ns, C=CHUNK, block_v=block_v, n_vblocks=nJ)
        out = (jax.ShapeDtypeStruct((B, H, G, d_k), dt), jax.ShapeDtypeStruct((B, H, G, d_k, d_v), dt))
        summ = pl.pallas_call(kern, out_shape=out, grid=(B, H, nJ * (G - 1)), name="gl_mh_bwd_states_summary",
                              **params(interpret, num_warps))(k, v, a)
    kern = functools.partial(_states_kernel, n_chunks=Ns, C=CHUNK, block_v=block_v, stride=stride,
                             n_vblocks=nJ, n_segments=G)
    out = (jax.ShapeDtypeStruct((B, H, -(-N // stride), d_k, d_v), dt), jax.ShapeDtypeStruct((B, H, d_k, d_v), dt))
    return pl.pallas_call(kern, out_shape=out, grid=(B, H, nJ * G), name="gl_mh_bwd_states",
                          **params(interpret, num_warps))(k, v, a, h0, *summ)
