"""An experiment (GPU calls 35-38): the SISO GateLoop forward (eq. 7-8) in one pass with time split
over a Hopper thread-block cluster. Correct, but slower than gl's default at (8, 65536, 64); not
used by gl (bench notes, item 18).

With few channels (``B * D`` of a few hundred) one program per 128 channels leaves most of a GPU
idle, and splitting time into segments that a second kernel corrects (gl.pallas_scan) reads
``k, v, a`` twice: 40 bytes per element instead of 24, so at most 0.6 of a copy. Here time is
split *within* a thread-block cluster, whose ``C`` programs share their shared memory and a
hardware barrier:

* a program is one warpgroup (128 threads, one channel each) owning ``R = 128 / W`` batch rows x
  ``W`` channels (``W = 64`` when ``D = 64``); its tiles of ``(R, T, W)`` rows x steps x channels
  stream into shared memory by TMA, ``stages`` deep, as in gl.pallas_tma;
* in round ``i`` program ``c`` of the cluster takes the tile of steps ``(i C + c) T ..``: the cluster
  walks ``C T`` consecutive steps at once. Each program scans its tile as ``S`` sub-tiles side by
  side from zero states, keeping ``y_loc = Re(q h_loc)`` and ``u = q P`` (``P`` the product of its
  ``a`` so far) per step, and writes its tile's *aggregate* ``(A, S)`` (product of its ``a``,
  final local state; the two leaves of eq. 13) into its shared memory;
* one cluster barrier (release/acquire); then every program reads the ``C`` aggregates from its
  neighbours' shared memory and folds them (eq. 13) onto the state entering the round: the
  prefix before ``c`` is the state ``E`` entering its own tile, the whole fold the state entering
  the next round (the same in every program). It writes ``y_n = y_loc_n + Re(u_n F)`` (eq. 8, ``F``
  the state entering the step's sub-tile).

Each element is read once and ``y`` written once (24 bytes). The aggregates live in two slots
(rounds alternate), so one barrier per round suffices: a program overwrites a slot only after
everyone passed the next round's barrier, after they read it; a last barrier keeps every program
alive until its neighbours have read its shared memory. Needs ``L`` a multiple of ``C T`` and ``B``
of ``R``. JAX's Mosaic GPU interpreter has no cluster barrier, so this runs on a Hopper GPU only.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

__all__ = ["forward", "unsupported"]

THREADS = 128


def unsupported(B: int, L: int, D: int, C: int, T: int, stages: int, itemsize: int = 4) -> str | None:
    """Why ``(B, L, D)`` with these options cannot run here (``None`` if it can)."""
    W = min(D, THREADS)
    if D % W or THREADS % W:
        return f"D: expected a divisor of {THREADS} or a multiple of it, got {D}"
    R = THREADS // W
    if B % R:
        return f"B: expected a multiple of {R} (128 / D rows per program), got {B}"
    if not 1 <= C <= 16:
        return f"C: expected a cluster of 1 to 16 programs, got {C}"
    if T < 1 or L % (C * T):
        return f"T: expected C * T = {C} * {T} to divide L = {L}"
    need = stages * T * THREADS * itemsize * 6 + 2 * 4 * THREADS * 4
    if stages < 1 or need > 225 * 1024:
        return f"T x stages: expected at most {225 * 1024} bytes of shared memory, got {need}"
    return None


def _cmul(ar, ai, br, bi):
    return ar * br - ai * bi, ar * bi + ai * br


def _cluster_sync():
    """``barrier.cluster`` with release/acquire: every thread of the cluster's programs arrives,
    then waits; shared-memory writes before it are visible to all of them after it."""
    from jax.experimental.pallas import mosaic_gpu as plgpu
    from jax._src.lib.mlir import ir
    from jax._src.lib.mlir.dialects import llvm

    @plgpu.inline_mgpu()
    def sync(ctx):
        llvm.inline_asm(ir.Type.parse("!llvm.void"), [],
                        "barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;", "",
                        has_side_effects=True)

    sync()


def _round_sync():  # the barrier of every round (a separate name, so that tools/cluster_ablate.py can drop it)
    _cluster_sync()


def _kernel(*refs, L, C, T, S, R, W, stages, has_a_im, complex_y, ctype):
    from jax.experimental.pallas import mosaic_gpu as plgpu

    n_in = 5 if has_a_im else 4
    ins, (h0_g,), outs = refs[:n_in], refs[n_in:n_in + 1], refs[n_in + 1:]
    y_g, hL_g = outs[:-1], outs[-1]
    g, j, c = lax.axis_index("g"), lax.axis_index("d"), lax.axis_index("c")
    dsl = pl.ds(j * W, W)

    def scoped(h_s, agg_s, bar):
        def step(idx, *tiles_and_carry):
            *tiles, (er, ei) = tiles_and_carry
            q_s, k_s, v_s, ar_s = tiles[:4]
            ai_s = tiles[4] if has_a_im else None
            y_s = tiles[n_in:]
            one = jnp.ones((R, W), ctype)
            zero = one * 0
            Ts = T // S
            # S sub-tiles of Ts steps, each from a zero state, walked side by side (independent
            # chains, so each thread has S recurrences in flight instead of one)
            st = [(zero, zero, one, zero) for _ in range(S)]  # (h_r, h_i, P_r, P_i) per sub-tile
            yl, yli, ur, ui = [None] * T, [None] * T, [None] * T, [None] * T
            for tt in range(Ts):
                for s_ in range(S):
                    t = s_ * Ts + tt
                    hr, hi, Pr, Pi = st[s_]
                    ar = ar_s[:, t, :].astype(ctype)
                    kv = k_s[:, t, :].astype(ctype) * v_s[:, t, :].astype(ctype)
                    q = q_s[:, t, :].astype(ctype)
                    if ai_s is None:
                        hr, hi, Pr, Pi = ar * hr + kv, ar * hi, ar * Pr, ar * Pi
                    else:
                        ai = ai_s[:, t, :].astype(ctype)
                        hr, hi = _cmul(ar, ai, hr, hi)
                        hr = hr + kv  # eq. 7
                        Pr, Pi = _cmul(ar, ai, Pr, Pi)
                    st[s_] = (hr, hi, Pr, Pi)
                    yl[t], yli[t], ur[t], ui[t] = q * hr, q * hi, q * Pr, q * Pi
            # eq. 13 within the tile: H_s, Q_s = state (from zero) and product of a before sub-tile s
            H, Q = [(zero, zero)], [(one, zero)]
            for s_ in range(S):
                hr, hi, Pr, Pi = st[s_]
                Hr, Hi = _cmul(Pr, Pi, *H[-1])
                H.append((Hr + hr, Hi + hi))
                Q.append(_cmul(Pr, Pi, *Q[-1]))
            p = lax.rem(idx[0], 2)
            (Ar, Ai), (Sr, Si) = Q[S], H[S]  # the tile's aggregate
            agg_s[p, 0] = Ar
            agg_s[p, 1] = Ai
            agg_s[p, 2] = Sr
            agg_s[p, 3] = Si
            _round_sync()
            peers = [[plgpu.cluster_ref(agg_s, {"c": cc})[p, x] for x in range(4)] for cc in range(C)]
            mr, mi = er, ei
            for cc, (Ar, Ai, Sr, Si) in enumerate(peers):  # eq. 13 across the cluster's tiles
                mine = c == cc
                mr, mi = jnp.where(mine, er, mr), jnp.where(mine, ei, mi)
                er, ei = _cmul(Ar, Ai, er, ei)
                er, ei = er + Sr, ei + Si
            for s_ in range(S):  # the state entering sub-tile s: F = H_s + Q_s E
                Fr, Fi = _cmul(*Q[s_], mr, mi)
                Fr, Fi = Fr + H[s_][0], Fi + H[s_][1]
                for t in range(s_ * Ts, (s_ + 1) * Ts):  # eq. 8 with it
                    y_s[0][:, t, :] = (yl[t] + ur[t] * Fr - ui[t] * Fi).astype(y_s[0].dtype)
                    if complex_y:
                        y_s[1][:, t, :] = (yli[t] + ur[t] * Fi + ui[t] * Fr).astype(y_s[1].dtype)
            return er, ei

        plgpu.copy_gmem_to_smem(h0_g.at[g, :, :, dsl], h_s, bar)
        plgpu.barrier_wait(bar)
        spec = plgpu.BlockSpec((R, T, W), lambda i: (0, i * C + c, j))
        pipe = plgpu.emit_pipeline(step, grid=(L // (C * T),), in_specs=[spec] * n_in,
                                   out_specs=[spec] * len(y_g), max_concurrent_steps=stages,
                                   init_carry=(h_s[0], h_s[1]))
        er, ei = pipe(*(x.at[g] for x in ins), *(y.at[g] for y in y_g))
        _cluster_sync()  # no program leaves while a neighbour may still read its shared memory

        @pl.when(c == 0)
        def _():
            h_s[0], h_s[1] = er, ei
            plgpu.commit_smem()
            plgpu.copy_smem_to_gmem(h_s, hL_g.at[g, :, :, dsl])
            plgpu.wait_smem_to_gmem(0)

    pl.run_scoped(scoped, plgpu.SMEM((2, R, W), jnp.dtype(ctype)), plgpu.SMEM((2, 4, R, W), jnp.dtype(ctype)),
                  plgpu.Barrier(num_arrivals=1))


@functools.partial(jax.jit, static_argnames=("ctype", "C", "T", "S", "stages", "complex_y", "semantics"))
def forward(q, k, v, a_re, a_im, h0r, h0i, *, ctype="float32", C=16, T=32, S=4, stages=2,
            complex_y=False,
            semantics="Lane"):
    """Eq. 7-8 on ``(B, L, D)`` planes in one pass; returns ``(y_re, y_im or None, hL_re, hL_im)``.

    ``q, k, v, a_re`` real ``(B, L, D)``, ``a_im`` the same or ``None`` (real ``a``), ``h0r, h0i``
    ``(B, D)``. ``C`` programs per cluster, tiles of ``T`` steps, ``stages`` tiles in flight.
    """
    from jax.experimental.pallas import mosaic_gpu as plgpu

    B, L, D = q.shape
    why = unsupported(B, L, D, C, T, stages, jnp.dtype(q.dtype).itemsize) or (
        None if S >= 1 and T % S == 0 else f"S: expected a divisor of T = {T}, got {S}")
    if why:
        raise ValueError(f"cluster_scan.forward: {why}")
    W = min(D, THREADS)
    R = THREADS // W
    G = B // R
    has_a_im = a_im is not None
    ins = tuple(x.reshape(G, R, L, D) for x in (q, k, v, a_re) + ((a_im,) if has_a_im else ()))
    ydt = jnp.result_type(q, k, v)
    h0 = jnp.stack([h0r, h0i]).astype(ctype).reshape(2, G, R, D).transpose(1, 0, 2, 3)  # (G, 2, R, D)
    plane = jax.ShapeDtypeStruct((G, R, L, D), ydt)
    out_type = (plane,) * (2 if complex_y else 1) + (jax.ShapeDtypeStruct((G, 2, R, D), ctype),)
    run = plgpu.kernel(
        functools.partial(_kernel, L=L, C=C, T=T, S=S, R=R, W=W, stages=stages, has_a_im=has_a_im,
                          complex_y=complex_y, ctype=ctype),
        out_type=out_type, grid=(G, D // W), grid_names=("g", "d"), cluster=(C,), cluster_names=("c",),
        **({} if semantics is None else dict(compiler_params=plgpu.CompilerParams(
            lowering_semantics=getattr(plgpu.LoweringSemantics, semantics)))))
    outs = run(*ins, h0)
    y_re = outs[0].reshape(B, L, D)
    y_im = outs[1].reshape(B, L, D) if complex_y else None
    hL = outs[-1].transpose(1, 0, 2, 3).reshape(2, B, D)
    return y_re, y_im, hL[0], hL[1]
