"""A Pallas backward for the chunked multi-head GateLoop, real gates (eq. 7-8, 17-21).

:func:`gl.kernels.chunked.gate_loop_mh` runs the forward as one fused kernel; its gradient is
autodiff through the XLA chunked form (:func:`gl.chunked.gate_loop_chunked`), recomputed.
Here the gradient is Pallas kernels instead. Never run on a GPU: tested in the Pallas
interpreter only (``tests/test_experiments_pallas_mh_bwd.py``).

**The forward** (eq. 7-8, one head, steps ``t = 0 .. L-1``, ``a_t`` real, one per key row ``i``)::

    h_t = a_t ⊙ h_{t-1} + k_t v_tᵀ   (eq. 7; h_{-1} = h0, (d_k, d_v), a_t scales row i)
    y_t = h_tᵀ q_t                    (eq. 8; y_t[j] = sum_i q_t[i] h_t[i, j])

**The backward.** Let ``g_t = dL/dh_t``, the total cotangent of the state after step ``t``
(through ``y_t`` and every later step). ``h_t`` reaches ``y_t`` (eq. 8) and ``h_{t+1}`` (eq. 7), so

    (B1) g_t = a_{t+1} ⊙ g_{t+1} + q_t dy_tᵀ,    g_{L-1} = q_{L-1} dy_{L-1}ᵀ + dh_L,

a recurrence of the same form as eq. 7, run backwards in time, with ``q`` in the role of ``k``
and ``dy`` in that of ``v``. Differentiating eq. 7 and eq. 8 at step ``t``:

    (B2) dv_t = g_tᵀ k_t        (dv_t[j] = sum_i k_t[i] g_t[i, j])
    (B3) dk_t = g_t v_t         (dk_t[i] = sum_j g_t[i, j] v_t[j])
    (B4) dq_t = h_t dy_t = a_t ⊙ (h_{t-1} dy_t) + k_t (v_t · dy_t)
    (B5) da_t[i] = sum_j h_{t-1}[i, j] g_t[i, j]
    (B6) dh0 = a_0 ⊙ g_0.

(B5) needs the forward state *before* step ``t`` next to the cotangent *after* it. A shortcut
avoids that: from (B1), (B3), (B4) and eq. 7, ``a_t ⊙ da_t = sum_j (h_t ⊙ g_t)[:, j] - k_t ⊙ dk_t``,
and ``sum_j (h_t ⊙ g_t)[:, j]`` is a reverse cumulative sum of ``q ⊙ dq - k ⊙ dk`` (plus the
final state's term). That is the gradient of ``log a`` (fla's gates are ``g = log a``;
``benchmarks/peer_maps.py`` divides its gradient by ``a``). ``da`` from it is a quotient by
``a_t``: infinite or NaN at ``a = 0``, inexact at ``|a| = 1e-30``. It is not used here: every
decay below is a product of gates, as in the forward kernel.

**Chunks** (eq. 17-21). Cut time into chunks of ``C = 16`` steps, chunk-local steps
``n = 0 .. C-1``, and write ``D(n, m) = prod_{j=m+1..n} a_j`` per key row: eq. 17's relative
decay ``π_n π_m^{-1}`` as a product (eq. 19's division is what the kernels avoid). With
``h_in`` the state entering the chunk (eq. 7 once per chunk: ``h_{s+1} = T_s ⊙ h_s +
(k ⊙ R)ᵀ V``, ``T_s`` the chunk's total decay, ``R_m = D(C-1, m)``), the state before step
``n`` is

    (B7) h_{n-1} = P_{n-1} ⊙ h_in + K_nᵀ V,   P_{n-1} = D(n-1, -1),   K_n[m] = k_m ⊙ D(n-1, m)
         for m < n (rows m >= n zero),

eq. 19's decayed keys, masked as by eq. 20 and multiplied as in eq. 21, one
``(d_k, C) @ (C, block_v)`` matmul. ``K_n`` and ``P_{n-1}`` are
built by the forward kernel's step rule from the chunk's start, ``K ← a_j ⊙ K`` then row ``j``
becomes ``k_j``, for ``j = 0 .. n-1``: products only, so ``a = 0`` gives exact zeros.

**Kernel 1, the states** (:mod:`experiments.pallas_mh_states`): walks the chunks forwards from
``h0`` (in time segments, as the forward kernel) and writes every chunk's entering state
``h_in`` (``N = L / C`` states of ``(d_k, d_v)`` per ``(batch, head)``), the forward's state
update only, no outputs. This is the "small forward
pass" that saves what the backward cannot rebuild without quotients: ``h_in`` cannot be
recovered from ``h_out`` by dividing by ``T_s``. With ``state_stride = r`` it saves every
``r``-th chunk's state and the backward recomputes the others from it, up to ``r - 1`` chunk
updates each.

**Kernel 2, the backward** (:func:`_bwd_kernel`): one program per ``(batch, head, block of
block_v columns of v)``. It walks the chunks backwards, keeping in registers the
``(d_k, block_v)`` cotangent ``Γ`` that enters the chunk's last step from later chunks
(``dh_L`` at the start). Inside a chunk it walks the steps backwards: ``g_n = Γ + q_n dy_nᵀ``
(B1), ``h_{n-1}`` by (B7) from the saved ``h_in``, then (B2)-(B5) as row reductions of
``(d_k, block_v)`` tiles, and ``Γ ← a_n ⊙ g_n`` (B1 again) for step ``n - 1``; after the first
chunk ``Γ = dh0`` (B6). ``dv`` is complete per program; ``dq, dk, da`` sum over ``d_v``, so each
program writes its block's part and the wrapper sums the ``d_v / block_v`` parts.

**Segments.** ``B H`` programs are too few to fill a GPU (the forward's reason, eq. 13): time
is cut into ``G`` segments, one program each. (B1) summed over a chunk is
``Γ ← T ⊙ Γ + (q ⊙ P)ᵀ dY`` (``P_n = prod_{j<=n} a_j``), eq. 7 in reverse time with ``q, dy`` for
``k, v``; so :func:`cotangent_summary_kernel` gives each later segment's total decay ``A_s`` and the
cotangent ``U_s`` it sends back from ``Γ = 0``, and segment ``g`` starts from ``dh_L`` folded as
``Γ ← A_s ⊙ Γ + U_s`` for ``s = G-1 .. g+1`` (eq. 13). Kernel 1 uses the same ``G`` forwards.

**Cost.** Per step and program: one ``(d_k, 16) @ (16, block_v)`` matmul (B7) and about six
elementwise passes over a ``(d_k, block_v)`` tile (B1-B5); rebuilding ``K_n`` is ``n`` row
updates of a ``(16, d_k)`` tile, ``C (C - 1) / 2 = 120`` per chunk. The matmuls are ``C = 16``
times the forward's state update. Bytes (float32, per step and head, ``d = d_k = d_v``,
``J = d_v / block_v``): kernel 1 reads ``k, v, a`` (``12 d``, ``J`` times) and writes the
states (``4 d² / 16``); kernel 2 reads ``q, k, v, a, dy`` (``20 d``, ``J`` times) and the states
(``4 d² / 16``), writes ``dv`` (``4 d``) and ``dq, dk, da`` (``12 d`` per block of ``v``, summed
by XLA afterwards when ``J > 1``). The rows that rebuild ``K_n`` are re-read from the chunk's
``16 d`` bytes, counted once (L1/L2 on a GPU: an assumption). At ``d = 64, J = 1``:
``768 + 1024 + 1280 + 1024 + 256 + 768 = 5120`` bytes per step and head, 80 per element of
``y``; the chunk states are 2048 of them (512 with ``state_stride = 4``). Reading five
inputs and writing four gradients once is ``36 d = 2304``. With ``G`` segments the two summary
kernels read ``q, a, dy`` and ``k, v, a`` again for ``G - 1`` of them (``12 d (G-1) / G``
each). ``experiments/NOTES.md`` compares the XLA backward.

Scope: real gates (``a`` float32, or float64 in the interpreter), one per key (``(B, L, H, d_k)``)
or one per head (``(B, L, H, 1)``, broadcast, ``da`` summed back). Complex ``a`` or ``h0``:
``NotImplementedError``. ``d_k``, ``block_v`` powers of two from 16 (Triton's matmul tiles).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

import gl.chunked
import gl.kernels.chunked

from .pallas_mh_states import CHUNK, advance, chunk_states, decayed_keys, dot, full, pad, params, row

__all__ = ["gate_loop_mh_bwd_pallas", "gate_loop_mh_fused"]


def cotangent_entering(dhL_ref, A_ref, U_ref, b, hd, seg, vs, *, n_segments, dt):
    """Inside a backward kernel: the cotangent ``Γ`` entering segment ``seg`` from the right,
    ``dh_L`` folded through the later segments' summaries, ``Γ ← A_s ⊙ Γ + U_s`` for
    ``s = G-1 .. seg+1`` (eq. 13 reversed); ``(d_k, block_v)``."""
    d_k = dhL_ref.shape[-2]
    gam = plgpu.load(dhL_ref.at[b, hd, full(d_k), vs]).astype(dt)
    if n_segments == 1:
        return gam

    def fold(i, gam):
        s = n_segments - 1 - i
        A = plgpu.load(A_ref.at[b, hd, s, full(d_k)]).astype(dt)
        return A.reshape(d_k, 1) * gam + plgpu.load(U_ref.at[b, hd, s, full(d_k), vs]).astype(dt)
    return lax.fori_loop(jnp.int32(0), n_segments - 1 - seg, fold, gam)


def cotangent_summary_kernel(q_ref, a_ref, dy_ref, A_ref, U_ref, *, n_chunks, C, block_v, n_vblocks):
    """Segment ``s >= 1``'s two leaves of eq. 13 in reverse time: its total decay ``A_s`` and
    the cotangent ``U_s`` it sends into segment ``s - 1`` from ``Γ = 0``. Per chunk, (B1) summed
    over the chunk: ``Γ ← T ⊙ Γ + (q ⊙ P)ᵀ dY``, ``P_n = prod_{j<=n} a_j`` from the chunk's start."""
    b, hd = pl.program_id(0), pl.program_id(1)
    j, s = pl.program_id(2) % n_vblocks, pl.program_id(2) // n_vblocks + 1
    vs = pl.ds(j * block_v, block_v)
    d_k, dt = q_ref.shape[-1], U_ref.dtype
    rows = lax.broadcasted_iota(jnp.int32, (C, d_k), 0)

    def chunk(i, st):
        gam, A = st
        n0 = ((s + 1) * n_chunks - 1 - i) * C

        def step(n, st):
            QP, P = st
            P = P * row(a_ref, b, n0 + n, hd).astype(dt)
            return jnp.where(rows == n, row(q_ref, b, n0 + n, hd).astype(dt) * P, QP), P

        QP, T = lax.fori_loop(jnp.int32(0), jnp.int32(C), step, (jnp.zeros((C, d_k), dt), jnp.ones((1, d_k), dt)))
        dY = plgpu.load(dy_ref.at[b, pl.ds(n0, C), hd, vs]).astype(dt)
        return T.reshape(d_k, 1) * gam + dot(QP, dY, trans_a=True), A * T

    init = (jnp.zeros((d_k, block_v), dt), jnp.ones((1, d_k), dt))
    gam, A = lax.fori_loop(jnp.int32(0), jnp.int32(n_chunks), chunk, init)
    plgpu.store(A_ref.at[b, hd, s, full(d_k)], A[0])
    plgpu.store(U_ref.at[b, hd, s, full(d_k), vs], gam)


