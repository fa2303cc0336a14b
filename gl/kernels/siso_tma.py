"""The SISO GateLoop forward (eq. 7-8, ``d_k = d_v = 1``) streamed through shared memory by TMA.

The Triton kernels of :mod:`gl.kernels.siso_scan` load every row of a chunk into registers,
each thread its own channels' values. Here the loads are bulk copies instead: Pallas' Mosaic
GPU backend (Hopper) runs one warpgroup (128 threads, one channel each) per program, owning ``block_d = 128`` channels of one
batch row, and :func:`jax.experimental.pallas.mosaic_gpu.emit_pipeline` keeps ``stages`` tiles of
``(chunk, 128)`` steps x channels of ``q, k, v, Re a, Im a`` in flight into shared memory with the
Tensor Memory Accelerator. Each thread walks its channel down the tile,
``h_n = a_n h_{n-1} + k_n v_n`` (eq. 7) and ``y_n = Re(q_n h_n)`` (eq. 8), writes ``y`` into an
output tile that the pipeline copies back, and carries ``h`` to the next tile in registers.

One pass over time only (no segments, no checkpoints for the backward pass): it serves the
plain forward where ``D`` is a multiple of 128 and ``L`` of ``chunk``; :mod:`gl.kernels.siso_scan`
dispatches to it (``backend="tma"``) and keeps its Triton kernels for everything else.
On a CPU, ``interpret=True`` runs JAX's Mosaic GPU interpreter (slow, for tests).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

__all__ = ["BLOCK_D", "SMEM_BYTES", "forward", "unsupported", "available", "smem_bytes"]

BLOCK_D = 128  # channels per program: one per thread of a warpgroup


def available() -> bool:
    """Whether the default device can run the kernel: a Hopper GPU (compute capability 9.x)."""
    if jax.default_backend() != "gpu":
        return False
    try:
        from jax.experimental.pallas import mosaic_gpu as plgpu
    except ImportError:  # a JAX without the Mosaic GPU backend
        return False
    if not (hasattr(plgpu, "emit_pipeline") and hasattr(plgpu, "kernel")):
        return False
    cc = str(getattr(jax.devices()[0], "compute_capability", ""))
    return cc.split(".")[0] == "9"


# shared memory a program may hold on a Hopper GPU (227 KiB), less 2 KiB for the pipeline's barriers
# and the state tile
SMEM_BYTES = 225 * 1024


def smem_bytes(chunk: int, stages: int, itemsize: int, complex_y: bool = False) -> int:
    """Shared memory of the pipeline: ``stages`` tiles of ``(chunk, 128)`` for each of the five
    inputs and one or two ``y`` planes (all of ``itemsize`` bytes); an upper bound for a real ``a``
    (four input planes)."""
    return stages * chunk * BLOCK_D * itemsize * (5 + 1 + bool(complex_y))


def unsupported(L: int, D: int, chunk: int, stages: int, itemsize: int = 4, complex_y: bool = False) -> str | None:
    """Why ``(·, L, D)`` with these options cannot run here (``None`` if it can)."""
    if D % BLOCK_D:
        return f"D: expected a multiple of {BLOCK_D}, got {D}"
    if chunk < 1 or L % chunk:
        return f"chunk: expected a positive divisor of L = {L}, got {chunk}"
    if stages < 1:
        return f"stages: expected a positive integer, got {stages}"
    need = smem_bytes(chunk, stages, itemsize, complex_y)
    if need > SMEM_BYTES:
        return (f"chunk x stages: expected at most {SMEM_BYTES} bytes of shared memory, got {need} "
                f"(chunk={chunk}, stages={stages}, {itemsize}-byte inputs)")
    return None


def _honour_predicated_stores():
    """JAX 0.10's Mosaic GPU interpreter raises on the predicated shared-to-global copies that
    ``emit_pipeline`` issues for its output tiles; make it honour the predicate instead (copy when
    true, as the hardware does). Installed once, on the first ``interpret=True`` call (the
    interpreter's callbacks are bound when the jitted call is lowered, after tracing)."""
    try:
        from jax._src.pallas.mosaic_gpu.interpret import gpu_callbacks
    except ImportError:  # pragma: no cover - other JAX versions
        return
    original = gpu_callbacks.copy_smem_to_gmem
    if getattr(original, "_gl_honours_predicate", False):
        return

    def copy(*, predicate=None, **kw):
        if predicate is not None and not bool(predicate):
            return kw["token"]
        return original(predicate=None, **kw)

    copy._gl_honours_predicate = True
    gpu_callbacks.copy_smem_to_gmem = copy


def _kernel(*refs, L, chunk, stages, has_a_im, complex_y, ctype):
    """Program ``(b, j)``: channels ``j * 128 ..`` of batch row ``b``, all ``L`` steps."""
    from jax.experimental.pallas import mosaic_gpu as plgpu

    n_in = 5 if has_a_im else 4
    ins, (h0_g,), outs = refs[:n_in], refs[n_in:n_in + 1], refs[n_in + 1:]
    y_g, hL_g = outs[:-1], outs[-1]  # y_re (, y_im), final state planes
    b, j = lax.axis_index("b"), lax.axis_index("d")
    dsl = pl.ds(j * BLOCK_D, BLOCK_D)

    def step(idx, *tiles_and_carry):
        *tiles, (hr, hi) = tiles_and_carry
        q_s, k_s, v_s, ar_s = tiles[:4]
        ai_s = tiles[4] if has_a_im else None
        y_s = tiles[n_in:]
        for t in range(chunk):
            ar = ar_s[t].astype(ctype)
            kv = k_s[t].astype(ctype) * v_s[t].astype(ctype)
            if ai_s is None:
                hr, hi = ar * hr + kv, ar * hi
            else:
                ai = ai_s[t].astype(ctype)
                hr, hi = ar * hr - ai * hi + kv, ar * hi + ai * hr  # eq. 7
            q = q_s[t].astype(ctype)
            y_s[0][t] = (q * hr).astype(y_s[0].dtype)  # eq. 8, Re(q h) for real q
            if complex_y:
                y_s[1][t] = (q * hi).astype(y_s[1].dtype)
        return hr, hi

    def scoped(h_s, bar):
        plgpu.copy_gmem_to_smem(h0_g.at[b, :, dsl], h_s, bar)
        plgpu.barrier_wait(bar)
        h = (h_s[0], h_s[1])
        spec = plgpu.BlockSpec((chunk, BLOCK_D), lambda i: (i, j))
        pipe = plgpu.emit_pipeline(step, grid=(L // chunk,), in_specs=[spec] * n_in, out_specs=[spec] * len(y_g),
                                   max_concurrent_steps=stages, init_carry=h)
        hr, hi = pipe(*(x.at[b] for x in ins), *(y.at[b] for y in y_g))
        h_s[0], h_s[1] = hr, hi
        plgpu.commit_smem()
        plgpu.copy_smem_to_gmem(h_s, hL_g.at[b, :, dsl])
        plgpu.wait_smem_to_gmem(0)

    pl.run_scoped(scoped, plgpu.SMEM((2, BLOCK_D), jnp.dtype(ctype)), plgpu.Barrier(num_arrivals=1))


@functools.partial(jax.jit, static_argnames=("ctype", "chunk", "stages", "complex_y", "interpret"))
def forward(q, k, v, a_re, a_im, h0r, h0i, *, ctype, chunk, stages, complex_y=False, interpret=False):
    """Eq. 7-8 on ``(B, L, D)`` planes in one pass; returns ``(y_re, y_im or None, hL_re, hL_im)``.

    ``q, k, v, a_re`` real ``(B, L, D)`` (float32 or bfloat16), ``a_im`` the same or ``None`` (real
    ``a``), ``h0r, h0i`` ``(B, D)``. ``y`` comes in the dtype of ``q, k, v``, the final state in
    ``ctype``. ``D`` must be a multiple of 128 and ``L`` of ``chunk`` (:func:`unsupported`).
    """
    from jax.experimental.pallas import mosaic_gpu as plgpu

    B, L, D = q.shape
    why = unsupported(L, D, chunk, stages, jnp.dtype(q.dtype).itemsize, complex_y)
    if why:
        raise ValueError(f"gl.kernels.siso_tma.forward: {why}")
    has_a_im = a_im is not None
    ins = (q, k, v, a_re) + ((a_im,) if has_a_im else ())
    ydt = jnp.result_type(q, k, v)
    h0 = jnp.stack([h0r, h0i], axis=1).astype(ctype)  # (B, 2, D): one bulk copy per program
    plane = jax.ShapeDtypeStruct((B, L, D), ydt)
    out_type = (plane,) * (2 if complex_y else 1) + (jax.ShapeDtypeStruct((B, 2, D), ctype),)
    kw = {}
    if interpret:
        from jax._src.pallas.mosaic_gpu.interpret.params import InterpretGPUParams
        kw["interpret"] = InterpretGPUParams()
        _honour_predicated_stores()
    run = plgpu.kernel(
        functools.partial(_kernel, L=L, chunk=chunk, stages=stages, has_a_im=has_a_im, complex_y=complex_y,
                          ctype=ctype),
        out_type=out_type, grid=(B, D // BLOCK_D), grid_names=("b", "d"), **kw)
    outs = run(*ins, h0)
    y_re, y_im = outs[0], (outs[1] if complex_y else None)
    return y_re, y_im, outs[-1][:, 0], outs[-1][:, 1]
