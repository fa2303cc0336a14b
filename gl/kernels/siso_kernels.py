"""The four Pallas kernels of the SISO scan (:mod:`gl.kernels.siso_scan` launches them).

Forward: :func:`fwd_summary_kernel` (a time segment's summary from a zero state, eq. 13's leaves)
and :func:`fwd_kernel` (fold earlier summaries, scan, write ``y``; optionally save the state
entering each chunk). Backward: :func:`bwd_summary_kernel` and :func:`bwd_kernel`, the same
machinery run backwards in time (the cotangent recurrence is derived in
:mod:`gl.kernels.siso_scan`). Ground truth: :func:`gl.gate_loop_reference`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from .common import Refs, chunks, cmul, conj, load_row, program_ids, store_row

__all__ = ["fwd_summary_kernel", "fwd_kernel", "bwd_summary_kernel", "bwd_kernel"]


def _fwd_names(has_a_im, has_h0, complex_y, save_ck):
    ins = ["q", "k", "v", "ar", "ai" if has_a_im else None, "h0r" if has_h0 else None,
           "h0i" if has_h0 else None, "Ar", "Ai", "Sr", "Si"]
    outs = ["yr", "yi" if complex_y else None, "hr", "hi", "ckr" if save_ck else None,
            "cki" if save_ck else None]
    return ins + outs


def fwd_summary_kernel(*refs, L, Ls, chunk, block_d, prefetch, has_a_im, ctype, exact):
    """Segment ``g``'s summary from a zero state: ``A = Π a_n``, ``S = h_end`` (eq. 13's leaves)."""
    r = Refs(["k", "v", "ar", "ai" if has_a_im else None, "Ar", "Ai", "Sr", "Si"], refs)
    D = r.k.shape[-1]
    b, g, d0, dmask = program_ids(block_d, D)
    ins = [(r.k, 0.0), (r.v, 0.0), (r.ar, 1.0)] + ([(r.ai, 0.0)] if has_a_im else [])
    n_start = g * Ls

    def load(c):
        return [[load_row(x, b, n_start + c * chunk + t, d0, dmask, L, o, ctype, exact) for x, o in ins]
                for t in range(chunk)]

    def compute(c, rows, s):
        hr, hi, Ar, Ai = s
        for row in rows:
            k, v, ar = row[:3]
            ai = row[3] if has_a_im else None
            Ar, Ai = cmul(ar, ai, Ar, Ai)
            hr, hi = cmul(ar, ai, hr, hi)
            hr = hr + k * v  # eq. 7
        return hr, hi, Ar, Ai

    zero = jnp.zeros((block_d,), ctype)
    hr, hi, Ar, Ai = chunks(Ls // chunk, load, compute, (zero, zero, zero + 1, zero), prefetch)
    for ref, x in ((r.Ar, Ar), (r.Ai, Ai), (r.Sr, hr), (r.Si, hi)):
        plgpu.store(ref.at[b, g, pl.ds(d0, block_d)], x.astype(ref.dtype), mask=dmask)


def fwd_kernel(*refs, L, Ls, chunk, block_d, prefetch, has_a_im, has_h0, complex_y, save_ck, ctype, exact):
    """Segment ``g`` of one batch row and channel block: fold earlier summaries, scan, write ``y``."""
    r = Refs(_fwd_names(has_a_im, has_h0, complex_y, save_ck), refs)
    D = r.q.shape[-1]
    b, g, d0, dmask = program_ids(block_d, D)
    dsl = pl.ds(d0, block_d)
    zero = jnp.zeros((block_d,), ctype)
    if has_h0:
        h = tuple(plgpu.load(x.at[b, dsl], mask=dmask, other=0.0).astype(ctype) for x in (r.h0r, r.h0i))
    else:
        h = (zero, zero)

    def fold(s, h):  # eq. 13: the summary of earlier segment s acts on the state
        A = [plgpu.load(x.at[b, s, dsl], mask=dmask, other=0.0).astype(ctype) for x in (r.Ar, r.Ai, r.Sr, r.Si)]
        hr, hi = cmul(A[0], A[1], *h)
        return hr + A[2], hi + A[3]

    h = jax.lax.fori_loop(0, g, fold, h)
    ins = [(r.q, 0.0), (r.k, 0.0), (r.v, 0.0), (r.ar, 1.0)] + ([(r.ai, 0.0)] if has_a_im else [])
    n_start, n_chunks = g * Ls, Ls // chunk

    def load(c):
        return [[load_row(x, b, n_start + c * chunk + t, d0, dmask, L, o, ctype, exact) for x, o in ins]
                for t in range(chunk)]

    def compute(c, rows, h):
        hr, hi = h
        if save_ck:  # the state entering this chunk, for the backward pass
            for ref, x in ((r.ckr, hr), (r.cki, hi)):
                plgpu.store(ref.at[b, g * n_chunks + c, dsl], x.astype(ref.dtype), mask=dmask)
        for t, row in enumerate(rows):
            q, k, v, ar = row[:4]
            ai = row[4] if has_a_im else None
            hr, hi = cmul(ar, ai, hr, hi)
            hr = hr + k * v  # eq. 7
            n = n_start + c * chunk + t
            store_row(r.yr, b, n, d0, dmask, L, q * hr, exact)  # eq. 8
            if complex_y:
                store_row(r.yi, b, n, d0, dmask, L, q * hi, exact)
        return hr, hi

    hr, hi = chunks(n_chunks, load, compute, h, prefetch)
    for ref, x in ((r.hr, hr), (r.hi, hi)):
        plgpu.store(ref.at[b, g, dsl], x.astype(ref.dtype), mask=dmask)


# ----------------------------------------------------------------------------- backward kernels

def bwd_summary_kernel(*refs, L, Ls, chunk, block_d, prefetch, has_a_im, has_yb_im, ctype):
    """Segment ``g``'s reverse summary from a zero cotangent: ``B = Π conj(a_{n+1})``, ``G = g_start``."""
    r = Refs(["q", "ar", "ai" if has_a_im else None, "ybr", "ybi" if has_yb_im else None,
               "Br", "Bi", "Gr", "Gi"], refs)
    D = r.q.shape[-1]
    b, g, d0, dmask = program_ids(block_d, D)
    n_start = g * Ls

    def load(c):
        rows = []
        for t in range(chunk):
            n = n_start + c * chunk + t
            row = [load_row(r.q, b, n, d0, dmask, L, 0.0, ctype), load_row(r.ybr, b, n, d0, dmask, L, 0.0, ctype),
                   load_row(r.ybi, b, n, d0, dmask, L, 0.0, ctype) if has_yb_im else None,
                   load_row(r.ar, b, n + 1, d0, dmask, L, 1.0, ctype),  # a_{n+1}: 1 past the end
                   load_row(r.ai, b, n + 1, d0, dmask, L, 0.0, ctype) if has_a_im else None]
            rows.append(row)
        return rows

    def compute(c, rows, s):
        gr, gi, Br, Bi = s
        for q, ybr, ybi, br, bi in reversed(rows):
            Br, Bi = cmul(br, conj(bi), Br, Bi)
            gr, gi = cmul(br, conj(bi), gr, gi)
            gr = gr + q * ybr
            gi = gi + q * ybi if ybi is not None else gi
        return gr, gi, Br, Bi

    zero = jnp.zeros((block_d,), ctype)
    gr, gi, Br, Bi = chunks(Ls // chunk, load, compute, (zero, zero, zero + 1, zero), prefetch, reverse=True)
    for ref, x in ((r.Br, Br), (r.Bi, Bi), (r.Gr, gr), (r.Gi, gi)):
        plgpu.store(ref.at[b, g, pl.ds(d0, block_d)], x.astype(ref.dtype), mask=dmask)


def _bwd_names(has_a_im, has_yb_im):
    return ["q", "k", "v", "ar", "ai" if has_a_im else None, "ybr", "ybi" if has_yb_im else None,
            "ckr", "cki", "hLr", "hLi", "Br", "Bi", "Gr", "Gi",
            "qb", "kb", "vb", "abr", "abi" if has_a_im else None, "h0br", "h0bi"]


def bwd_kernel(*refs, L, Ls, G, chunk, block_d, prefetch, has_a_im, has_yb_im, ctype):
    """Segment ``g`` backwards: fold later reverse summaries into ``g``, recompute ``h``, write grads."""
    r = Refs(_bwd_names(has_a_im, has_yb_im), refs)
    D = r.q.shape[-1]
    b, g, d0, dmask = program_ids(block_d, D)
    dsl = pl.ds(d0, block_d)
    ld = lambda x, i: plgpu.load(x.at[b, i, dsl], mask=dmask, other=0.0).astype(ctype)
    gc = tuple(plgpu.load(x.at[b, dsl], mask=dmask, other=0.0).astype(ctype) for x in (r.hLr, r.hLi))

    def fold(i, gc):  # later segments first: s = G-1, G-2, ..., g+1
        s = G - 1 - i
        gr, gi = cmul(ld(r.Br, s), ld(r.Bi, s), *gc)
        return gr + ld(r.Gr, s), gi + ld(r.Gi, s)

    gc = jax.lax.fori_loop(0, G - 1 - g, fold, gc)
    n_start, n_chunks = g * Ls, Ls // chunk
    names = ["q", "k", "v", "ar", "ai", "ybr", "ybi"]
    others = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]

    def load(c):
        n0 = n_start + c * chunk
        rows = [{nm: load_row(r.get(nm), b, n0 + t, d0, dmask, L, o, ctype) for nm, o in zip(names, others)
                 if r.get(nm) is not None} for t in range(chunk)]
        nxt = {"ar": load_row(r.ar, b, n0 + chunk, d0, dmask, L, 1.0, ctype)}  # a_{n0+chunk}: 1 past the end
        if has_a_im:
            nxt["ai"] = load_row(r.ai, b, n0 + chunk, d0, dmask, L, 0.0, ctype)
        ck = (ld(r.ckr, g * n_chunks + c), ld(r.cki, g * n_chunks + c))
        return rows, nxt, ck

    def compute(c, data, s):
        rows, nxt, ck = data
        gr, gi, _, _ = s
        hs = [ck]  # hs[t + 1] = h at step t of the chunk, hs[0] = h entering it
        for row in rows:
            hr, hi = cmul(row["ar"], row.get("ai"), *hs[-1])
            hs.append((hr + row["k"] * row["v"], hi))
        n0 = n_start + c * chunk
        for t in reversed(range(chunk)):
            row, after = rows[t], (rows[t + 1] if t + 1 < chunk else nxt)
            gr, gi = cmul(after["ar"], conj(after.get("ai")), gr, gi)  # conj(a_{n+1}) g_{n+1}
            ybr, ybi = row["ybr"], row.get("ybi")
            gr = gr + row["q"] * ybr
            if ybi is not None:
                gi = gi + row["q"] * ybi
            (hr, hi), (pr, pi) = hs[t + 1], hs[t]
            n = n0 + t
            store_row(r.qb, b, n, d0, dmask, L, ybr * hr + (ybi * hi if ybi is not None else 0.0))
            store_row(r.kb, b, n, d0, dmask, L, row["v"] * gr)
            store_row(r.vb, b, n, d0, dmask, L, row["k"] * gr)
            store_row(r.abr, b, n, d0, dmask, L, gr * pr + gi * pi)  # ā_n = conj(h_{n-1}) g_n
            if has_a_im:
                store_row(r.abi, b, n, d0, dmask, L, gi * pr - gr * pi)
        # conj(a_{n0}) g_{n0}: h̄_0 when n0 = 0
        h0br, h0bi = cmul(rows[0]["ar"], conj(rows[0].get("ai")), gr, gi)
        return gr, gi, h0br, (gi * 0 if h0bi is None else h0bi)

    zero = jnp.zeros((block_d,), ctype)
    _, _, h0br, h0bi = chunks(n_chunks, load, compute, gc + (zero, zero), prefetch, reverse=True)
    for ref, x in ((r.h0br, h0br), (r.h0bi, h0bi)):
        plgpu.store(ref.at[b, g, dsl], x.astype(ref.dtype), mask=dmask)

