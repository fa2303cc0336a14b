"""A matmul-form Pallas backward for the chunked multi-head GateLoop, real gates (eq. 7-8, 17-21).

:mod:`experiments.pallas_mh_bwd` walks every chunk step by step with ``(d_k, block_v)`` tiles
live across the loop (``g_n``, ``h_{n-1}``, ``Γ``, ``h_in``); on a GPU that spilled and lost to
XLA's autodiff backward (``experiments/NOTES.md``). Here the ``d_v`` contractions of a chunk are
matrix products done once per chunk, and the sequential work inside a chunk touches only
``(C, d_k)`` and ``(C, C)`` tiles; the one ``(d_k, block_v)`` tile carried from chunk to chunk is
the cotangent ``Γ``. Tested in the Pallas interpreter (``tests/test_experiments_pallas_mh_bwd_mm.py``);
timed on an H100 at (16, 4096, 8, 64) and an H200 at (8, 16384, 8, 128) (``experiments/NOTES.md``).

**Notation** (one head, one chunk of ``C = 16`` steps ``n = 0 .. C-1``; numbers (B1)-(B7) as in
:mod:`experiments.pallas_mh_bwd`). Forward: ``h_n = a_n ⊙ h_{n-1} + k_n v_nᵀ`` (eq. 7),
``y_n = h_nᵀ q_n`` (eq. 8). ``D(m, n) = prod_{j=n+1..m} a_j`` per key row (eq. 17's
``π_m π_n^{-1}`` as a product, never eq. 19's quotient). ``h_in``: the state entering the
chunk (saved by :func:`experiments.pallas_mh_states.chunk_states`), ``Γ``: the cotangent the
chunk's last step receives from later chunks (``dh_L`` for the last chunk). Unrolling (B1) over
the chunk, and eq. 7 as in (B7):

    (M1) g_n     = R_n ⊙ Γ + sum_{m>=n} D(m, n) ⊙ q_m dy_mᵀ,        R_n = D(C-1, n)
    (M2) h_{n-1} = P_{n-1} ⊙ h_in + sum_{p<n} D(n-1, p) ⊙ k_p v_pᵀ,  P_n = D(n, -1)

Put (M1), (M2) into (B2)-(B5). With ``W = dY Vᵀ`` (``W[m, p] = dy_m · v_p``, C x C), the forward's
scores ``S[m, n] = q_m · (D(m, n) ⊙ k_n)`` (eq. 20-21, ``m >= n``) and the four ``d_v``
contractions done as matmuls (``HdY = dY h_inᵀ``, ``VG = V Γᵀ``, ``hG = rowsum(h_in ⊙ Γ)``, ``W``):

    (M3) dV   = Sᵀ dY + (k ⊙ R) Γ                                                     (B2)
    (M4) dk_n = R_n ⊙ VG_n + sum_{m>=n} W[m, n] D(m, n) ⊙ q_m                          (B3)
    (M5) dq_n = P_n ⊙ HdY_n + sum_{p<=n} W[n, p] D(n, p) ⊙ k_p                          (B4)
    (M6) da_n = P_{n-1} R_n ⊙ hG + P_{n-1} ⊙ sum_{m>=n} D(m, n) ⊙ q_m ⊙ HdY_m
              + R_n ⊙ sum_{p<n} D(n-1, p) ⊙ k_p ⊙ VG_p
              + sum_{p<n<=m} W[m, p] (q_m ⊙ D(m, n)) ⊙ (k_p ⊙ D(n-1, p))                  (B5)
    (M7) Γ ← T ⊙ Γ + (q ⊙ P)ᵀ dY  (the cotangent sent to the previous chunk, T = P_{C-1}; B1, B6)

**Sub-blocks** (as the forward kernel, :mod:`gl.kernels.chunked`): the chunk is cut into
``blocks`` sub-blocks ``N`` of ``s = C / blocks`` steps. Relative to block ``N`` write ``H_N``,
``Γ_N`` for the state entering it and the cotangent leaving it, ``P^w``, ``R^w`` for the decays
from the block's start (inclusive) and to its end (exclusive), ``T_l`` for block totals. Then
(M3)-(M6) hold inside each block with ``H_N, Γ_N`` in place of ``h_in, Γ``; the cross-block
parts enter only through

    (M8)  HY_N, row m: H_N dy_m = (prod_{l<N} T_l) ⊙ HdY_m + (W Kd_N)_m,
          Kd_N[p] = k_p ⊙ D(b_N - 1, p) = (k ⊙ R^w)_p ⊙ prod_{blk(p)<l<N} T_l   (p before N)
    (M9)  GV_N: row p: Γ_N v_p = (prod_{l>N} T_l) ⊙ VG_p + (Wᵀ Qd_N)_p,
          Qd_N[m] = q_m ⊙ D(m, e_N) = (q ⊙ P^w)_m ⊙ prod_{N<l<blk(m)} T_l       (m after N)
    (M10) hG_N = rowsum(H_N ⊙ Γ_N) = prod_{l>N} T_l ⊙ (prod_{l<N} T_l ⊙ hG + colsum(Kd_N ⊙ VG))
                 + colsum(Qd_N ⊙ HY_N)
    (M11) S[m, n] = Qd_N[m] · (k ⊙ R^w)_n  for n in N, m after N (the forward's masked matmuls)

three ``(C, C) x (C, d_k)`` products per block (``b_N``, ``e_N``: the block's first and last
step), and no ``(d_k, block_v)`` tile per block. Inside a
block the pair decays ``D`` are built by the forward's step rule, products only: walking the
block's steps ``t`` (all blocks side by side), ``Kx[p] = k_p ⊙ D(n-1, p)`` (``p < n``) grows by
``Kx ← a_n ⊙ Kx``, row ``n`` = ``k_n``; ``Qd[m] = q_m ⊙ D(m, n)`` (``m >= n``) is rebuilt from the
block's end each step (``s - t`` row updates). The in-block sums of (M4)-(M6) are then matmuls
``W_blk Ki`` (M5), ``W_blkᵀ Qd`` (M4), ``K Qdᵀ`` (S), ``W_blk Kx`` (M6's pairs) and ``E_t X``
(M6), ``E_t`` the 0/1 matrix that sums each block's rows into its row ``n`` (``W_blk``: ``W``
inside the blocks). No quotient anywhere: ``a = 0`` and ``|a| = 1e-30`` are exact (tested).

**Kernels.** Kernel 1 is :func:`experiments.pallas_mh_states.chunk_states` (the entering state of
every chunk). With ``G > 1`` time segments the reverse-time summary kernel of
:mod:`experiments.pallas_mh_bwd` gives each later segment's ``(A_s, U_s)``. :func:`_mm_kernel`: one
program per ``(batch, head, block of v, segment)`` walks its chunks backwards carrying ``Γ``.
Shapes: ``q, k, a`` ``(B, L, H, d_k)``; ``v, dy`` ``(B, L, H, d_v)``; ``h0, dh_L`` ``(B, H, d_k, d_v)``;
``dq, dk, da`` are written per block of ``v`` ``(d_v / block_v, B, Lp, H, d_k)`` and summed by XLA.

**Cost** (per step and program, ``d_k = d``, ``block_v = w``, ``blocks = b``, ``s = 16 / b``;
FLOP of the in-kernel matmuls, 2 per multiply-add, counted from the code): per chunk ``W``, ``HdY``,
``VG``, the ``Γ`` update (M7), ``(k ⊙ R) Γ`` and ``Sᵀ dY`` are ``128 d w + 1024 w``; the sub-block
edges (M8)-(M11) ``3 (b - 1)`` products of ``512 d``; each of the ``s`` steps six of ``512 d``
(``W_blk Ki``, ``W_blkᵀ Qd``, ``K Qdᵀ``, ``W_blk Kx``, two ``E_t X``). Per step:
``8 d w + 64 w + 96 (b - 1) d + 192 s d``: at d = w = 64, 104 kFLOP with b = 4 or 8, 141 k with
b = 2, 233 k with b = 1 (16 k of the 104 k are the 0/1 ``E_t`` products); at d = 128,
w = 64, b = 4: 205 kFLOP per program, two programs per head. Elementwise work: about twenty
``(16, d)`` tile operations per step of a block walk plus the ``Qd`` rebuild (``s (s - 1) / 2``
row updates per walk), under 15 kFLOP per step at d = 64. **Bytes** per step and head (float32,
``d_k = d_v = d``, ``J = d / w`` programs per head): kernel 1 reads ``k, a`` (``8 d``, ``J`` times)
and ``v`` (``4 d``) and writes the states (``d² / 4``); this kernel reads ``q, k, a`` (``12 d``,
``J`` times), ``v, dy`` (``8 d``) and the states (``d² / 4``), writes ``dv`` (``4 d``) and ``dq, dk,
da`` (``12 d``, ``J`` times; XLA sums the ``J`` parts). At d = 64, J = 1: 5120 B per step and head,
as the per-step backward (only the registers changed), so about 20 FLOP per byte; at d = 128,
w = 64: about 18.4 KB plus 4.6 KB for the sums of the parts, about 18 FLOP per byte. The rows that
the step walks load again (``a, q, k``) are counted once: L1/L2 hits on a GPU, an assumption.

**Measured** (one H100, two runs, ``experiments/NOTES.md``): Triton compiles it; at
(16, 4096, 8, 64) it takes 26.7 ms with ``"fp32"``, 9.3 with ``"tf32x3"`` and 8.9 with
``"tf32x3"`` and ``blocks=2``, against 9.9 ms for autodiff through :mod:`gl.chunked`.
At (8, 16384, 8, 128) on an H200 it loses: 101 ms at best (``"tf32x3"``, ``blocks=2``)
against 34.6 ms. **Not known**: its time with ``"bf16x3"``; a profile; register use (the step loop holds about
ten ``(16, d_k)`` tiles, three ``(16, 16)``, and ``Γ``'s update, ``dY``; nothing of
``(d_k, block_v)`` but that, which is the point, unmeasured); the cost of the dynamic-length ``Qd``
rebuild loop and of the per-row ``a, q, k`` reloads; whether :func:`gl.kernels.chunked.plan`'s
segments suit this kernel; the best ``blocks`` and ``num_warps`` (defaults 4 and 8 are guesses);
the accuracy of ``"bf16x3"`` here (``"tf32x3"``: 6.5e-7 of the gradients' scale on the H100; the
interpreter runs IEEE only). The ``E_t``
products spend 16 % of the FLOP on a 0/1 matrix; a segmented row sum may be cheaper. Unlike
:mod:`experiments.pallas_mh_bwd`, a NaN in ``dy_t`` reaches earlier-in-chunk rows' products with
exact zeros (``0 · NaN``), so only finite changes of ``dy_t`` are causal bit for bit (tested).
Scope: real gates, per key ``(B, L, H, d_k)`` or per head ``(B, L, H, 1)`` (broadcast, ``da``
summed back); complex ``a``/``h0``: ``NotImplementedError``; ``d_k``, ``block_v`` powers of two
>= 16; float32 (float64 with ``interpret=True``, for tests).
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

from .pallas_mh_bwd import check_bwd_inputs, check_inputs, cotangent_entering, states_and_summaries
from .pallas_mh_states import CHUNK, full, params, row

__all__ = ["gate_loop_mh_bwd_mm", "gate_loop_mh_mm"]


def _mm_prec(x, y, ta=False, tb=False, precision=lax.Precision.HIGHEST):
    """``x @ y`` (either transposed) in ``x``'s dtype; IEEE precision unless ``precision`` says
    otherwise (a ``lax`` precision or algorithm preset, :data:`gl.kernels.chunked.PRECISIONS`)."""
    dims = (((0 if ta else 1,), (1 if tb else 0,)), ((), ()))
    return lax.dot_general(x, y, dims, precision=precision, preferred_element_type=x.dtype)


def _mm_kernel(q_ref, k_ref, v_ref, a_ref, dy_ref, hs_ref, dhL_ref, *refs, n_chunks, C, block_v,
               n_vblocks, n_segments, blocks, precision):
    """One program: segment ``seg``'s chunks backwards, ``Γ`` carried (module docstring)."""
    A_ref, U_ref = refs[:2] if n_segments > 1 else (None, None)
    dq_ref, dk_ref, dv_ref, da_ref, dh0_ref = refs[-5:]
    b, hd = pl.program_id(0), pl.program_id(1)
    j, seg = pl.program_id(2) % n_vblocks, pl.program_id(2) // n_vblocks
    vs = pl.ds(j * block_v, block_v)
    d_k, dt = q_ref.shape[-1], hs_ref.dtype
    s = C // blocks
    rows = lax.broadcasted_iota(jnp.int32, (C, d_k), 0)
    blk, loc = rows // s, rows % s
    ri, ci = lax.broadcasted_iota(jnp.int32, (C, C), 0), lax.broadcasted_iota(jnp.int32, (C, C), 1)
    same = (ri // s) == (ci // s)  # (C, C): row and column in one sub-block
    zk = jnp.zeros((C, d_k), dt)
    mm = functools.partial(_mm_prec, precision=precision)
    one, zero1 = jnp.ones((1, d_k), dt), jnp.zeros((1, d_k), dt)

    def per_block(ref, n0, t):
        """(C, d_k): rows of sub-block i hold row ``i s + t`` of the chunk at ``n0``."""
        x = row(ref, b, n0 + t, hd).astype(dt)
        out = jnp.broadcast_to(x, (C, d_k))
        for i in range(1, blocks):
            out = jnp.where(blk == i, row(ref, b, n0 + i * s + t, hd).astype(dt), out)
        return out

    def by_block(values):
        out = jnp.broadcast_to(values[0], (C, d_k))
        for i in range(1, blocks):
            out = jnp.where(blk == i, values[i], out)
        return out

    def prod(ts):
        out = one
        for x in ts:
            out = out * x
        return out

    def chunk(i, gam):
        c = (seg + 1) * n_chunks - 1 - i
        n0 = c * C
        ts = pl.ds(n0, C)
        h_in = plgpu.load(hs_ref.at[b, hd, c, full(d_k), vs]).astype(dt)
        Q = plgpu.load(q_ref.at[b, ts, hd, full(d_k)]).astype(dt)
        K = plgpu.load(k_ref.at[b, ts, hd, full(d_k)]).astype(dt)
        V = plgpu.load(v_ref.at[b, ts, hd, vs]).astype(dt)
        dY = plgpu.load(dy_ref.at[b, ts, hd, vs]).astype(dt)

        def decays(t, st):  # in-block decays by the step rule: R^w, P^w (incl./excl.), products only
            Rw, P, PI, PX = st
            at = per_block(a_ref, n0, t)
            here = loc == t
            Rw = jnp.where(here, 1.0, Rw * at)
            PX = jnp.where(here, P, PX)
            P = P * at
            return Rw, P, jnp.where(here, P, PI), PX

        Rw, Pt, PI, PX = lax.fori_loop(jnp.int32(0), jnp.int32(s), decays, (zk, jnp.ones((C, d_k), dt), zk, zk))
        T = [jnp.sum(jnp.where(rows == l * s, Pt, 0.0), axis=0, keepdims=True) for l in range(blocks)]
        KRw, QPw = K * Rw, Q * PI
        before = [prod(T[:n]) for n in range(blocks)]
        after = [prod(T[n + 1:]) for n in range(blocks)]
        W = mm(dY, V, tb=True)  # W[m, p] = dy_m . v_p
        HdY = mm(dY, h_in, tb=True)  # row m: h_in dy_m
        VG = mm(V, gam, tb=True)  # row p: Γ v_p
        hG = jnp.sum(h_in * gam, axis=1).reshape(1, d_k)
        # (M7) and the Γ part of (M3) before the in-block loop: Γ is not live across it
        QP, KR = QPw * by_block(before), KRw * by_block(after)
        gam_new = prod(T).reshape(d_k, 1) * gam + mm(QP, dY, ta=True)
        dV = mm(KR, gam)
        # (M8)-(M11): the states and cotangents at the sub-block edges, as (C, d_k) tiles
        HY, GV = by_block(before) * HdY, by_block(after) * VG
        hGt = by_block([after[n] * before[n] * hG for n in range(blocks)])
        St = jnp.zeros((C, C), dt)  # Sᵀ: St[n, m] = S[m, n]
        for N in range(blocks if blocks > 1 else 0):  # block 0 has no keys before it, the last no queries after
            inN, HYN, hGN = blk == N, HdY, after[N] * before[N] * hG
            if N > 0:  # (M8) and the key part of (M10)
                KdN = KRw * by_block([prod(T[J + 1:N]) if J < N else zero1 for J in range(blocks)])
                HYN = before[N] * HdY + mm(W, KdN)
                HY = jnp.where(inN, HYN, HY)
                hGN = hGN + after[N] * jnp.sum(KdN * VG, axis=0, keepdims=True)
            if N < blocks - 1:  # (M9), the query part of (M10), (M11)
                QdN = QPw * by_block([prod(T[N + 1:I]) if I > N else zero1 for I in range(blocks)])
                GV = jnp.where(inN, after[N] * VG + mm(W, QdN, ta=True), GV)
                hGN = hGN + jnp.sum(QdN * HYN, axis=0, keepdims=True)
                St = jnp.where((ri // s) == N, mm(KRw, QdN, tb=True), St)
            hGt = jnp.where(inN, hGN, hGt)
        Wb = jnp.where(same & (ri >= ci), W, 0.0)  # in-block (causal: implied by the zero rows of Ki, Kx, Qd)

        def step(t, st):  # step t of every sub-block: rows n = i s + t
            Kx, Pb, dQ, dK, dA, St = st  # Pb: P^w_{n-1} on every row of the block
            here = loc == t
            at, kt = per_block(a_ref, n0, t), per_block(k_ref, n0, t)
            Ki = jnp.where(here, kt, at * Kx)  # k_p D(n, p), p <= n

            def rebuild(u1, Qd):  # q_m D(m, n), m >= n: from the block's end, u = s-2 .. t
                u = s - 2 - u1
                return jnp.where(loc == u, per_block(q_ref, n0, u), Qd * per_block(a_ref, n0, u + 1))

            Qd = jnp.where(loc == s - 1, per_block(q_ref, n0, s - 1), 0.0)
            Qd = lax.fori_loop(jnp.int32(0), s - 1 - t, rebuild, Qd)
            sel = ((ri % s) == t) & same  # (C, C): rows n of step t, columns of their block
            Et = sel.astype(dt)
            dQ = jnp.where(here, dQ + mm(Wb, Ki), dQ)  # (M5) in-block
            dK = jnp.where(here, dK + mm(Wb, Qd, ta=True), dK)  # (M4) in-block
            St = jnp.where(sel, mm(K, Qd, tb=True), St)  # S in-block, m >= n
            X2 = Qd * (Pb * HY + mm(Wb, Kx))  # (M6) second term and pairs p < n <= m
            X3 = Kx * GV  # (M6) third term
            dA = jnp.where(here, dA + mm(Et, X2) + Rw * mm(Et, X3), dA)
            return Ki, Pb * at, dQ, dK, dA, St

        # the edge terms of (M4)-(M6) first, so that PI and hGt are not live across the loop
        init = (zk, jnp.ones((C, d_k), dt), PI * HY, Rw * GV, PX * Rw * hGt, St)
        _, _, dQ, dK, dA, St = lax.fori_loop(jnp.int32(0), jnp.int32(s), step, init)
        dV = dV + mm(St, dY)
        for ref, x in ((dq_ref, dQ), (dk_ref, dK), (da_ref, dA)):
            plgpu.store(ref.at[j, b, ts, hd, full(d_k)], x.astype(ref.dtype))
        plgpu.store(dv_ref.at[b, ts, hd, vs], dV.astype(dv_ref.dtype))
        return gam_new

    gam = cotangent_entering(dhL_ref, A_ref, U_ref, b, hd, seg, vs, n_segments=n_segments, dt=dt)
    gam = lax.fori_loop(jnp.int32(0), jnp.int32(n_chunks), chunk, gam)

    @pl.when(seg == 0)
    def _():
        plgpu.store(dh0_ref.at[b, hd, full(d_k), vs], gam)  # (B6)


@functools.partial(jax.jit, static_argnames=("block_v", "interpret", "num_warps", "segments", "blocks",
                                             "precision"))
def _bwd(q, k, v, a, h0, dy, dhL, *, block_v, interpret, num_warps, segments, blocks, precision):
    B, L, H, d_k = q.shape
    d_v, dt = v.shape[-1], h0.dtype
    nJ, G = d_v // block_v, segments
    (q, k, v, dy, a), hs, summ, Ns, Lp = states_and_summaries(
        q, k, v, a, h0, dy, block_v=block_v, interpret=interpret, num_warps=num_warps,
        segments=segments, stride=1, name="gl_mh_bwd_mm_summary")
    kern = functools.partial(_mm_kernel, n_chunks=Ns, C=CHUNK, block_v=block_v, n_vblocks=nJ,
                             n_segments=G, blocks=blocks, precision=precision)
    part = jax.ShapeDtypeStruct((nJ, B, Lp, H, d_k), dt)
    out = (part, part, jax.ShapeDtypeStruct((B, Lp, H, d_v), dt), part, jax.ShapeDtypeStruct((B, H, d_k, d_v), dt))
    dq, dk, dv, da, dh0 = pl.pallas_call(kern, out_shape=out, grid=(B, H, nJ * G), name="gl_mh_bwd_mm",
                                         **params(interpret, num_warps))(q, k, v, a, dy, hs, dhL, *summ)
    cut = lambda x: x[:, :L]
    return cut(dq.sum(0)), cut(dk.sum(0)), cut(dv), cut(da.sum(0)), dh0


def gate_loop_mh_bwd_mm(q, k, v, a, h0, dy, dhL=None, *, block_v=None, interpret=False, num_warps=8,
                        segments=None, blocks=4, precision="fp32"):
    """``(dq, dk, dv, da, dh0)`` of ``(y, h_L) = gate_loop(q, k, v, a, h0)`` for cotangents ``dy``
    of ``y`` and ``dhL`` of ``h_L`` (None: zero), by the matmul-form kernels (module docstring).

    Args as :func:`experiments.pallas_mh_bwd.gate_loop_mh_bwd_pallas` (no ``state_stride``), and
    blocks: sub-blocks per chunk of 16 steps (1, 2, 4 or 8); num_warps: per program on a GPU;
    precision: of the in-kernel matmuls, ``"fp32"`` (IEEE, default), ``"tf32x3"`` or ``"bf16x3"``
    (tensor cores; ``"tf32x3"`` timed on an H100, ``"bf16x3"`` never run on a GPU); the
    interpreter always runs IEEE float32/float64.
    """
    name = "gate_loop_mh_bwd_mm"
    args, per_head, kw = check_bwd_inputs(q, k, v, a, h0, dy, dhL, block_v, segments, interpret, name)
    if blocks not in (1, 2, 4, 8):
        raise ValueError(f"{name}: blocks: expected 1, 2, 4 or 8 sub-blocks per chunk, got {blocks}")
    if precision not in ("fp32", "tf32x3", "bf16x3"):
        raise ValueError(f"{name}: precision: expected 'fp32', 'tf32x3' or 'bf16x3', got {precision!r}")
    prec = gl.kernels.chunked.PRECISIONS["fp32" if interpret else precision]
    dq, dk, dv, da, dh0 = _bwd(*args, num_warps=int(num_warps), blocks=int(blocks), precision=prec, **kw)
    return dq, dk, dv, (da.sum(-1, keepdims=True) if per_head else da), dh0


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _mm_vjp(q, k, v, a, h0, interpret, block_v, blocks):
    if q.dtype == jnp.float64:  # gate_loop_mh is float32 only; float64 (tests) runs gl.chunked
        return gl.chunked.gate_loop_chunked(q, k, v, a, h0)
    return gl.kernels.chunked.gate_loop_mh(q, k, v, a, h0, interpret=interpret, block_v=block_v)


def _mm_fwd(q, k, v, a, h0, interpret, block_v, blocks):
    return _mm_vjp(q, k, v, a, h0, interpret, block_v, blocks), (q, k, v, a, h0)


def _mm_bwd(interpret, block_v, blocks, res, cts):
    dy, dhL = cts
    return gate_loop_mh_bwd_mm(*res, dy, dhL, block_v=block_v, interpret=interpret, blocks=blocks)


_mm_vjp.defvjp(_mm_fwd, _mm_bwd)


def gate_loop_mh_mm(q, k, v, a, h0=None, *, interpret=False, block_v=None, blocks=4):
    """``(y, h_L)`` by :func:`gl.kernels.chunked.gate_loop_mh` (float32; float64 inputs, for tests,
    by :func:`gl.chunked.gate_loop_chunked`), its gradient by :func:`gate_loop_mh_bwd_mm`.
    Real ``a`` only (``NotImplementedError`` otherwise)."""
    _, block_v, _ = check_inputs(q, k, v, a, h0, block_v, "gate_loop_mh_mm")
    dt = jnp.result_type(q, k, v, a, *(() if h0 is None else (h0,)))
    if h0 is None:
        h0 = jnp.zeros(q.shape[:1] + q.shape[2:] + v.shape[-1:], dt)
    return _mm_vjp(q.astype(dt), k.astype(dt), v.astype(dt), a.astype(dt), h0.astype(dt), bool(interpret),
                   block_v, int(blocks))
