"""An experiment (GPU calls 35-43): the SISO GateLoop forward (eq. 7-8) in one pass with time split
over a Hopper thread-block cluster. Correct (1.1e-7 against the complex128 loop), but slower than
gl's default at (8, 65536, 64): at best 0.59 ms against 0.49-0.50 ms; not used by gl (bench notes,
item 18). Options tried there: ``lag`` (the correction one round late, :func:`_kernel_lag`),
``push`` (aggregates stored into every program instead of loaded from each), ``seq`` (the fold one
program at a time), ``wgs=2`` (two warpgroups per program, :func:`_kernel_2wg`).

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


def unsupported(B: int, L: int, D: int, C: int, T: int, stages: int, itemsize: int = 4, push: bool = False) -> str | None:
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
    need = (5 * stages + max(stages, 2)) * T * THREADS * itemsize + 2 * (C if push else 1) * 4 * THREADS * 4  # inputs, y, aggregates
    if stages < 1 or need > 225 * 1024:
        return f"T x stages: expected at most {225 * 1024} bytes of shared memory, got {need}"
    return None


def _cmul(ar, ai, br, bi):
    return ar * br - ai * bi, ar * bi + ai * br


def _asm(text):
    """Inline PTX, executed by every thread of the warpgroup."""
    from jax.experimental.pallas import mosaic_gpu as plgpu
    from jax._src.lib.mlir import ir
    from jax._src.lib.mlir.dialects import llvm

    @plgpu.inline_mgpu()
    def emit(ctx):
        llvm.inline_asm(ir.Type.parse("!llvm.void"), [], text, "", has_side_effects=True)

    emit()


def _cluster_arrive():
    """Arrive at ``barrier.cluster`` (release: this thread's shared-memory writes before it are seen
    by every thread of the cluster after the matching wait)."""
    _asm("barrier.cluster.arrive.release;")


def _cluster_wait():
    """Wait until every thread of the cluster's programs has arrived (acquire)."""
    _asm("barrier.cluster.wait.acquire;")


def _cluster_sync():
    _cluster_arrive()
    _cluster_wait()


def _round_sync():  # the barrier of every round (a separate name, so that tools/cluster_ablate.py can drop it)
    _cluster_sync()


def _local_scan(tiles, *, T, S, R, W, has_a_im, ctype):
    """Eq. 7-8 over one ``(R, T, W)`` tile from a zero state, as ``S`` sub-tiles side by side.

    Returns ``(yl, yli, ur, ui, H, Q)``: per step ``Re(q h_loc)``, ``Im(q h_loc)`` and ``q P`` (``h_loc``,
    ``P`` from the start of the step's sub-tile), and per sub-tile ``s`` the state ``H[s]`` (from zero)
    and the product ``Q[s]`` of ``a`` before it within the tile; ``Q[S], H[S]`` are the tile's aggregate.
    """
    q_s, k_s, v_s, ar_s = tiles[:4]
    ai_s = tiles[4] if has_a_im else None
    one = jnp.ones((R, W), ctype)
    zero = one * 0
    Ts = T // S
    st = [(zero, zero, one, zero) for _ in range(S)]  # (h_r, h_i, P_r, P_i) per sub-tile
    yl, yli, ur, ui = [None] * T, [None] * T, [None] * T, [None] * T
    for tt in range(Ts):  # the S chains interleaved: S recurrences in flight per thread
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
    H, Q = [(zero, zero)], [(one, zero)]  # eq. 13 within the tile
    for hr, hi, Pr, Pi in st:
        Hr, Hi = _cmul(Pr, Pi, *H[-1])
        H.append((Hr + hr, Hi + hi))
        Q.append(_cmul(Pr, Pi, *Q[-1]))
    return yl, yli, ur, ui, H, Q


def _publish(agg_s, p, H, Q, c, C, push):
    """Program ``c``'s aggregate ``(A, S)`` into slot ``p``: of its own shared memory (``agg_s``
    ``(2, 4, R, W)``), or, with ``push``, into entry ``c`` of every program's (``(2, C, 4, R, W)``)."""
    from jax.experimental.pallas import mosaic_gpu as plgpu

    (Ar, Ai), (Sr, Si) = Q[-1], H[-1]
    for cc in range(C if push else 1):
        dst = plgpu.cluster_ref(agg_s, {"c": cc}).at[p, c] if push else agg_s.at[p]
        dst[0] = Ar
        dst[1] = Ai
        dst[2] = Sr
        dst[3] = Si


