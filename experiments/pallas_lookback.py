"""A single-pass SISO GateLoop scan with decoupled look-back, in Pallas (eq. 7-8 and 12-13).

The two-kernel scan of :mod:`gl.kernels.siso_scan` reads ``k, v, a`` twice when it splits time into
segments (40 bytes per element instead of 24). This kernel reads every input once, following
the decoupled look-back of Merrill and Garland's single-pass prefix scan:

* time is cut into tiles of ``T`` steps; a tile owns ``block_d`` channels of one batch row. Tiles
  take their index from an atomic counter, in launch order, so a tile only ever waits for
  tiles that have already started (no deadlock, whatever the scheduler does);
* a tile scans its ``T`` steps from a zero state in registers, keeping ``y_loc = Re(q h_loc)``
  and ``u = q P`` (``P`` the product of its ``a`` so far) per step, and publishes its
  *aggregate* ``(A, S)`` = (product of its ``a``, final local state): the two leaves of eq. 13;
* it then looks back at its predecessors in windows of ``window`` tiles: it folds their
  aggregates (eq. 13) until it meets a predecessor that has published its *inclusive* state
  (the true state at its end), or the start (``h0``). That gives the state ``E`` entering the
  tile; it publishes its own inclusive state ``A E + S`` and writes
  ``y_n = y_loc_n + Re(u_n E)``, the correction of eq. 8 for the entering state.

With ``chunk``, a tile of ``T`` steps (hundreds) is walked in chunks twice instead: once for its
aggregate, and, after the look-back, again from the entering state to write ``y``, hoping to
read the tile from L2 the second time. On an H100 it was correct but slower than the two-kernel
scan: the tiles in flight outgrow L2, so the second walk reads DRAM again
(``experiments/NOTES.md``, item 11). With ``programs``, that many persistent programs take
tiles by ticket, so at most that many tiles wait between their walks: with 132 the second walk
hits L2, but DRAM idles for want of loads in flight; with more the reuse is gone (item 23).

Publication: values are stored, the program synchronizes (a barrier), then a flag is set by an
atomic increment (release); readers read flags by atomics (acquire) and values with volatile
loads (from L2, never a stale line of the SM's L1). Status flags: 0 nothing yet, 1 aggregate, 2 inclusive.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from gl.kernels.common import chunks, cmul, load_row

__all__ = ["gate_loop_siso_lookback"]


def _kernel(*refs, L, T, chunk, n_chains, n_tiles_per_chain, nJ, block_d, window, has_a_im, complex_y, interpret,
            test_aggregates, ctype, persistent):
    """One program: one tile, or with ``persistent`` (the number of programs) tiles by ticket until none are left."""
    names = ["q", "k", "v", "ar", "ai" if has_a_im else None, "h0r", "h0i", "cnt_in", "flag_in",
             "yr", "yi" if complex_y else None, "Ar", "Ai", "Sr", "Si", "Ir", "Ii", "cnt", "flag"]
    r = dict(zip([n for n in names if n], refs))
    ticket = lambda: plgpu.atomic_add(r["cnt"], (jnp.int32(0),), jnp.int32(1))  # tiles in launch order
    tile = functools.partial(_tile, r, L=L, T=T, chunk=chunk, n_chains=n_chains, n_tiles_per_chain=n_tiles_per_chain,
                             nJ=nJ, block_d=block_d, window=window, has_a_im=has_a_im, complex_y=complex_y,
                             interpret=interpret, test_aggregates=test_aggregates, ctype=ctype)
    if not persistent:
        return tile(ticket())
    n_tiles = n_chains * n_tiles_per_chain

    # A program takes its next ticket only when its tile is done, so a tile waits only on tiles whose
    # programs are running. Each program takes the same number of tickets; those past the last tile
    # do nothing. (The interpreter runs the programs one after the other: the first takes the first
    # tickets, and so on.)
    def body(i, carry):
        tid = ticket()
        pl.when(tid < n_tiles)(lambda: tile(tid))
        return carry

    jax.lax.fori_loop(0, -(-n_tiles // persistent), body, 0)


def _tile(r, tid, *, L, T, chunk, n_chains, n_tiles_per_chain, nJ, block_d, window, has_a_im, complex_y, interpret,
          test_aggregates, ctype):
    """Tile ``tid`` (its ticket): scan from zero, publish, look back, write ``y``."""
    D = r["q"].shape[-1]
    g, chain = tid // n_chains, tid % n_chains
    b, j = chain // nJ, chain % nJ
    d0 = j * block_d
    dmask = (d0 + jnp.arange(block_d)) < D
    dsl = pl.ds(d0, block_d)
    zero = jnp.zeros((block_d,), ctype)
    ins = [("q", 0.0), ("k", 0.0), ("v", 0.0), ("ar", 1.0)] + ([("ai", 0.0)] if has_a_im else [])

    # 1. the tile from a zero state
    def loader(planes):  # chunk c of the tile: rows of the given planes
        return lambda c: [[load_row(r[x], b, g * T + c * chunk + t, d0, dmask, L, o, ctype) for x, o in planes]
                          for t in range(chunk)]

    if chunk:  # long tile: walk it in chunks keeping only (P, h); step 3 reads it again (from L2)

        def step1(c, rows, s):
            hr, hi, Pr, Pi = s
            for k, v, ar, *rest in rows:
                ai = rest[0] if has_a_im else None
                hr, hi = cmul(ar, ai, hr, hi)
                hr = hr + k * v  # eq. 7
                Pr, Pi = cmul(ar, ai, Pr, Pi)
            return hr, hi, Pr, Pi

        hr, hi, Pr, Pi = chunks(T // chunk, loader(ins[1:]), step1, (zero, zero, zero + 1, zero), True)
    else:
        hr, hi, Pr, Pi = zero, zero, zero + 1, zero
        yl, yli, ur, ui = [], [], [], []
        for t in range(T):
            n = g * T + t
            q, k, v, ar, *rest = (load_row(r[x], b, n, d0, dmask, L, o, ctype) for x, o in ins)
            ai = rest[0] if has_a_im else None
            hr, hi = cmul(ar, ai, hr, hi)
            hr = hr + k * v  # eq. 7
            Pr, Pi = cmul(ar, ai, Pr, Pi)
            yl.append(q * hr)
            yli.append(q * hi)
            ur.append(q * Pr)
            ui.append(q * Pi)

    def publish(pairs):  # the status goes 0 -> 1 (aggregate) -> 2 (inclusive), by atomic increments
        for name, x in pairs:
            plgpu.store(r[name].at[tid, :], x)
        if not interpret:
            plgpu.debug_barrier()
        plgpu.atomic_add(r["flag"], (tid,), jnp.int32(1))

    publish((("Ar", Pr), ("Ai", Pi), ("Sr", hr), ("Si", hi)))

    # 2. look back
    h0 = [plgpu.load(r[x].at[b, dsl], mask=dmask, other=0.0).astype(ctype) for x in ("h0r", "h0i")]
    cg = lambda name, i: plgpu.load(r[name].at[i, :], volatile=not interpret)  # L2, not a stale L1 line

    def body(state):
        p, aAr, aAi, aSr, aSi, done, Er, Ei = state
        active = jnp.logical_not(done)
        consumed = jnp.int32(0)
        for w in range(window):
            ps = p - w
            valid = ps >= 0
            i = jnp.maximum(ps, 0) * n_chains + chain
            f = jnp.where(valid, plgpu.atomic_add(r["flag"], (i,), jnp.int32(0)), 2)
            if test_aggregates:  # odd tiles' inclusive values are never used: longer look-backs
                f = jnp.where(valid & (ps % 2 == 1) & (f == 2), 1, f)
            Ir = jnp.where(valid, cg("Ir", i), h0[0])
            Ii = jnp.where(valid, cg("Ii", i), h0[1])
            Ar, Ai, Sr, Si = (cg(x, i) for x in ("Ar", "Ai", "Sr", "Si"))
            inc = active & (f == 2)
            agg = active & (f == 1)
            er, ei = cmul(aAr, aAi, Ir, Ii)  # eq. 13: the folded aggregates act on the inclusive state
            Er, Ei = jnp.where(inc, er + aSr, Er), jnp.where(inc, ei + aSi, Ei)
            nr, ni = cmul(aAr, aAi, Sr, Si)
            nAr, nAi = cmul(aAr, aAi, Ar, Ai)
            aSr, aSi = jnp.where(agg, nr + aSr, aSr), jnp.where(agg, ni + aSi, aSi)
            aAr, aAi = jnp.where(agg, nAr, aAr), jnp.where(agg, nAi, aAi)
            consumed = consumed + agg.astype(jnp.int32)
            done = done | inc
            active = agg
        return p - consumed, aAr, aAi, aSr, aSi, done, Er, Ei

    state = (g - 1, zero + 1, zero, zero, zero, jnp.bool_(False), zero, zero)
    if interpret:  # the interpreter runs tiles in order, so every look-back ends within G / window rounds
        *_, Er, Ei = jax.lax.fori_loop(0, -(-n_tiles_per_chain // window) + 1, lambda i, s: body(s), state)
    else:
        *_, Er, Ei = jax.lax.while_loop(lambda s: jnp.logical_not(s[5]), body, state)
    Ir, Ii = cmul(Pr, Pi, Er, Ei)
    publish((("Ir", Ir + hr), ("Ii", Ii + hi)))

    # 3. eq. 8 with the entering state
    if chunk:  # the tile again, from the entering state (eq. 7-8)
        def step3(c, rows, s):
            hr, hi = s
            for t, (q, k, v, ar, *rest) in enumerate(rows):
                ai = rest[0] if has_a_im else None
                hr, hi = cmul(ar, ai, hr, hi)
                hr = hr + k * v
                n = g * T + c * chunk + t
                m = dmask & (n < L)
                row = (b, jnp.minimum(n, L - 1), dsl)
                plgpu.store(r["yr"].at[row], (q * hr).astype(r["yr"].dtype), mask=m)
                if complex_y:
                    plgpu.store(r["yi"].at[row], (q * hi).astype(r["yi"].dtype), mask=m)
            return hr, hi

        chunks(T // chunk, loader(ins), step3, (Er, Ei), True)
        return
    for t in range(T):
        n = g * T + t
        m = dmask & (n < L)
        row = (b, jnp.minimum(n, L - 1), dsl)
        plgpu.store(r["yr"].at[row], (yl[t] + ur[t] * Er - ui[t] * Ei).astype(r["yr"].dtype), mask=m)
        if complex_y:
            plgpu.store(r["yi"].at[row], (yli[t] + ur[t] * Ei + ui[t] * Er).astype(r["yi"].dtype), mask=m)


@functools.partial(jax.jit, static_argnames=("T", "chunk", "block_d", "window", "num_warps", "complex_y",
                                             "interpret", "test_aggregates", "programs"))
def _scan(q, k, v, a_re, a_im, h0r, h0i, *, T, chunk, block_d, window, num_warps, complex_y, interpret,
          test_aggregates=False, programs=None):
    B, L, D = q.shape
    nJ = -(-D // block_d)
    G = -(-L // T)
    n_chains = B * nJ
    n_tiles = n_chains * G
    has_a_im = a_im is not None
    ctype = np.dtype(np.float32)
    if interpret:  # the interpreter clamps out-of-range slices: pad instead of masking
        Dp, Lp = nJ * block_d, G * T
        pad = lambda x, c=0.0: jnp.pad(x, ((0, 0), (0, Lp - L), (0, Dp - D)), constant_values=c)
        q, k, v = pad(q), pad(k), pad(v)
        a_re = pad(a_re, 1.0)
        a_im = None if a_im is None else pad(a_im)
        h0r, h0i = (jnp.pad(x, ((0, 0), (0, Dp - D))) for x in (h0r, h0i))
        L_run, D_run = Lp, Dp
    else:
        L_run, D_run = L, D
    ydt = jnp.result_type(q, k, v)
    plane = jax.ShapeDtypeStruct((B, L_run, D_run), ydt)
    tile = jax.ShapeDtypeStruct((n_tiles, block_d), ctype)
    ins = [q, k, v, a_re] + ([a_im] if has_a_im else []) + [h0r.astype(ctype), h0i.astype(ctype),
                                                           jnp.zeros((1,), jnp.int32), jnp.zeros((n_tiles,), jnp.int32)]
    out_shape = [plane] + ([plane] if complex_y else []) + [tile] * 6 + [
        jax.ShapeDtypeStruct((1,), jnp.int32), jax.ShapeDtypeStruct((n_tiles,), jnp.int32)]
    n_out = len(out_shape)
    aliases = {len(ins) - 2: n_out - 2, len(ins) - 1: n_out - 1}
    params = dict(interpret=True) if interpret else dict(
        compiler_params=plgpu.CompilerParams(num_warps=num_warps, num_stages=1))
    persistent = None if programs is None else min(programs, n_tiles)
    outs = pl.pallas_call(
        functools.partial(_kernel, L=L_run, T=T, chunk=chunk, n_chains=n_chains, n_tiles_per_chain=G, nJ=nJ, block_d=block_d, window=window,
                          has_a_im=has_a_im, complex_y=complex_y, interpret=interpret,
                          test_aggregates=test_aggregates, ctype=ctype, persistent=persistent),
        out_shape=tuple(out_shape), grid=(persistent or n_tiles,), input_output_aliases=aliases, **params,
        name="gl_lookback",
    )(*ins)
    y_re = outs[0][:, :L, :D]
    y_im = outs[1][:, :L, :D] if complex_y else None
    Ir, Ii = outs[-4], outs[-3]  # inclusive states, tile index = g * n_chains + chain
    last = Ir[(G - 1) * n_chains:].reshape(B, nJ * block_d)[:, :D], Ii[(G - 1) * n_chains:].reshape(B, nJ * block_d)[:, :D]
    return y_re, y_im, last[0], last[1]


def gate_loop_siso_lookback(q, k, v, a, h0=None, *, T=16, chunk=None, block_d=64, window=8, num_warps=None,
                            complex_y=False, interpret=False, test_aggregates=False, programs=None):
    """SISO GateLoop by one pass with decoupled look-back; ``(B, L, D)`` planes; returns ``(y, h_L)``.

    ``q, k, v``: real ``(B, L, D)``; ``a``: complex, real, or a pair ``(a_re, a_im)``; ``h0``: ``(B, D)``.
    ``T`` steps per tile, ``block_d`` channels per tile, ``window`` predecessors read per look-back
    round. ``chunk`` (a divisor of ``T``): walk a long tile in chunks of that many steps, twice (its
    aggregate, then ``y`` from the entering state, reading the tile again: from L2 while it is
    there); None keeps the tile's ``T`` steps in registers. ``programs``: launch that many programs,
    each taking tickets until the tiles run out (persistent), so that at most ``programs`` tiles
    are in flight (and in L2 between their two walks); None launches one program per tile.
    Forward only (no VJP). ``test_aggregates`` (tests only) ignores odd tiles' inclusive
    states so that look-backs fold aggregates.
    """
    if isinstance(a, (tuple, list)):
        a_re, a_im = a
    elif jnp.issubdtype(jnp.asarray(a).dtype, jnp.complexfloating):
        a_re, a_im = jnp.real(a), jnp.imag(a)
    else:
        a_re, a_im = jnp.asarray(a), None
    q, k, v = (jnp.asarray(x) for x in (q, k, v))
    B, L, D = q.shape
    if h0 is None:
        h0r = h0i = jnp.zeros((B, D), jnp.float32)
    else:
        h0 = jnp.asarray(h0)
        h0r, h0i = jnp.real(h0).astype(jnp.float32), jnp.imag(h0).astype(jnp.float32)
    if chunk is not None and (chunk < 1 or T % chunk):
        raise ValueError(f"chunk: expected a divisor of T = {T}, got {chunk}")
    if programs is not None and programs < 1:
        raise ValueError(f"programs: expected a positive number of programs or None, got {programs}")
    y_re, y_im, hr, hi = _scan(q, k, v, a_re, a_im, h0r, h0i, T=T, chunk=chunk, block_d=block_d, window=window,
                               num_warps=num_warps or max(1, block_d // 32), complex_y=bool(complex_y),
                               interpret=bool(interpret), test_aggregates=bool(test_aggregates),
                               programs=programs)
    y = jax.lax.complex(y_re.astype(jnp.float32), y_im.astype(jnp.float32)) if complex_y else y_re
    return y, jax.lax.complex(hr, hi)