def _bwd_kernel(q_ref, k_ref, v_ref, a_ref, dy_ref, hs_ref, dhL_ref, *refs, n_chunks, C, block_v,
                n_vblocks, n_segments, stride):
    """Kernel 2 (module docstring): segment ``g``'s chunks and steps backwards, ``Γ`` in registers,
    starting from ``dh_L`` folded with the summaries of the later segments (eq. 13, reversed)."""
    A_ref, U_ref = refs[:2] if n_segments > 1 else (None, None)
    dq_ref, dk_ref, dv_ref, da_ref, dh0_ref = refs[-5:]
    b, hd = pl.program_id(0), pl.program_id(1)
    j, seg = pl.program_id(2) % n_vblocks, pl.program_id(2) // n_vblocks
    vs = pl.ds(j * block_v, block_v)
    d_k, dt = q_ref.shape[-1], hs_ref.dtype
    rows_k = lax.broadcasted_iota(jnp.int32, (C, d_k), 0)
    rows_v = lax.broadcasted_iota(jnp.int32, (C, block_v), 0)

    def chunk(i, gam):
        c = (seg + 1) * n_chunks - 1 - i
        n0 = c * C
        h_in = plgpu.load(hs_ref.at[b, hd, c // stride, full(d_k), vs]).astype(dt)
        if stride > 1:  # from the saved state of chunk stride * (c // stride) to chunk c
            adv = lambda c1, h: advance(k_ref, v_ref, a_ref, b, hd, vs, c1, h, C)[0]
            h_in = lax.fori_loop(c - c % stride, c, adv, h_in)
        V = plgpu.load(v_ref.at[b, pl.ds(n0, C), hd, vs]).astype(dt)

        def step(s, st):
            gam, dQ, dK, dV, dA = st
            n = C - 1 - s
            t = n0 + n
            q_n, k_n, a_n = (row(r, b, t, hd).astype(dt) for r in (q_ref, k_ref, a_ref))
            v_n, dy_n = (row(r, b, t, hd, vs).astype(dt) for r in (v_ref, dy_ref))
            g = gam + q_n.reshape(d_k, 1) * dy_n  # (B1): the cotangent after step n
            K, P = decayed_keys(k_ref, a_ref, b, hd, n0, n, C, d_k, dt)
            h_prev = P.reshape(d_k, 1) * h_in + dot(K, V, trans_a=True)  # (B7)
            put = lambda tile, rows, x: jnp.where(rows == n, x, tile)
            dV = put(dV, rows_v, jnp.sum(g * k_n.reshape(d_k, 1), axis=0, keepdims=True))  # (B2)
            dK = put(dK, rows_k, jnp.sum(g * v_n, axis=1, keepdims=True).reshape(1, d_k))  # (B3)
            hdy = jnp.sum(h_prev * dy_n, axis=1, keepdims=True).reshape(1, d_k)
            dQ = put(dQ, rows_k, a_n * hdy + k_n * jnp.sum(v_n * dy_n))  # (B4)
            dA = put(dA, rows_k, jnp.sum(h_prev * g, axis=1, keepdims=True).reshape(1, d_k))  # (B5)
            return a_n.reshape(d_k, 1) * g, dQ, dK, dV, dA  # Γ for step n - 1 (B1)

        zk, zv = jnp.zeros((C, d_k), dt), jnp.zeros((C, block_v), dt)
        gam, dQ, dK, dV, dA = lax.fori_loop(jnp.int32(0), jnp.int32(C), step, (gam, zk, zk, zv, zk))
        ts = pl.ds(n0, C)
        for ref, x in ((dq_ref, dQ), (dk_ref, dK), (da_ref, dA)):
            plgpu.store(ref.at[j, b, ts, hd, full(d_k)], x.astype(ref.dtype))
        plgpu.store(dv_ref.at[b, ts, hd, vs], dV.astype(dv_ref.dtype))
        return gam

    gam = cotangent_entering(dhL_ref, A_ref, U_ref, b, hd, seg, vs, n_segments=n_segments, dt=dt)
    gam = lax.fori_loop(jnp.int32(0), jnp.int32(n_chunks), chunk, gam)

    @pl.when(seg == 0)
    def _():
        plgpu.store(dh0_ref.at[b, hd, full(d_k), vs], gam)  # (B6): a_0 ⊙ g_0 of the first chunk


def check_inputs(q, k, v, a, h0, block_v, name):
    """Validated ``(a per key, block_v, per_head)``; clear errors naming the argument."""
    if q.ndim != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3] or v.ndim != 4:
        raise ValueError(f"{name}: q, k: expected (B, L, H, d_k) and v (B, L, H, d_v) with the same "
                         f"B, L, H, got q {q.shape}, k {k.shape}, v {v.shape}")
    if jnp.iscomplexobj(a) or (h0 is not None and jnp.iscomplexobj(h0)):
        raise NotImplementedError(f"{name}: complex a or h0: only real gates have a Pallas backward "
                                  f"here (got a {a.dtype}, h0 {None if h0 is None else h0.dtype}); "
                                  f"use gl.kernels.chunked.gate_loop_mh, whose backward is autodiff")
    if any(jnp.iscomplexobj(x) for x in (q, k, v)):
        raise ValueError(f"{name}: q, k, v: expected real arrays")
    if a.shape not in (q.shape, q.shape[:3] + (1,)):
        raise ValueError(f"{name}: a: expected {q.shape} (per key) or {q.shape[:3] + (1,)} "
                         f"(per head), got {a.shape}")
    B, L, H, d_k = q.shape
    d_v = v.shape[-1]
    if h0 is not None and h0.shape != (B, H, d_k, d_v):
        raise ValueError(f"{name}: h0: expected {(B, H, d_k, d_v)}, got {h0.shape}")
    if not gl.kernels.chunked.supported(d_k, d_v):
        raise ValueError(f"{name}: expected d_k and d_v powers of two >= 16, got d_k = {d_k}, d_v = {d_v}")
    block_v = block_v or min(d_v, 64)
    if block_v < 16 or block_v & (block_v - 1) or d_v % block_v:
        raise ValueError(f"{name}: block_v: expected a power of two >= 16 dividing d_v = {d_v}, got {block_v}")
    return jnp.broadcast_to(a, q.shape), block_v, a.shape != q.shape


@functools.partial(jax.jit, static_argnames=("block_v", "interpret", "num_warps", "segments", "stride"))
def _bwd(q, k, v, a, h0, dy, dhL, *, block_v, interpret, num_warps, segments, stride):
    B, L, H, d_k = q.shape
    d_v, dt = v.shape[-1], h0.dtype
    nJ, G = d_v // block_v, segments
    (q, k, v, dy, a), hs, summ, Ns, Lp = states_and_summaries(
        q, k, v, a, h0, dy, block_v=block_v, interpret=interpret, num_warps=num_warps,
        segments=segments, stride=stride, name="gl_mh_bwd_summary")
    kern = functools.partial(_bwd_kernel, n_chunks=Ns, C=CHUNK, block_v=block_v, n_vblocks=nJ,
                             n_segments=G, stride=stride)
    part = jax.ShapeDtypeStruct((nJ, B, Lp, H, d_k), dt)
    out = (part, part, jax.ShapeDtypeStruct((B, Lp, H, d_v), dt), part,
           jax.ShapeDtypeStruct((B, H, d_k, d_v), dt))
    dq, dk, dv, da, dh0 = pl.pallas_call(kern, out_shape=out, grid=(B, H, nJ * G), name="gl_mh_bwd",
                                         **params(interpret, num_warps))(q, k, v, a, dy, hs, dhL, *summ)
    cut = lambda x: x[:, :L]
    return cut(dq.sum(0)), cut(dk.sum(0)), cut(dv), cut(da.sum(0)), dh0


def states_and_summaries(q, k, v, a, h0, dy, *, block_v, interpret, num_warps, segments, stride,
                         name):
    """What every backward kernel reads besides the inputs: kernel 1's saved chunk states and,
    with ``segments > 1``, the cotangent summaries of segments 1 .. G-1 (segment 0 sends its
    cotangent into ``h0``: that is ``dh0``). Returns ``((q, k, v, dy, a) padded to Lp steps,
    states, summaries (a list), chunks per segment Ns, Lp)``."""
    B, L, H, d_k = q.shape
    d_v, dt = v.shape[-1], h0.dtype
    nJ, G = d_v // block_v, segments
    Ns = -(-L // (G * CHUNK))  # chunks per segment
    Lp = G * Ns * CHUNK
    hs, _ = chunk_states(k, v, a, h0, block_v=block_v, interpret=interpret, num_warps=num_warps,
                         n_chunks=G * Ns, stride=stride, segments=G)
    q, k, v, dy, a = pad(q, Lp), pad(k, Lp), pad(v, Lp), pad(dy, Lp), pad(a, Lp, 1.0)
    summ = []
    if G > 1:
        kern = functools.partial(cotangent_summary_kernel, n_chunks=Ns, C=CHUNK, block_v=block_v, n_vblocks=nJ)
        out = (jax.ShapeDtypeStruct((B, H, G, d_k), dt), jax.ShapeDtypeStruct((B, H, G, d_k, d_v), dt))
        summ = [*pl.pallas_call(kern, out_shape=out, grid=(B, H, nJ * (G - 1)), name=name,
                                **params(interpret, num_warps))(q, a, dy)]
    return (q, k, v, dy, a), hs, summ, Ns, Lp


def gate_loop_mh_bwd_pallas(q, k, v, a, h0, dy, dhL=None, *, block_v=None, interpret=False,
                            num_warps=4, segments=None, state_stride=1):
    """``(dq, dk, dv, da, dh0)`` of ``(y, h_L) = gate_loop(q, k, v, a, h0)`` for cotangents
    ``dy`` of ``y`` and ``dhL`` of ``h_L`` (None: zero), by the kernels (module docstring).

    Args:
      q, k: ``(B, L, H, d_k)``; v, dy: ``(B, L, H, d_v)``; a: ``(B, L, H, d_k)`` or
        ``(B, L, H, 1)``, real; h0, dhL: ``(B, H, d_k, d_v)`` or None (zeros). All real, of one
        dtype: float32, or float64 with ``interpret=True``.
      block_v: columns of ``v`` per program (default ``min(d_v, 64)``); interpret: run in the
        Pallas interpreter (CPU); num_warps: per program on a GPU.
      segments: time segments walked by separate programs (None: those of
        :func:`gl.kernels.chunked.plan` for the forward kernel; at least 256 steps each).
      state_stride: kernel 1 saves the state entering every ``state_stride``-th chunk only; the
        backward recomputes the others from it (bytes of the states / ``state_stride``, at most
        ``state_stride - 1`` extra chunk updates per chunk).

    Raises:
      NotImplementedError: complex ``a`` or ``h0``.
      ValueError: shapes that do not match, ``d_k``, ``d_v`` or ``block_v`` not powers of two >= 16.
    """
    name = "gate_loop_mh_bwd_pallas"
    args, per_head, kw = check_bwd_inputs(q, k, v, a, h0, dy, dhL, block_v, segments, interpret, name)
    if int(state_stride) != state_stride or state_stride < 1:
        raise ValueError(f"{name}: state_stride: expected a positive integer, got {state_stride}")
    dq, dk, dv, da, dh0 = _bwd(*args, stride=int(state_stride), num_warps=int(num_warps), **kw)
    return dq, dk, dv, (da.sum(-1, keepdims=True) if per_head else da), dh0


def check_bwd_inputs(q, k, v, a, h0, dy, dhL, block_v, segments, interpret, name):
    """The checks and defaults of a backward's arguments (:func:`gate_loop_mh_bwd_pallas`):
    ``((q, k, v, a, h0, dy, dhL) in one dtype, a broadcast to q's shape; per_head; the keyword
    arguments block_v, segments, interpret)``."""
    a_full, block_v, per_head = check_inputs(q, k, v, a, h0, block_v, name)
    B, L, H, d_k = q.shape
    d_v = v.shape[-1]
    if dy.shape != v.shape:
        raise ValueError(f"{name}: dy: expected the shape of y, {v.shape}, got {dy.shape}")
    dt = jnp.result_type(q, k, v, a, dy, *(x for x in (h0, dhL) if x is not None))
    if dt not in (jnp.float32, jnp.float64) or (dt == jnp.float64 and not interpret):
        raise ValueError(f"{name}: expected float32 inputs (float64 only with interpret=True), got {dt}")
    zero = jnp.zeros((B, H, d_k, d_v), dt)
    h0 = zero if h0 is None else h0.astype(dt)
    dhL = zero if dhL is None else dhL.astype(dt)
    if dhL.shape != zero.shape:
        raise ValueError(f"{name}: dhL: expected {zero.shape}, got {dhL.shape}")
    if segments is None:
        segments = gl.kernels.chunked.plan(B, H, d_v // block_v, L)[0]
    if int(segments) != segments or not 1 <= segments <= max(1, -(-L // CHUNK)):
        raise ValueError(f"{name}: segments: expected an integer from 1 to the {-(-L // CHUNK)} "
                         f"chunks, got {segments}")
    args = tuple(x.astype(dt) for x in (q, k, v, a_full)) + (h0, dy.astype(dt), dhL)
    return args, per_head, dict(block_v=block_v, segments=int(segments), interpret=bool(interpret))


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _fused(q, k, v, a, h0, interpret, block_v):
    if q.dtype == jnp.float64:  # gate_loop_mh is float32 only; float64 (tests) runs gl.chunked
        return gl.chunked.gate_loop_chunked(q, k, v, a, h0)
    return gl.kernels.chunked.gate_loop_mh(q, k, v, a, h0, interpret=interpret, block_v=block_v)


def _fused_fwd(q, k, v, a, h0, interpret, block_v):
    return _fused(q, k, v, a, h0, interpret, block_v), (q, k, v, a, h0)


def _fused_bwd(interpret, block_v, res, cts):
    dy, dhL = cts
    return gate_loop_mh_bwd_pallas(*res, dy, dhL, block_v=block_v, interpret=interpret)


_fused.defvjp(_fused_fwd, _fused_bwd)


def gate_loop_mh_fused(q, k, v, a, h0=None, *, interpret=False, block_v=None):
    """``(y, h_L)`` by :func:`gl.kernels.chunked.gate_loop_mh` (float32; float64 inputs, for
    tests, by :func:`gl.chunked.gate_loop_chunked`), its gradient by
    :func:`gate_loop_mh_bwd_pallas`. Real ``a`` only (``NotImplementedError`` otherwise)."""
    _, block_v, _ = check_inputs(q, k, v, a, h0, block_v, "gate_loop_mh_fused")
    dt = jnp.result_type(q, k, v, a, *(() if h0 is None else (h0,)))
    if h0 is None:
        h0 = jnp.zeros(q.shape[:1] + q.shape[2:] + v.shape[-1:], dt)
    return _fused(q.astype(dt), k.astype(dt), v.astype(dt), a.astype(dt), h0.astype(dt),
                  bool(interpret), block_v)