def _fold(agg_s, p, c, C, er, ei, push, seq=False):
    """Eq. 13 across the cluster: the aggregates in slot ``p`` of all ``C`` programs (read from their
    shared memory, all loads first; with ``push``, from this program's own copy) act in order on the
    state ``E`` entering the round. Returns the state entering program ``c``'s tile and the state
    entering the next round."""
    from jax.experimental.pallas import mosaic_gpu as plgpu

    def load(cc):
        return [agg_s[p, cc, x] for x in range(4)] if push else [
            plgpu.cluster_ref(agg_s, {"c": cc})[p, x] for x in range(4)]

    if seq:  # one program's aggregate at a time: fewer registers, one load latency per program
        def body(cc, st):
            mr, mi, er, ei = st
            Ar, Ai, Sr, Si = load(cc)
            mine = c == cc
            mr, mi = jnp.where(mine, er, mr), jnp.where(mine, ei, mi)
            er, ei = _cmul(Ar, Ai, er, ei)
            return mr, mi, er + Sr, ei + Si

        return lax.fori_loop(0, C, body, (er, ei, er, ei))
    peers = [load(cc) for cc in range(C)]
    mr, mi = er, ei
    for cc, (Ar, Ai, Sr, Si) in enumerate(peers):
        mine = c == cc
        mr, mi = jnp.where(mine, er, mr), jnp.where(mine, ei, mi)
        er, ei = _cmul(Ar, Ai, er, ei)
        er, ei = er + Sr, ei + Si
    return mr, mi, er, ei


def _write_y(y_refs, yl, yli, ur, ui, H, Q, mr, mi, *, T, S, complex_y):
    """Eq. 8 with the state entering each sub-tile: ``F = H_s + Q_s M``, ``y = y_loc + Re(u F)``."""
    Ts = T // S
    for s_ in range(S):
        Fr, Fi = _cmul(*Q[s_], mr, mi)
        Fr, Fi = Fr + H[s_][0], Fi + H[s_][1]
        for t in range(s_ * Ts, (s_ + 1) * Ts):
            y_refs[0][:, t, :] = (yl[t] + ur[t] * Fr - ui[t] * Fi).astype(y_refs[0].dtype)
            if complex_y:
                y_refs[1][:, t, :] = (yli[t] + ur[t] * Fi + ui[t] * Fr).astype(y_refs[1].dtype)


def _write_hL(h_s, hL_g, g, dsl, er, ei):
    from jax.experimental.pallas import mosaic_gpu as plgpu

    h_s[0], h_s[1] = er, ei
    plgpu.commit_smem()
    plgpu.copy_smem_to_gmem(h_s, hL_g.at[g, :, :, dsl])
    plgpu.wait_smem_to_gmem(0)


