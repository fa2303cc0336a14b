"""The Pallas kernel of the fused chunked multi-head GateLoop (:mod:`gl.kernels.chunked`).

One program owns one ``(batch, head)`` pair, a block of ``block_v`` columns of ``v`` and one
time segment; :func:`kernel` is the program (the algorithm is in :mod:`gl.kernels.chunked`'s
docstring), :func:`dot` its matmuls in the precisions of :data:`PRECISIONS`. Ground truth:
:func:`gl.chunked.gate_loop_chunked` and :func:`gl.gate_loop_reference`.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from .common import Refs, cmul

__all__ = ["kernel", "dot", "dot_f16x3", "CHUNK", "F16_A_MAX", "PRECISIONS"]

CHUNK = 16  #: steps per chunk: the smallest Triton matmul tile
F16_A_MAX = 1.4  #: "f16x3" runs while max(|Re a|, |Im a|) <= this (so |a| < 2, the decays of 16 steps < 65504)
#: the in-kernel matmul precisions by name (``gate_loop_mh(precision=...)``)
PRECISIONS = {"fp32": lax.Precision.HIGHEST, "tf32x3": lax.DotAlgorithmPreset.TF32_TF32_F32_X3,
              "bf16x3": lax.DotAlgorithmPreset.BF16_BF16_F32_X3, "f16x3": "f16x3"}



def dot(x, y, precision, trans_a=False, trans_b=False):
    """``x @ y`` (either side transposed) with float32 results; ``"f16x3"``: operands the caller
    scaled to magnitudes of at most about 1 (:func:`dot_f16x3`)."""
    dims = (((0 if trans_a else 1,), (1 if trans_b else 0,)), ((), ()))
    if precision == "f16x3":
        return dot_f16x3(x, y, dims)
    return lax.dot_general(x, y, dims, precision=precision, preferred_element_type=jnp.float32)


def dot_f16x3(x, y, dims):
    """``x @ y`` from three float16 products: ``x = x_hi + 2^-11 x_lo`` with two float16 tiles
    (likewise ``y``); ``x_hi y_hi + 2^-11 (x_hi y_lo + x_lo y_hi)`` keeps 22 bits of each
    operand, as TF32x3, with half its tensor-core instructions. Only for operands scaled to
    at most 1 in magnitude (float16 overflows at 65504): the kernel scales them (``f16x3``)."""
    f32, f16 = jnp.float32, jnp.float16

    def split(z):
        hi = z.astype(f16)
        return hi, ((z - hi.astype(f32)) * 2048.0).astype(f16)

    (xh, xl), (yh, yl) = split(x), split(y)
    d = lambda u, w: lax.dot_general(u, w, dims, preferred_element_type=f32)
    return d(xh, yh) + (d(xh, yl) + d(xl, yh)) * (1.0 / 2048.0)


def _names(summary, has_a_im, has_h0_im, complex_y, has_segments):
    im = lambda name, flag=has_a_im: name if flag else None
    if summary:
        return ["k", "v", "ar", im("ai"), "Ar", im("Ai"), "Ur", im("Ui")]
    cplx = has_a_im or has_h0_im
    seg = lambda name, flag=True: name if has_segments and flag else None
    return ["q", "k", "v", "ar", im("ai"), "h0r", im("h0i", has_h0_im), seg("Ar"), seg("Ai", has_a_im),
            seg("Ur"), seg("Ui", cplx), "yr", im("yi", complex_y), "hr", im("hi", cplx)]


def kernel(*refs, n_chunks, C, block_v, n_vblocks, has_a_im, has_h0_im, complex_y, precision, summary,
            has_segments, blocks, split=1):
    """One program: batch row ``b``, head ``hd``, columns ``j`` of ``v``, time segment ``g``.

    ``summary``: write the segment's total decay ``A_g`` and its final state from zero ``U_g``
    (the two leaves of eq. 13); otherwise fold the summaries of the earlier segments into ``h0``
    (eq. 13 again) and compute the segment's outputs. The summaries may be of ``split`` parts of
    each segment (the summary kernel then runs with ``n_chunks / split``): segment ``g`` folds
    the first ``g * split`` of them.
    """
    r = Refs(_names(summary, has_a_im, has_h0_im, complex_y, has_segments), refs)
    b, hd = pl.program_id(0), pl.program_id(1)
    j, g = pl.program_id(2) % n_vblocks, pl.program_id(2) // n_vblocks
    d_k = r.k.shape[-1]
    vs = pl.ds(j * block_v, block_v)
    cplx = has_a_im or has_h0_im
    f32 = jnp.float32
    f16 = precision == "f16x3"  # float16 products of operands scaled by their largest magnitude

    def bound(xr, xi=None):
        """``(m, 1 / m)``, ``m`` the largest magnitude in a tile (a complex pair: of both)."""
        if not f16:
            return None
        m = jnp.max(jnp.abs(xr) if xi is None else jnp.maximum(jnp.abs(xr), jnp.abs(xi)))
        return m, jnp.where(m > 0, 1.0 / m, 0.0)

    def mm(x, y, bx, by, **kw):
        """``x @ y``; with ``f16``, of ``x / m_x`` and ``y / m_y`` (no float16 overflow), times ``m_x m_y``."""
        if not f16:
            return dot(x, y, precision, **kw)
        return dot(x * bx[1], y * by[1], precision, **kw) * (bx[0] * by[0])
    im = lambda x: x if has_a_im else None
    rows = lax.broadcasted_iota(jnp.int32, (C, d_k), 0)
    rows_s = lax.broadcasted_iota(jnp.int32, (C, C), 0)
    zero_ck = jnp.zeros((C, d_k), f32)
    c0 = g * n_chunks  # the segment's first chunk

    if summary:  # the state from zero and the total decay
        hr, hi = jnp.zeros((d_k, block_v), f32), (jnp.zeros((d_k, block_v), f32) if has_a_im else None)
    else:  # h0, then eq. 13 with the summaries of the earlier segments
        hr = plgpu.load(r.h0r.at[b, hd, :, vs]).astype(f32)
        hi = plgpu.load(r.h0i.at[b, hd, :, vs]).astype(f32) if has_h0_im else (
            jnp.zeros((d_k, block_v), f32) if cplx else None)
        if has_segments:
            def fold(s, h):
                Ar = plgpu.load(r.Ar.at[b, hd, s, :])[:, None]
                Ai = plgpu.load(r.Ai.at[b, hd, s, :])[:, None] if has_a_im else None
                nr, ni = cmul(Ar, Ai, *h)
                nr = nr + plgpu.load(r.Ur.at[b, hd, s, :, vs])
                if ni is not None and r.get("Ui") is not None:
                    ni = ni + plgpu.load(r.Ui.at[b, hd, s, :, vs])
                return nr, ni
            hr, hi = lax.fori_loop(0, g * split, fold, (hr, hi))

    s = C // blocks  # steps per sub-block; the blocks are walked side by side
    blk, loc = rows // s, rows % s  # sub-block and step within it of each row of a (C, d_k) tile
    blk_n, blk_m = rows_s // s, lax.broadcasted_iota(jnp.int32, (C, C), 1) // s
    need_si = complex_y and has_a_im  # Im S only feeds Im y

    def per_block(ref, n0, n):
        """A (C, d_k) tile whose rows in sub-block i hold row ``i s + n`` of the chunk."""
        load_row = lambda t: plgpu.load(ref.at[b, t, hd, :]).astype(f32)[None, :]
        x = load_row(n0 + n)
        for i in range(1, blocks):
            x = jnp.where(blk == i, load_row(n0 + i * s + n), x)
        return x

    def step(n0, Kb, n, st):
        """Step ``n`` of every sub-block of the chunk starting at ``n0``: products only."""
        Kr, Ki, Pr, Pi, QPr, QPi, Sr, Si = st
        ar = per_block(r.ar, n0, n)
        ai = per_block(r.ai, n0, n) if has_a_im else None
        Kr, Ki = cmul(Kr, Ki, ar, ai)  # rows m < n of each sub-block: D(n, m) = D(n-1, m) a_n
        Kr = jnp.where(loc == n, Kb, Kr)  # row n: D(n, n) = 1
        Pr, Pi = cmul(Pr, Pi, ar, ai)  # P_n = P_{n-1} a_n, from the sub-block's start
        if not summary:
            qn = per_block(r.q, n0, n)
            QPr = jnp.where(loc == n, qn * Pr, QPr)
            here = rows_s == blk_m * s + n  # S[i s + n, m] for m in sub-block i
            put = lambda X, S: jnp.where(here, jnp.sum(X * qn, axis=1)[None, :], S)
            Sr = put(Kr, Sr)  # S[n, m] = q_n . K[m]
            if has_a_im:
                QPi = jnp.where(loc == n, qn * Pi, QPi)
            if need_si:
                Si = put(Ki, Si)
        return Kr, Ki, Pr, Pi, QPr, QPi, Sr, Si

    def totals(Pr, Pi):
        """The sub-blocks' total decays T_i (rows of the final P tile): r tiles of (1, d_k)."""
        pick = lambda X, i: jnp.sum(jnp.where(rows == i * s, X, 0.0), axis=0, keepdims=True)
        return [(pick(Pr, i), pick(Pi, i) if has_a_im else None) for i in range(blocks)]

    def by_block(values):
        """A (C, d_k) tile whose rows in sub-block i hold values[i] (a complex pair)."""
        xr, xi = values[0]
        for i in range(1, blocks):
            xr = jnp.where(blk == i, values[i][0], xr)
            if xi is not None:
                xi = jnp.where(blk == i, values[i][1], xi)
        return xr, xi

    def prod(ts):
        out = (jnp.ones((1, d_k), f32), im(jnp.zeros((1, d_k), f32)))
        for t in ts:
            out = cmul(*out, *t)
        return out

    def body(c, carry):
        (hr, hi, Ar, Ai) = carry
        n0 = (c0 + c) * C
        ts = pl.ds(n0, C)
        Kb = plgpu.load(r.k.at[b, ts, hd, :]).astype(f32)  # (C, d_k)
        V = plgpu.load(r.v.at[b, ts, hd, vs]).astype(f32)  # (C, block_v)
        # the wrapper keeps max(|Re a|, |Im a|) <= F16_A_MAX, so |a| < 2: a decay over the chunk's
        # 16 steps stays below 2^16, and so do |k ⊙ R| / max|k| and |q ⊙ P ⊙ G| / max|q ⊙ P|
        bk, bv = bound(Kb), bound(V)
        none_if = lambda x, flag=True: None if summary or not flag else x
        one = jnp.ones((C, d_k), f32)
        st = (zero_ck, im(zero_ck), one, im(zero_ck), none_if(zero_ck), none_if(im(zero_ck)),
              none_if(jnp.zeros((C, C), f32)), none_if(jnp.zeros((C, C), f32), need_si))
        Kr, Ki, Pr, Pi, QPr, QPi, Sr, Si = lax.fori_loop(0, s, functools.partial(step, n0, Kb), st)
        T = totals(Pr, Pi)
        Tr, Ti = prod(T)  # the chunk's total decay
        KLr, KLi = Kr, Ki  # k_m R_m within its sub-block
        if blocks > 1:  # to the chunk's end: k_m R_m = (k_m R_m within its block) ⊙ prod_{l > i} T_l
            Kr, Ki = cmul(Kr, Ki, *by_block([prod(T[i + 1:]) for i in range(blocks)]))
        if not summary:
            # scores between sub-blocks i > j: (q ⊙ P within i) ⊙ G_ij ⊙ (k ⊙ R within j),
            # G_ij = prod_{j<l<i} T_l; one masked matmul per distance δ = i - j
            bq = bound(QPr, QPi)  # used for q ⊙ P ⊙ G and q ⊙ P from the chunk's start too (see bk)
            for delta in range(1, blocks):
                Gr, Gi = by_block([prod(T[max(i - delta + 1, 0):i]) for i in range(blocks)])
                Xr, Xi = cmul(QPr, QPi, Gr, Gi) if delta > 1 else (QPr, QPi)  # G = 1 at distance 1
                dot = lambda x, kl: mm(x, kl, bq, bk, trans_b=True)
                keep = (blk_n - blk_m) == delta
                Sx = dot(Xr, KLr)
                if Xi is not None and KLi is not None:
                    Sx = Sx - dot(Xi, KLi)
                Sr = jnp.where(keep, Sx, Sr)
                if need_si:
                    Sy = dot(Xr, KLi) if KLi is not None else 0.0
                    if Xi is not None:
                        Sy = Sy + dot(Xi, KLr)
                    Si = jnp.where(keep, Sy, Si)
            if blocks > 1:  # from the chunk's start: q_n P_n = (q_n P_n within its block) ⊙ prod_{l < i} T_l
                QPr, QPi = cmul(QPr, QPi, *by_block([prod(T[:i]) for i in range(blocks)]))
            # y = S v + (q ⊙ P) h: eq. 21 inside the chunk, eq. 8 on the entering state
            bs, bh = bound(Sr, Si), bound(hr, hi)
            yr = mm(Sr, V, bs, bv) + mm(QPr, hr, bq, bh)
            if QPi is not None and hi is not None:
                yr = yr - mm(QPi, hi, bq, bh)
            plgpu.store(r.yr.at[b, ts, hd, vs], yr.astype(r.yr.dtype))
            if complex_y:
                yi = mm(QPr, hi, bq, bh) if hi is not None else jnp.zeros_like(yr)
                if has_a_im:
                    yi = yi + mm(Si, V, bs, bv) + mm(QPi, hr, bq, bh)
                plgpu.store(r.yi.at[b, ts, hd, vs], yi.astype(r.yi.dtype))
        # h <- T ⊙ h + Kᵀ v, T the chunk's total, K[m] = k_m R_m (eq. 7 once per chunk)
        nr, ni = cmul(Tr.reshape(d_k, 1), None if Ti is None else Ti.reshape(d_k, 1), hr, hi)
        nr = nr + mm(Kr, V, bk, bv, trans_a=True)
        if ni is not None and Ki is not None:
            ni = ni + mm(Ki, V, bk, bv, trans_a=True)
        Ar, Ai = cmul(Ar, Ai, Tr, Ti) if summary else (Ar, Ai)  # the segment's total decay
        return nr, ni, Ar, Ai

    A0 = (jnp.ones((1, d_k), f32), im(jnp.zeros((1, d_k), f32))) if summary else (None, None)
    hr, hi, Ar, Ai = lax.fori_loop(0, n_chunks, body, (hr, hi) + A0)
    if summary:
        plgpu.store(r.Ar.at[b, hd, g, :], Ar[0])
        if has_a_im:
            plgpu.store(r.Ai.at[b, hd, g, :], Ai[0])
        plgpu.store(r.Ur.at[b, hd, g, :, vs], hr)
        if hi is not None:
            plgpu.store(r.Ui.at[b, hd, g, :, vs], hi)
    else:
        plgpu.store(r.hr.at[b, hd, g, :, vs], hr)
        if hi is not None:
            plgpu.store(r.hi.at[b, hd, g, :, vs], hi)

