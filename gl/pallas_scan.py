"""A fast GPU SISO GateLoop scan (eq. 7-8 with ``d_k = d_v = 1``) in Pallas (Triton backend).

The recurrence ``h_n = a_n h_{n-1} + k_n v_n``, ``y_n = Re(q_n h_n)`` reads 20 bytes and
writes 4 per channel and step (float32 ``q, k, v``, complex64 ``a``, real float32 ``y``): it is
memory-bound, so the kernel is built to stream its inputs once at full bandwidth:

* each program owns a block of ``block_d`` contiguous channels of one batch row and walks
  time in chunks of ``chunk`` steps; every row load is a wide, coalesced vector load;
* the loads of chunk ``c + 1`` are issued *before* chunk ``c`` is computed (an explicit
  register double buffer carried through the loop), so memory latency overlaps compute;
* when batch x channels are too few to fill the GPU, time is split into ``segments``:
  a first kernel computes each segment's summary ``(A_s, S_s)`` (the product of its ``a`` and
  its final state from zero, the two leaves of eq. 13), and the second kernel folds the
  summaries of earlier segments (eq. 13 again) into its initial state and writes ``y``.
  This costs one extra read of ``k, v, a`` (16 bytes per element) in exchange for parallelism.

``a`` may be complex or given in planar form ``(a_re, a_im)`` (two real arrays): a complex
array is split by XLA first (one extra pass over ``a``); planar and bfloat16 inputs avoid it.
Arithmetic is always in ``accumulate_dtype`` (float32).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

__all__ = ["gate_loop_siso", "default_config"]


def default_config(batch: int, L: int, D: int, itemsize: int = 4) -> dict:
    """Tile options for a ``(batch, L, D)`` problem with inputs of ``itemsize`` bytes.

    Chosen from a sweep on an H200 (``gl/assets/bench/NOTES.md``): with at least 16384 channels
    (``batch * D``) one pass over time (``segments = 1``), 256 (float32) or 512 (bfloat16)
    channels per program, two per thread; with fewer, time is split into ``segments`` (a power
    of two) until ``batch * D * segments >= 131072`` independent scans, keeping >= 256 steps
    per segment.
    """
    C = batch * D
    segments = 1
    if C < 16384:
        while C * segments < 131072 and L // (segments * 2) >= 256:
            segments *= 2
    bf16 = itemsize <= 2
    if segments == 1:
        block_d, num_warps = (512, 8) if bf16 else (256, 4)
    elif D <= 64:
        block_d, num_warps = 64, (1 if bf16 else 2)
    else:
        block_d, num_warps = (256, 4) if bf16 else (32, 1)
    return dict(block_d=block_d, chunk=16, segments=segments, prefetch=True, num_warps=num_warps)


def _rows(refs, b, n0, d0, dmask, chunk, L, others, ctype):
    """Load ``chunk`` rows (time steps n0 .. n0+chunk-1) of every ref; masked past L and D."""
    out = []
    for t in range(chunk):
        n = n0 + t
        m = dmask & (n < L)
        nn = jnp.minimum(n, L - 1)
        out.append(
            tuple(
                plgpu.load(r.at[b, nn, pl.ds(d0, dmask.shape[0])], mask=m, other=o).astype(ctype)
                for r, o in zip(refs, others)
            )
        )
    return out


def _kernel(*refs, L, Ls, chunk, block_d, summary, prefetch, has_h0, ctype):
    """One program: batch row ``b``, channels ``d0 .. d0+block_d``, time segment ``g``."""
    b, j, g = pl.program_id(0), pl.program_id(1), pl.program_id(2)
    d0 = j * block_d
    D = refs[0].shape[-1]
    dmask = (d0 + jnp.arange(block_d)) < D
    dsl = pl.ds(d0, block_d)
    zero = jnp.zeros((block_d,), ctype)
    if summary:  # inputs k, v, a_re, a_im; outputs A_re, A_im, S_re, S_im (B, G, D)
        k_ref, v_ref, ar_ref, ai_ref, Ar_ref, Ai_ref, Sr_ref, Si_ref = refs
        ins, others = (k_ref, v_ref, ar_ref, ai_ref), (0.0, 0.0, 1.0, 0.0)
        h_re, h_im = zero, zero
    else:  # inputs q, k, v, a_re, a_im, [h0_re, h0_im (B, D)], A/S summaries; outputs y, hL
        q_ref, k_ref, v_ref, ar_ref, ai_ref, *rest = refs
        if has_h0:
            h0r_ref, h0i_ref, *rest = rest
        Ar_ref, Ai_ref, Sr_ref, Si_ref, y_ref, hr_ref, hi_ref = rest
        ins, others = (q_ref, k_ref, v_ref, ar_ref, ai_ref), (0.0, 0.0, 0.0, 1.0, 0.0)
        if has_h0:
            h_re = plgpu.load(h0r_ref.at[b, dsl], mask=dmask, other=0.0).astype(ctype)
            h_im = plgpu.load(h0i_ref.at[b, dsl], mask=dmask, other=0.0).astype(ctype)
        else:
            h_re, h_im = zero, zero

        def fold(s, h):  # eq. 13: the summary of earlier segment s acts on the state
            hr, hi = h
            load = lambda r: plgpu.load(r.at[b, s, dsl], mask=dmask, other=0.0).astype(ctype)
            Ar, Ai, Sr, Si = load(Ar_ref), load(Ai_ref), load(Sr_ref), load(Si_ref)
            return Ar * hr - Ai * hi + Sr, Ar * hi + Ai * hr + Si

        h_re, h_im = jax.lax.fori_loop(0, g, fold, (h_re, h_im))

    n_start = g * Ls
    n_chunks = Ls // chunk
    load_chunk = lambda c: _rows(ins, b, n_start + c * chunk, d0, dmask, chunk, L, others, ctype)

    def compute(c, rows, state):
        h_re, h_im, A_re, A_im = state
        for t, row in enumerate(rows):
            if summary:
                k, v, ar, ai = row
                A_re, A_im = ar * A_re - ai * A_im, ar * A_im + ai * A_re
            else:
                q, k, v, ar, ai = row
            h_re, h_im = ar * h_re - ai * h_im + k * v, ar * h_im + ai * h_re  # eq. 7
            if not summary:
                n = n_start + c * chunk + t
                plgpu.store(
                    y_ref.at[b, jnp.minimum(n, L - 1), dsl],
                    (q * h_re).astype(y_ref.dtype),  # eq. 8, real part
                    mask=dmask & (n < L),
                )
        return h_re, h_im, A_re, A_im

    state = (h_re, h_im, zero + 1, zero)
    if prefetch:
        def body(c, carry):
            state, rows = carry
            nxt = load_chunk(jnp.minimum(c + 1, n_chunks - 1))  # in flight during compute
            return compute(c, rows, state), nxt

        state, _ = jax.lax.fori_loop(0, n_chunks, body, (state, load_chunk(0)))
    else:
        state = jax.lax.fori_loop(0, n_chunks, lambda c, s: compute(c, load_chunk(c), s), state)
    h_re, h_im, A_re, A_im = state
    if summary:
        outs = (Ar_ref, A_re), (Ai_ref, A_im), (Sr_ref, h_re), (Si_ref, h_im)
    else:
        outs = (hr_ref, h_re), (hi_ref, h_im)
    for r, x in outs:
        plgpu.store(r.at[b, g, dsl], x.astype(r.dtype), mask=dmask)


def _as_siso(name, x):
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected shape (..., L, D) or (..., L, H, 1), got {x.shape}")
    return x


@functools.partial(
    jax.jit,
    static_argnames=("accumulate_dtype", "interpret", "block_d", "chunk", "segments", "prefetch",
                     "num_warps"),
)
def _siso(q, k, v, a_re, a_im, h0, *, accumulate_dtype, interpret, block_d, chunk, segments, prefetch,
          num_warps=None):
    B, L, D = q.shape
    ctype = np.dtype(accumulate_dtype)
    seg = -(-L // segments)
    Ls = -(-seg // chunk) * chunk  # steps per segment, a multiple of chunk
    G = -(-L // Ls)
    ydt = jnp.result_type(q, k, v)
    if interpret:  # the interpreter clamps out-of-range slices: pad instead of masking
        Dp, Lp = -(-D // block_d) * block_d, G * Ls
        pad = lambda x, c=0.0: jnp.pad(x, ((0, 0), (0, Lp - L), (0, Dp - D)), constant_values=c)
        q, k, v, a_im = pad(q), pad(k), pad(v), pad(a_im)
        a_re = pad(a_re, 1.0)
        if h0 is not None:
            h0 = jnp.pad(h0, ((0, 0), (0, Dp - D)))
        L_run, D_run = Lp, Dp
    else:
        L_run, D_run = L, D
    grid = (B, -(-D_run // block_d), G)
    params = dict(interpret=interpret)
    if not interpret:
        params["compiler_params"] = plgpu.CompilerParams(
            num_warps=num_warps or max(1, block_d // 32), num_stages=1)
    kw = dict(L=L_run, Ls=Ls, chunk=chunk, block_d=block_d, prefetch=prefetch, ctype=ctype)
    summ_shape = jax.ShapeDtypeStruct((B, G, D_run), ctype)
    if G > 1:
        A_re, A_im, S_re, S_im = pl.pallas_call(
            functools.partial(_kernel, summary=True, has_h0=False, **kw),
            out_shape=(summ_shape,) * 4, grid=grid, **params,
        )(k, v, a_re, a_im)
    else:
        A_re = A_im = S_re = S_im = jnp.zeros((B, 1, D_run), ctype)
    h0_args = () if h0 is None else (jnp.real(h0).astype(ctype), jnp.imag(h0).astype(ctype))
    y, h_re, h_im = pl.pallas_call(
        functools.partial(_kernel, summary=False, has_h0=h0 is not None, **kw),
        out_shape=(jax.ShapeDtypeStruct((B, L_run, D_run), ydt), summ_shape, summ_shape),
        grid=grid, **params,
    )(q, k, v, a_re, a_im, *h0_args, A_re, A_im, S_re, S_im)
    hL = jax.lax.complex(h_re[:, -1, :D], h_im[:, -1, :D])
    return y[:, :L, :D], hL


def gate_loop_siso(q, k, v, a, h0=None, *, accumulate_dtype=jnp.float32, interpret=False,
                   block_d=None, chunk=None, segments=None, prefetch=None, num_warps=None):
    """SISO GateLoop (eq. 7-8, ``d_k = d_v = 1``) by a chunked Pallas scan; returns ``(y, h_L)``.

    Args:
      q, k, v: real gates and values, ``(..., L, D)`` or ``(..., L, H, 1)``; float32 or bfloat16.
      a: state transitions of the same shape: a complex array, or a pair ``(a_re, a_im)`` of real
        arrays (planar form: saves XLA's extra pass that splits a complex ``a``).
      h0: initial state ``(..., D)`` (or ``(..., H, 1, 1)``), complex; zeros when omitted.
      accumulate_dtype: dtype of the state arithmetic (float32).
      interpret: run the Pallas interpreter (CPU; for tests). On a non-GPU backend without it,
        raises ``RuntimeError``.
      block_d, chunk, segments, prefetch, num_warps: tile options (:func:`default_config` when
        omitted; ``num_warps`` defaults to ``block_d // 32``).

    Returns:
      ``y = Re(q_n h_n)`` real, in the dtype of ``q, k, v``, shaped like ``q``; and ``h_L``
      complex ``(..., D)`` (``(..., H, 1, 1)`` for the head layout).
    """
    if isinstance(a, (tuple, list)):
        if len(a) != 2:
            raise ValueError(f"a: expected a complex array or a pair (a_re, a_im), got {len(a)} arrays")
        a_re, a_im = (_as_siso("a", x) for x in a)
    else:
        a = _as_siso("a", a)
        if not jnp.issubdtype(a.dtype, jnp.complexfloating):
            a_re, a_im = a, jnp.zeros_like(a)
        else:
            a_re, a_im = jnp.real(a), jnp.imag(a)
    q, k, v = (_as_siso(n, x) for n, x in (("q", q), ("k", k), ("v", v)))
    for name, x in (("q", q), ("k", k), ("v", v), ("a", a_re)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"{name}: expected a real float array (float32/bfloat16), got {x.dtype}")
        if x.shape != q.shape:
            raise ValueError(f"{name}: expected the shape of q {q.shape}, got {x.shape}")
    if a_im.shape != q.shape:
        raise ValueError(f"a: expected imaginary part of shape {q.shape}, got {a_im.shape}")
    heads = q.ndim >= 3 and q.shape[-1] == 1
    if heads and v.shape[-1] != 1:
        raise ValueError(f"v: expected d_v = 1 for the SISO kernel, got shape {v.shape}")
    core = q.shape[:-1] if heads else q.shape  # (..., L, D)
    batch, (L, D) = core[:-2], core[-2:]
    if not interpret and jax.default_backend() != "gpu":
        raise RuntimeError(
            "gate_loop_siso: the Pallas Triton kernel needs a GPU backend, got "
            f"{jax.default_backend()!r}; pass interpret=True (slow) or use gl.gate_loop"
        )
    Bf = int(np.prod(batch, dtype=np.int64))
    flat = lambda x: x.reshape((Bf, L, D))
    if h0 is not None:
        h0 = jnp.asarray(h0).reshape((Bf, D))
    cfg = default_config(Bf, L, D, np.dtype(q.dtype).itemsize)
    for key, val in (("block_d", block_d), ("chunk", chunk), ("segments", segments), ("prefetch", prefetch),
                     ("num_warps", num_warps)):
        if val is not None:
            cfg[key] = val
    y, hL = _siso(flat(q), flat(k), flat(v), flat(a_re), flat(a_im), h0,
                  accumulate_dtype=np.dtype(accumulate_dtype).name, interpret=bool(interpret), **cfg)
    y = y.reshape(q.shape)
    hL = hL.reshape(batch + ((D, 1, 1) if heads else (D,)))
    return y, hL