def _kernel(*refs, L, C, T, S, R, W, stages, has_a_im, complex_y, ctype, push, seq):
    """One round per pipeline step: scan, barrier, fold, ``y`` (calls 35-38)."""
    from jax.experimental.pallas import mosaic_gpu as plgpu

    n_in = 5 if has_a_im else 4
    ins, (h0_g,), outs = refs[:n_in], refs[n_in:n_in + 1], refs[n_in + 1:]
    y_g, hL_g = outs[:-1], outs[-1]
    g, j, c = lax.axis_index("g"), lax.axis_index("d"), lax.axis_index("c")
    dsl = pl.ds(j * W, W)
    kw = dict(T=T, S=S, R=R, W=W, has_a_im=has_a_im, ctype=ctype)

    def scoped(h_s, agg_s, bar):
        if push:
            _cluster_sync()  # every program has started before any writes into its shared memory

        def step(idx, *tiles_and_carry):
            *tiles, (er, ei) = tiles_and_carry
            yl, yli, ur, ui, H, Q = _local_scan(tiles[:n_in], **kw)
            p = lax.rem(idx[0], 2)
            _publish(agg_s, p, H, Q, c, C, push)
            _round_sync()
            mr, mi, er, ei = _fold(agg_s, p, c, C, er, ei, push, seq)
            _write_y(tiles[n_in:], yl, yli, ur, ui, H, Q, mr, mi, T=T, S=S, complex_y=complex_y)
            return er, ei

        plgpu.copy_gmem_to_smem(h0_g.at[g, :, :, dsl], h_s, bar)
        plgpu.barrier_wait(bar)
        spec = plgpu.BlockSpec((R, T, W), lambda i: (0, i * C + c, j))
        pipe = plgpu.emit_pipeline(step, grid=(L // (C * T),), in_specs=[spec] * n_in,
                                   out_specs=[spec] * len(y_g), max_concurrent_steps=stages,
                                   init_carry=(h_s[0], h_s[1]))
        er, ei = pipe(*(x.at[g] for x in ins), *(y.at[g] for y in y_g))
        _cluster_sync()  # no program leaves while a neighbour may still read its shared memory
        pl.when(c == 0)(lambda: _write_hL(h_s, hL_g, g, dsl, er, ei))

    pl.run_scoped(scoped, plgpu.SMEM((2, R, W), jnp.dtype(ctype)), plgpu.SMEM((2,) + ((C,) if push else ()) + (4, R, W), jnp.dtype(ctype)),
                  plgpu.Barrier(num_arrivals=1))


def _kernel_lag(*refs, L, C, T, S, R, W, stages, has_a_im, complex_y, ctype, push, seq):
    """The correction one round late (call 39): step ``s`` scans tile ``s``, then waits for round
    ``s - 1``'s barrier, folds that round and writes its ``y``, then publishes tile ``s``'s aggregate
    and arrives. The barrier's wait thus overlaps a tile's scan. ``y`` is stored by hand (two
    buffers), one step late; a last step re-reads the last tile to finish the last round."""
    from jax.experimental.pallas import mosaic_gpu as plgpu

    n_in = 5 if has_a_im else 4
    ins, (h0_g,), outs = refs[:n_in], refs[n_in:n_in + 1], refs[n_in + 1:]
    y_g, hL_g = outs[:-1], outs[-1]
    ny = len(y_g)
    n_it = L // (C * T)
    g, j, c = lax.axis_index("g"), lax.axis_index("d"), lax.axis_index("c")
    dsl = pl.ds(j * W, W)
    kw = dict(T=T, S=S, R=R, W=W, has_a_im=has_a_im, ctype=ctype)

    def scoped(h_s, agg_s, ybuf, bar):
        one = jnp.ones((R, W), ctype)
        zero = one * 0
        if push:
            _cluster_sync()  # every program has started before any writes into its shared memory
        _publish(agg_s, 1, [(zero, zero)], [(one, zero)], c, C, push)  # round -1: identity aggregates
        _cluster_arrive()

        def step(idx, *tiles_and_carry):
            *tiles, ((er, ei), prev) = tiles_and_carry
            s = idx[0]
            yl, yli, ur, ui, H, Q = _local_scan(tiles, **kw)
            _cluster_wait()  # round s - 1: every program has published its aggregate
            pp = lax.rem(s + 1, 2)
            mr, mi, er, ei = _fold(agg_s, pp, c, C, er, ei, push, seq)
            plgpu.wait_smem_to_gmem(ny, wait_read_only=True)  # the copies out of this buffer two steps ago
            pyl, pyli, pur, pui, pH, pQ = prev  # H, Q of the previous tile without their constant first entries
            pH, pQ = [(zero, zero)] + list(pH), [(one, zero)] + list(pQ)
            _write_y([ybuf.at[u, pp] for u in range(ny)], pyl, pyli, pur, pui, pH, pQ, mr, mi,
                     T=T, S=S, complex_y=complex_y)
            plgpu.commit_smem()
            start = ((s - 1) * C + c) * T
            for u in range(ny):
                plgpu.copy_smem_to_gmem(ybuf.at[u, pp], y_g[u].at[g, :, pl.ds(jnp.maximum(start, 0), T), dsl],
                                        predicate=s >= 1)
            _publish(agg_s, lax.rem(s, 2), H, Q, c, C, push)
            _cluster_arrive()
            return (er, ei), (yl, yli if complex_y else None, ur, ui, H[1:], Q[1:])

        plgpu.copy_gmem_to_smem(h0_g.at[g, :, :, dsl], h_s, bar)
        plgpu.barrier_wait(bar)
        spec = plgpu.BlockSpec((R, T, W), lambda i: (0, jnp.minimum(i, n_it - 1) * C + c, j))
        strided = plgpu.Layout.WG_STRIDED((R, W), vec_size=1)  # the loop carries the loaded rows' layout
        z, o = plgpu.layout_cast(zero, strided), plgpu.layout_cast(one, strided)
        prev0 = ([z] * T, [z] * T if complex_y else None, [z] * T, [z] * T, [(z, z)] * S, [(o, z)] * S)
        pipe = plgpu.emit_pipeline(step, grid=(n_it + 1,), in_specs=[spec] * n_in, out_specs=[],
                                   max_concurrent_steps=stages, init_carry=((h_s[0], h_s[1]), prev0))
        (er, ei), _ = pipe(*(x.at[g] for x in ins))
        _cluster_wait()  # the last arrival: no program leaves while a neighbour may read its memory
        plgpu.wait_smem_to_gmem(0)
        pl.when(c == 0)(lambda: _write_hL(h_s, hL_g, g, dsl, er, ei))

    pl.run_scoped(scoped, plgpu.SMEM((2, R, W), jnp.dtype(ctype)), plgpu.SMEM((2,) + ((C,) if push else ()) + (4, R, W), jnp.dtype(ctype)),
                  plgpu.SMEM((ny, 2, R, T, W), jnp.dtype(jnp.result_type(*(y.dtype for y in y_g)))),
                  plgpu.Barrier(num_arrivals=1))


def _kernel_2wg(*refs, L, C, T, S, R, W, stages, has_a_im, complex_y, ctype, push, seq):
    """Two warpgroups per program (call 43): warpgroup ``w`` of program ``c`` is the virtual program
    ``2 c + w`` of a cluster of ``2 C``, with tiles of ``T / 2`` steps; twice the warps per
    multiprocessor to hide latency (call 42's profile), the same rounds otherwise. Pallas allows only
    allocations shared by both warpgroups here, which ``emit_pipeline`` does not make, so the TMA
    pipeline is written out: each warpgroup its own buffers ``[w]`` and barriers."""
    from jax.experimental.pallas import mosaic_gpu as plgpu

    del push, seq  # not supported here (forward rejects them)

    n_in = 5 if has_a_im else 4
    ins, (h0_g,), outs = refs[:n_in], refs[n_in:n_in + 1], refs[n_in + 1:]
    y_g, hL_g = outs[:-1], outs[-1]
    ny = len(y_g)
    g, j, c, w = lax.axis_index("g"), lax.axis_index("d"), lax.axis_index("c"), lax.axis_index("wg")
    dsl = pl.ds(j * W, W)
    Th = T // 2
    n_it = L // (C * T)
    kw = dict(T=Th, S=S, R=R, W=W, has_a_im=has_a_im, ctype=ctype)
    v = 2 * c + w  # this warpgroup's place among the cluster's 2 C

    def rows(i):  # the steps of round i that this warpgroup owns
        return pl.ds((i * 2 * C + v) * Th, Th)

    def scoped(agg_s, h_s, bufs, ybuf, bar, hbar):
        def fetch(i, slot):
            for x in range(n_in):
                plgpu.copy_gmem_to_smem(ins[x].at[g, :, rows(i), dsl], bufs[x].at[w, slot], bar.at[w * stages + slot])

        plgpu.copy_gmem_to_smem(h0_g.at[g, :, :, dsl], h_s.at[w], hbar.at[w])
        for slot in range(min(stages, n_it)):
            fetch(slot, slot)
        plgpu.barrier_wait(hbar.at[w])

        def body(i, e):
            er, ei = e
            slot = lax.rem(i, stages)
            plgpu.barrier_wait(bar.at[w * stages + slot])
            yl, yli, ur, ui, H, Q = _local_scan([bufs[x].at[w, slot] for x in range(n_in)], **kw)
            p = lax.rem(i, 2)
            _publish(agg_s.at[p], w, H, Q, c, C, False)  # slot p, entry w
            _round_sync()  # also: every thread has read its tile, so its buffer may be refilled
            pl.when(i + stages < n_it)(lambda: fetch(i + stages, slot))

            def load(vv):
                src = plgpu.cluster_ref(agg_s, {"c": vv // 2})
                return [src[p, vv % 2, x] for x in range(4)]

            mr, mi = er, ei
            for vv, (Ar, Ai, Sr, Si) in enumerate([load(vv) for vv in range(2 * C)]):
                mine = v == vv
                mr, mi = jnp.where(mine, er, mr), jnp.where(mine, ei, mi)
                er, ei = _cmul(Ar, Ai, er, ei)
                er, ei = er + Sr, ei + Si
            plgpu.wait_smem_to_gmem(1, wait_read_only=True)  # this buffer's copy out, two rounds ago
            yb = [ybuf[u].at[w, p] for u in range(ny)]
            _write_y(yb, yl, yli, ur, ui, H, Q, mr, mi, T=Th, S=S, complex_y=complex_y)
            plgpu.commit_smem()
            for u in range(ny):
                plgpu.copy_smem_to_gmem(yb[u], y_g[u].at[g, :, rows(i), dsl], commit_group=u == ny - 1)
            return er, ei

        er, ei = lax.fori_loop(0, n_it, body, (h_s[w, 0], h_s[w, 1]))
        _cluster_sync()  # no program leaves while a neighbour may still read its shared memory
        plgpu.wait_smem_to_gmem(0)
        pl.when((c == 0) & (w == 0))(lambda: _write_hL(h_s.at[0], hL_g, g, dsl, er, ei))

    f32 = jnp.dtype(ctype)
    pl.run_scoped(scoped, plgpu.SMEM((2, 2, 4, R, W), f32), plgpu.SMEM((2, 2, R, W), f32),
                  [plgpu.SMEM((2, stages, R, Th, W), x.dtype) for x in ins],
                  [plgpu.SMEM((2, 2, R, Th, W), y.dtype) for y in y_g],
                  plgpu.Barrier(num_arrivals=n_in, num_barriers=2 * stages), plgpu.Barrier(num_arrivals=1, num_barriers=2),
                  collective_axes="wg")


@functools.partial(jax.jit, static_argnames=("ctype", "C", "T", "S", "stages", "complex_y", "lag", "push", "seq", "wgs"))
def forward(q, k, v, a_re, a_im, h0r, h0i, *, ctype="float32", C=16, T=32, S=4, stages=2,
            complex_y=False, lag=False, push=False, seq=False, wgs=1):
    """Eq. 7-8 on ``(B, L, D)`` planes in one pass; returns ``(y_re, y_im or None, hL_re, hL_im)``.

    ``q, k, v, a_re`` real ``(B, L, D)``, ``a_im`` the same or ``None`` (real ``a``), ``h0r, h0i``
    ``(B, D)``. ``C`` programs per cluster, tiles of ``T`` steps walked as ``S`` sub-tiles, ``stages``
    tiles in flight; ``lag``: the correction one round late (:func:`_kernel_lag`); ``push``: each
    program stores its aggregate into every program's shared memory instead of every program
    loading all of them from their owners (call 40); ``seq``: fold the aggregates one program at a
    time in a loop instead of loading all of them first (call 41); ``wgs=2``: two warpgroups per
    program (:func:`_kernel_2wg`, call 43; without the other three). The kernels ask for Pallas'
    lane semantics (JAX 0.11.2's default rejected a ``where`` with a scalar predicate, call 35).
    """
    from jax.experimental.pallas import mosaic_gpu as plgpu

    B, L, D = q.shape
    if wgs not in (1, 2) or (wgs == 2 and (lag or push or seq)):
        raise ValueError(f"cluster_scan.forward: wgs: expected 1, or 2 without lag, push, seq; got {wgs} "
                         f"(lag={lag}, push={push}, seq={seq})")
    why = unsupported(B, L, D, C, T, stages, jnp.dtype(q.dtype).itemsize, push) or (
        None if S >= 1 and (T // wgs) * wgs == T and (T // wgs) % S == 0 else
        f"S: expected a divisor of T / wgs = {T} / {wgs}, got {S}")
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
        functools.partial(_kernel_2wg if wgs == 2 else _kernel_lag if lag else _kernel, L=L, C=C, T=T, S=S,
                          R=R, W=W, stages=stages, has_a_im=has_a_im, complex_y=complex_y, ctype=ctype,
                          push=push, seq=seq),
        out_type=out_type, grid=(G, D // W), grid_names=("g", "d"), cluster=(C,), cluster_names=("c",),
        **(dict(num_threads=2, thread_name="wg") if wgs == 2 else {}),
        compiler_params=plgpu.CompilerParams(lowering_semantics=plgpu.LoweringSemantics.Lane))
    outs = run(*ins, h0)
    y_re = outs[0].reshape(B, L, D)
    y_im = outs[1].reshape(B, L, D) if complex_y else None
    hL = outs[-1].transpose(1, 0, 2, 3).reshape(2, B, D)
    return y_re, y_im, hL[0], hL[1]
