"""Tile helpers shared by the Pallas (Triton) kernels of :mod:`gl.kernels`.

Complex numbers travel as two real planes (``cmul``, ``conj``); a program loads and stores one
time row of ``block_d`` channels at a time (``row``, ``put``) and walks time in chunks with the
next chunk's loads in flight (``chunks``); ``Refs`` names a kernel's positional refs. The
launch helpers cut time into segments (``segment_geometry``), pass Triton's compiler options
(``triton_params``) and pad arrays for the Pallas interpreter (``pad_for_interpreter``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

__all__ = ["load_row", "store_row", "conj", "cmul", "chunks", "Refs", "program_ids", "segment_geometry",
           "triton_params", "pad_for_interpreter"]

def load_row(ref, b, n, d0, dmask, L, other, ctype, exact=False):
    """Row ``n`` (a time step) of ``ref[b, :, d0:d0+block_d]`` in ``ctype``; ``other`` past L and D.

    ``exact``: the tiles cover ``L`` and ``D`` exactly, so the load needs no mask."""
    if exact:
        return plgpu.load(ref.at[b, n, pl.ds(d0, dmask.shape[0])]).astype(ctype)
    m = dmask & (n < L)
    return plgpu.load(ref.at[b, jnp.minimum(n, L - 1), pl.ds(d0, dmask.shape[0])], mask=m,
                      other=other).astype(ctype)


def store_row(ref, b, n, d0, dmask, L, x, exact=False):
    if exact:
        return plgpu.store(ref.at[b, n, pl.ds(d0, dmask.shape[0])], x.astype(ref.dtype))
    plgpu.store(ref.at[b, jnp.minimum(n, L - 1), pl.ds(d0, dmask.shape[0])], x.astype(ref.dtype),
                mask=dmask & (n < L))


def conj(xi):
    return None if xi is None else -xi


def cmul(ar, ai, br, bi):
    """Complex product in planes; ``ai`` or ``bi`` may be ``None`` (real)."""
    if ai is None and bi is None:
        return ar * br, None
    if ai is None:
        return ar * br, ar * bi
    if bi is None:
        return ar * br, ai * br
    return ar * br - ai * bi, ar * bi + ai * br


def chunks(n_chunks, load, compute, state, prefetch, reverse=False):
    """``state = compute(c, load(c), state)`` for chunks ``c = 0 .. n_chunks - 1`` (or reversed).

    With ``prefetch`` the loads of the next chunk are issued before the current one is computed.
    """
    order = (lambda i: n_chunks - 1 - i) if reverse else (lambda i: i)
    if not prefetch:
        return jax.lax.fori_loop(0, n_chunks, lambda i, s: compute(order(i), load(order(i)), s), state)

    def body(i, carry):
        s, rows = carry
        nxt = load(order(jnp.minimum(i + 1, n_chunks - 1)))  # in flight during compute
        return compute(order(i), rows, s), nxt

    return jax.lax.fori_loop(0, n_chunks, body, (state, load(order(0))))[0]


class Refs:
    """Named access to a kernel's refs, in the order given by ``names`` (``None`` entries skipped)."""

    def __init__(self, names, refs):
        names = [n for n in names if n]
        assert len(names) == len(refs), (names, len(refs))
        self.__dict__.update(zip(names, refs))

    def get(self, name):
        return self.__dict__.get(name)


def program_ids(block_d, D):
    b, j, g = pl.program_id(0), pl.program_id(1), pl.program_id(2)
    d0 = j * block_d
    dmask = (d0 + jnp.arange(block_d)) < D
    return b, g, d0, dmask


def segment_geometry(L, chunk, segments):
    seg = -(-L // segments)
    Ls = -(-seg // chunk) * chunk  # steps per segment, a multiple of chunk
    return Ls, -(-L // Ls)  # (Ls, G)


def triton_params(interpret, block_d, num_warps):
    if interpret:
        return dict(interpret=True)
    return dict(compiler_params=plgpu.CompilerParams(num_warps=num_warps or max(1, block_d // 32), num_stages=1))


def pad_for_interpreter(arrays, fills, Lp, Dp):
    """The interpreter clamps out-of-range slices: pad ``(B, L, D)`` arrays instead of masking."""
    out = []
    for x, c in zip(arrays, fills):
        if x is None or x.ndim != 3:
            out.append(x if x is None or x.ndim != 2 else jnp.pad(x, ((0, 0), (0, Dp - x.shape[1]))))
        else:
            out.append(jnp.pad(x, ((0, 0), (0, Lp - x.shape[1]), (0, Dp - x.shape[2])), constant_values=c))
    return out

