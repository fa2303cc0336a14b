"""A fast GPU SISO GateLoop scan (eq. 7-8 with ``d_k = d_v = 1``) and its backward pass, in Pallas.

The recurrence ``h_n = a_n h_{n-1} + k_n v_n``, ``y_n = q_n h_n`` reads 20 bytes and writes 4 per
channel and step (float32 ``q, k, v``, complex ``a`` as two float32 planes, real ``y = Re(q h)``):
it is memory-bound, so the kernels are built to stream their inputs once at full bandwidth:

* each program owns a block of ``block_d`` contiguous channels of one batch row and walks
  time in chunks of ``chunk`` steps; a row load reads ``block_d`` contiguous channels (coalesced);
* the loads of chunk ``c + 1`` are issued *before* chunk ``c`` is computed (an explicit
  register double buffer carried through the loop), so that memory latency can overlap compute;
* when batch x channels are too few to fill the GPU, time is split into ``segments``:
  a first kernel computes each segment's summary ``(A_s, S_s)`` (the product of its ``a`` and
  its final state from zero, the two leaves of eq. 13), and the second kernel folds the
  summaries of earlier segments (eq. 13 again) into its initial state and writes ``y``.
  This costs one extra read of ``k, v, a`` (16 bytes per element) in exchange for parallelism.

The backward pass (:func:`siso_scan`, a ``jax.custom_vjp``) is the same machinery run backwards
in time. The kernels see only real planes, so cotangents are plane gradients: for a complex
quantity ``z`` write ``z̄ = ∂ℓ/∂Re z + i ∂ℓ/∂Im z``. Multiplication by ``c`` pulls back as
multiplication by ``conj(c)``, so the state's cotangent obeys the reversed recurrence
``g_n = conj(a_{n+1}) g_{n+1} + q_n ȳ_n`` with ``g_L = h̄_L``, and

    q̄_n = Re(conj(h_n) ȳ_n),  k̄_n = v_n Re g_n,  v̄_n = k_n Re g_n,
    ā_n = conj(h_{n-1}) g_n,  h̄_0 = conj(a_1) g_1.

The forward kernel saves the state entering each chunk (8 bytes per ``chunk`` steps); the
backward kernel recomputes the ``chunk`` states of a chunk in registers from it, then walks
the chunk backwards. Backward segments use reverse summaries ``(Π a_{n+1}, g from zero)``.

``a`` may be complex or given in planar form ``(a_re, a_im)`` (two real arrays): a complex
array is split by XLA first (one extra pass over ``a``); planar and bfloat16 inputs avoid it.
Arithmetic is always in ``accumulate_dtype`` (float32). On a CPU the kernels run in the Pallas
interpreter (``interpret=True``): slow, for tests. On a Hopper GPU the plain forward in one pass
runs :mod:`gl.kernels.siso_tma` instead (tiles copied into shared memory by TMA; ``backend="tma"``,
chosen by :func:`default_config`). Ground truth: :func:`gl.gate_loop_reference`
(``tests/test_kernels_siso_scan.py``); the Pallas programs are in :mod:`gl.kernels.siso_kernels`.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl

from . import siso_tma
from .common import pad_for_interpreter, segment_geometry, triton_params
from .siso_kernels import bwd_kernel, bwd_summary_kernel, fwd_kernel, fwd_summary_kernel

__all__ = ["gate_loop_siso", "siso_scan", "default_config", "options"]


def default_config(batch: int, L: int, D: int, itemsize: int = 4, grad: bool = False, tma: bool = False) -> dict:
    """Tile options for a ``(batch, L, D)`` problem with inputs of ``itemsize`` bytes.

    ``tma``: the device runs :mod:`gl.kernels.siso_tma` (a Hopper GPU). Then the plain forward
    in one pass (at least 8192 channels) with ``D`` a multiple of 128 runs there
    (``backend="tma"``), with the tiles of :data:`TMA_TILES`; everything else runs the Triton
    kernels of :mod:`gl.kernels.siso_kernels` (``backend="triton"``). The rules (the fastest of
    the H100 tile sweeps; the measurements are in ``experiments/NOTES.md``):

    * forward, at least 8192 channels (``batch * D``): one pass over time (``segments = 1``),
      128 channels per program (256 for bfloat16 from 32768 channels), 4 warps, chunks of 16;
    * forward, fewer channels: time split into ``segments`` (a power of two) until
      ``batch * D * segments >= 65536`` independent scans, keeping >= 256 steps per segment;
      64 channels per program (``D <= 64``, 2 warps) or 128 (4 warps), chunks of 8; for bfloat16
      chunks of 16, or at ``D <= 64`` one warp (two channels per thread);
    * ``grad=True`` (the forward that saves checkpoints, and the backward pass): chunks of 8
      steps (the backward keeps a chunk's recomputed states in registers), segments from
      ``batch * D < 16384`` channels (target 32768 scans; 65536 under 4096 channels), 256
      channels per program in one pass from 32768 channels;
    * ``masked``: where the tiles cover ``L`` and ``D`` exactly the forward kernels load and store
      without masks, except in one pass from 32768 channels; the differentiated pass keeps them.
    """
    C = batch * D
    bf16 = itemsize <= 2
    if grad:
        single = C >= 16384
        target = 32768 if C >= 4096 else 65536
    else:
        single = C >= 8192
        target = 65536
    segments = 1
    if not single:
        while C * segments < target and L // (segments * 2) >= 256:
            segments *= 2
    if segments == 1:
        block_d = 256 if (C >= 32768 and (bf16 or grad)) else 128
        num_warps, chunk = 4, (8 if grad else 16)
    else:
        block_d, num_warps = (64, 2) if D <= 64 else (128, 4)
        chunk = 8
        if bf16 and not grad:  # two channels per thread at D <= 64, else chunks of 16
            num_warps, chunk = (1, 8) if D <= 64 else (num_warps, 16)
    # masked: keep the load/store masks even where the tiles cover L and D exactly
    masked = grad or (segments == 1 and C >= 32768)
    cfg = dict(backend="triton", block_d=block_d, chunk=chunk, segments=segments, prefetch=True,
               num_warps=num_warps, masked=masked, stages=1)
    if tma and not grad and segments == 1:
        t_chunk, stages = TMA_TILES[bf16]
        if siso_tma.unsupported(L, D, t_chunk, stages, itemsize) is None:
            cfg.update(backend="tma", block_d=siso_tma.BLOCK_D, chunk=t_chunk, stages=stages)
    return cfg


#: ``(chunk, stages)`` of the TMA forward by input width (bfloat16: True)
TMA_TILES = {False: (8, 4), True: (32, 3)}
# tile options only the Triton kernels take: given without ``backend``, they select Triton
TRITON_ONLY = ("block_d", "segments", "prefetch", "num_warps", "masked")


@functools.partial(jax.jit, static_argnames=("ctype", "interpret", "block_d", "chunk", "segments",
                                             "prefetch", "num_warps", "complex_y", "save_ck", "masked",
                                             "backend", "stages"))
def _forward(q, k, v, a_re, a_im, h0r, h0i, *, ctype, interpret, block_d, chunk, segments, prefetch,
             num_warps, complex_y, save_ck, masked, backend="triton", stages=1):
    """``(B, L, D)`` planes in; ``(y_re, y_im or None, hL_re, hL_im, checkpoints or None)`` out."""
    B, L, D = q.shape
    if backend == "tma":  # one pass through shared memory (gl.kernels.siso_tma; options() checked the tiles)
        if save_ck:  # the differentiated pass: always Triton (_grad_opts)
            raise ValueError("backend='tma' saves no checkpoints for the backward pass")
        return siso_tma.forward(q, k, v, a_re, a_im, h0r, h0i, ctype=ctype, chunk=chunk, stages=stages,
                                  complex_y=complex_y, interpret=interpret) + (None,)
    Ls, G = segment_geometry(L, chunk, segments)
    has_a_im, has_h0 = a_im is not None, h0r is not None
    ydt = jnp.result_type(q, k, v)
    if interpret:
        Dp = -(-D // block_d) * block_d
        q, k, v, a_re, a_im, h0r, h0i = pad_for_interpreter(
            (q, k, v, a_re, a_im, h0r, h0i), (0, 0, 0, 1, 0, 0, 0), G * Ls, Dp)
        L_run, D_run = G * Ls, Dp
    else:
        L_run, D_run = L, D
    grid = (B, -(-D_run // block_d), G)
    params = triton_params(interpret, block_d, num_warps)
    exact = not masked and G * Ls == L and D % block_d == 0  # no masks (the same test in interpret mode)
    kw = dict(L=L_run, Ls=Ls, chunk=chunk, block_d=block_d, prefetch=prefetch, has_a_im=has_a_im, ctype=ctype,
              exact=exact)
    summ = jax.ShapeDtypeStruct((B, G, D_run), ctype)
    a_planes = (a_re,) + ((a_im,) if has_a_im else ())
    if G > 1:
        A = pl.pallas_call(functools.partial(fwd_summary_kernel, **kw), out_shape=(summ,) * 4, grid=grid,
                           **params, name="gl_siso_summary")(k, v, *a_planes)
    else:
        A = (jnp.zeros((B, 1, D_run), ctype),) * 4
    plane = jax.ShapeDtypeStruct((B, L_run, D_run), ydt)
    n_ck = G * (Ls // chunk)
    out_shape = [plane] + ([plane] if complex_y else []) + [summ, summ]
    if save_ck:
        out_shape += [jax.ShapeDtypeStruct((B, n_ck, D_run), ctype)] * 2
    h0 = (h0r.astype(ctype), h0i.astype(ctype)) if has_h0 else ()
    outs = pl.pallas_call(
        functools.partial(fwd_kernel, has_h0=has_h0, complex_y=complex_y, save_ck=save_ck, **kw),
        out_shape=tuple(out_shape), grid=grid, **params, name="gl_siso_outputs",
    )(q, k, v, *a_planes, *h0, *A)
    outs = list(outs)
    y_re = outs.pop(0)[:, :L, :D]
    y_im = outs.pop(0)[:, :L, :D] if complex_y else None
    h_re, h_im = outs.pop(0), outs.pop(0)
    ck = (outs[0], outs[1]) if save_ck else None
    return y_re, y_im, h_re[:, -1, :D], h_im[:, -1, :D], ck


@functools.partial(jax.jit, static_argnames=("ctype", "interpret", "block_d", "chunk", "segments",
                                             "prefetch", "num_warps"))
def _backward(q, k, v, a_re, a_im, ybr, ybi, ckr, cki, hLr, hLi, *, ctype, interpret, block_d, chunk,
              segments, prefetch, num_warps):
    """Cotangents ``(q̄, k̄, v̄, ā_re, ā_im or None, h̄0_re, h̄0_im)`` of :func:`_forward`."""
    B, L, D = q.shape
    Ls, G = segment_geometry(L, chunk, segments)
    has_a_im, has_yb_im = a_im is not None, ybi is not None
    if interpret:
        Dp = -(-D // block_d) * block_d
        q, k, v, a_re, a_im, ybr, ybi, hLr, hLi = pad_for_interpreter(
            (q, k, v, a_re, a_im, ybr, ybi, hLr, hLi), (0, 0, 0, 1, 0, 0, 0, 0, 0), G * Ls, Dp)
        L_run, D_run = G * Ls, Dp
    else:
        L_run, D_run = L, D
    grid = (B, -(-D_run // block_d), G)
    params = triton_params(interpret, block_d, num_warps)
    kw = dict(L=L_run, Ls=Ls, chunk=chunk, block_d=block_d, prefetch=prefetch, has_a_im=has_a_im,
              has_yb_im=has_yb_im, ctype=ctype)
    summ = jax.ShapeDtypeStruct((B, G, D_run), ctype)
    a_planes = (a_re,) + ((a_im,) if has_a_im else ())
    yb = (ybr,) + ((ybi,) if has_yb_im else ())
    if G > 1:
        S = pl.pallas_call(functools.partial(bwd_summary_kernel, **kw), out_shape=(summ,) * 4, grid=grid,
                           **params)(q, *a_planes, *yb)
    else:
        S = (jnp.zeros((B, 1, D_run), ctype),) * 4
    hL = (hLr.astype(ctype), hLi.astype(ctype))
    grads = [jax.ShapeDtypeStruct((B, L_run, D_run), x.dtype) for x in (q, k, v)]
    grads += [jax.ShapeDtypeStruct((B, L_run, D_run), x.dtype) for x in a_planes]
    outs = pl.pallas_call(functools.partial(bwd_kernel, G=G, **kw), out_shape=tuple(grads) + (summ, summ),
                          grid=grid, **params)(q, k, v, *a_planes, *yb, ckr, cki, *hL, *S)
    outs = list(outs)
    crop = lambda x: x[:, :L, :D]
    qb, kb, vb, abr = (crop(outs.pop(0)) for _ in range(4))
    abi = crop(outs.pop(0)) if has_a_im else None
    h0br, h0bi = outs[0][:, 0, :D], outs[1][:, 0, :D]
    return qb, kb, vb, abr, abi, h0br, h0bi


# ----------------------------------------------------------------------------- differentiable scan

@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def siso_scan(q, k, v, a_re, a_im, h0r, h0i, opts):
    """Eq. 7-8 for SISO channels on ``(B, L, D)`` planes, differentiable (reverse mode).

    ``q, k, v, a_re``: real ``(B, L, D)``; ``a_im``: ``(B, L, D)`` or ``None`` (real ``a``);
    ``h0r, h0i``: ``(B, D)``. ``opts``: a hashable tuple of :func:`_forward` options
    (``(("block_d", 64), ...)``, with ``complex_y``, and under ``"grad"`` the tile options of
    the differentiated forward and the backward pass): :func:`options`. Returns ``(y_re, y_im, hL_re, hL_im)``,
    ``y_im`` ``None`` unless ``complex_y``.
    """
    o = {key: val for key, val in opts if key != "grad"}
    y_re, y_im, hr, hi, _ = _forward(q, k, v, a_re, a_im, h0r, h0i, save_ck=False, **o)
    return y_re, y_im, hr, hi


def _grad_opts(opts):
    """The options of the forward with checkpoints and of the backward pass."""
    o = dict(opts)
    return dict(o.pop("grad"), **{key: o[key] for key in ("ctype", "interpret", "complex_y")})


def _siso_fwd(q, k, v, a_re, a_im, h0r, h0i, opts):
    y_re, y_im, hr, hi, ck = _forward(q, k, v, a_re, a_im, h0r, h0i, save_ck=True, **_grad_opts(opts))
    return (y_re, y_im, hr, hi), (q, k, v, a_re, a_im, h0r, ck)


def _siso_bwd(opts, res, cts):
    q, k, v, a_re, a_im, h0r, ck = res
    ybr, ybi, hLr, hLi = cts
    # forward-only options: the backward kernels always mask (they read a_{n+1} one past the end)
    # and always run Triton (default_config with grad=True)
    o = {key: val for key, val in _grad_opts(opts).items() if key not in ("complex_y", "masked", "backend", "stages")}
    qb, kb, vb, abr, abi, h0br, h0bi = _backward(q, k, v, a_re, a_im, ybr, ybi, *ck, hLr, hLi, **o)
    return qb, kb, vb, abr, abi, h0br.astype(h0r.dtype), h0bi.astype(h0r.dtype)


siso_scan.defvjp(_siso_fwd, _siso_bwd)


# ----------------------------------------------------------------------------- public forward

def _layout(layout, shape) -> bool:
    """Whether ``q`` of ``shape`` is in the head layout ``(..., L, H, 1)`` (``layout``: see
    :func:`gate_loop_siso`); a shape that fits both layouts needs ``layout``."""
    if layout not in (None, "channels", "heads"):
        raise ValueError(f"layout: expected None, 'channels' or 'heads', got {layout!r}")
    fits_heads = len(shape) >= 3 and shape[-1] == 1
    if layout == "heads" and not fits_heads:
        raise ValueError(f"q: expected shape (..., L, H, 1) for layout='heads', got {shape}")
    if layout is None and fits_heads:
        raise ValueError(f"q: shape {shape} is (..., L, D = 1) or (..., L, H, 1): pass "
                         f"layout='channels' (scan over axis -2) or layout='heads' (axis -3)")
    return layout == "heads"


def _as_siso(name, x):
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected shape (..., L, D) or (..., L, H, 1), got {x.shape}")
    return x


def options(batch, L, D, itemsize=4, interpret=False, accumulate_dtype=jnp.float32, tma=False, **overrides):
    """The static options of :func:`siso_scan` for a ``(batch, L, D)`` problem, as a hashable tuple.

    Tile options given in ``overrides`` hold for the forward and the backward pass; those not
    given come from :func:`default_config`, separately for the plain forward (``grad=False``)
    and for the forward with checkpoints and the backward pass (``grad=True``, under the key
    ``"grad"``). ``tma``: the device runs :mod:`gl.kernels.siso_tma`; ``backend`` in ``overrides``
    forces a backend, and without it an option only the Triton kernels take (:data:`TRITON_ONLY`)
    selects them. With ``backend="tma"`` the tile options (``chunk``, ``stages``) are the TMA
    forward's, and the differentiated pass keeps the Triton defaults.
    """
    backend = overrides.get("backend")
    if backend not in (None, "triton", "tma"):
        raise ValueError(f"backend: expected 'triton' or 'tma', got {backend!r}")
    if backend is None:
        tma = tma and not any(overrides.get(key) is not None for key in TRITON_ONLY)
    cfg = default_config(batch, L, D, itemsize, tma=tma if backend is None else backend == "tma")
    if backend == "tma" and cfg["backend"] != "tma":  # forced: one pass of 128 channels per program
        chunk, stages = TMA_TILES[itemsize <= 2]
        cfg.update(backend="tma", block_d=siso_tma.BLOCK_D, segments=1, chunk=chunk, stages=stages)
    given = {key: val for key, val in overrides.items() if val is not None}
    tiles = {} if cfg["backend"] == "tma" else {key: val for key, val in given.items() if key in cfg}
    cfg.update(given)
    cfg["grad"] = tuple(sorted(dict(default_config(batch, L, D, itemsize, grad=True), **tiles).items()))
    cfg.update(ctype=np.dtype(accumulate_dtype).name, interpret=bool(interpret))
    cfg.setdefault("complex_y", False)
    if cfg["chunk"] < 1 or cfg["block_d"] < 1 or cfg["segments"] < 1 or cfg["stages"] < 1:
        raise ValueError(f"chunk, block_d, segments, stages: expected positive integers, got {cfg}")
    if cfg["backend"] == "tma":
        why = siso_tma.unsupported(L, D, cfg["chunk"], cfg["stages"], itemsize, cfg.get("complex_y", False))
        if why is None and (cfg["segments"] != 1 or cfg["block_d"] != siso_tma.BLOCK_D):
            why = f"segments, block_d: expected 1 and {siso_tma.BLOCK_D}, got {cfg['segments']} and {cfg['block_d']}"
        if why:
            raise ValueError(f"backend='tma': {why}")
    return tuple(sorted(cfg.items()))


def gate_loop_siso(q, k, v, a, h0=None, *, accumulate_dtype=jnp.float32, interpret=False, complex_y=False,
                   block_d=None, chunk=None, segments=None, prefetch=None, num_warps=None, masked=None,
                   backend=None, stages=None, layout=None):
    """SISO GateLoop (eq. 7-8, ``d_k = d_v = 1``) by a chunked Pallas scan; returns ``(y, h_L)``.

    Args:
      q, k, v: real gates and values, ``(..., L, D)`` or ``(..., L, H, 1)`` (``layout``);
        float32 or bfloat16 (float64 and float16 are refused: use :func:`gl.gate_loop`).
      a: state transitions of the same shape: a complex array, or a pair ``(a_re, a_im)`` of real
        arrays (planar form: saves XLA's extra pass that splits a complex ``a``), or a real array.
      h0: initial state ``(..., D)`` or ``(..., D, 1, 1)`` (``D = H`` for the head layout),
        complex; zeros when omitted. Any other shape is a ``ValueError``.
      layout: ``"channels"``: ``(..., L, D)``; ``"heads"``: ``(..., L, H, 1)``, the layout of
        :func:`gl.gate_loop`. ``None`` (default): ``"channels"``, unless ``q`` has 3 or more
        dimensions and a last one of 1; that shape is ``(..., L, D = 1)`` or ``(..., L, H, 1)``
        and is refused (``ValueError``) until ``layout`` says which.
      accumulate_dtype: dtype of the state arithmetic (float32).
      interpret: run the Pallas interpreter (CPU; for tests). On a non-GPU backend without it,
        raises ``RuntimeError``.
      complex_y: return the complex ``y = q h`` (one more plane written) instead of ``Re(q h)``.
      block_d, chunk, segments, prefetch, num_warps, masked: tile options (:func:`default_config`
        when omitted; ``num_warps`` defaults to ``block_d // 32``; ``masked=True`` keeps the
        load/store masks where the tiles fit exactly, ``False`` drops them there).
      backend: ``"tma"`` (:mod:`gl.kernels.siso_tma`, the forward through shared memory on a Hopper GPU)
        or ``"triton"``; by default ``"tma"`` where the device and shape allow it
        (:func:`default_config`) and no Triton-only option (``block_d, segments, prefetch,
        num_warps, masked``) is given, else ``"triton"``. The backward pass always runs Triton.
      stages: TMA tiles in flight (``backend="tma"``).

    Returns:
      ``y = Re(q_n h_n)`` real in the dtype of ``q, k, v`` (complex64 ``q_n h_n`` with
      ``complex_y``), shaped like ``q``; and ``h_L`` complex ``(..., D)`` (``(..., H, 1, 1)`` for
      the head layout). Differentiable in reverse mode (:func:`siso_scan`).
    """
    if isinstance(a, (tuple, list)):
        if len(a) != 2:
            raise ValueError(f"a: expected a complex array or a pair (a_re, a_im), got {len(a)} arrays")
        a_re, a_im = (_as_siso("a", x) for x in a)
    else:
        a = _as_siso("a", a)
        if jnp.issubdtype(a.dtype, jnp.complexfloating):
            a_re, a_im = jnp.real(a), jnp.imag(a)
        else:
            a_re, a_im = a, None
    q, k, v = (_as_siso(n, x) for n, x in (("q", q), ("k", k), ("v", v)))
    for name, x in (("q", q), ("k", k), ("v", v), ("a", a_re)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"{name}: expected a real float array (float32/bfloat16), got {x.dtype}")
        if name != "a" and x.dtype not in (jnp.float32, jnp.bfloat16):  # y comes back in it
            raise TypeError(f"{name}: expected float32 or bfloat16 (the kernel computes in float32), "
                            f"got {x.dtype}; use gl.gate_loop for other dtypes")
        if x.shape != q.shape:
            raise ValueError(f"{name}: expected the shape of q {q.shape}, got {x.shape}")
    if a_im is not None and a_im.shape != q.shape:
        raise ValueError(f"a: expected imaginary part of shape {q.shape}, got {a_im.shape}")
    heads = _layout(layout, q.shape)
    core = q.shape[:-1] if heads else q.shape  # (..., L, D)
    batch, (L, D) = core[:-2], core[-2:]
    if backend == "tma" and not interpret and not siso_tma.available():
        raise RuntimeError("gate_loop_siso: backend='tma' needs a Hopper GPU (compute capability 9.x); "
                           "pass backend='triton' or interpret=True")
    if not interpret and jax.default_backend() != "gpu":
        raise RuntimeError(
            "gate_loop_siso: the Pallas Triton kernel needs a GPU backend, got "
            f"{jax.default_backend()!r}; pass interpret=True (slow) or use gl.gate_loop"
        )
    Bf = int(np.prod(batch, dtype=np.int64))
    flat = lambda x: None if x is None else x.reshape((Bf, L, D))
    ctype = np.dtype(accumulate_dtype)
    if h0 is None:
        h0r = h0i = jnp.zeros((Bf, D), ctype)
    else:
        h0 = jnp.asarray(h0)
        if h0.shape not in (batch + (D,), batch + (D, 1, 1)):  # not only the size: a transposed
            raise ValueError(f"h0: expected shape {batch + (D,)} or {batch + (D, 1, 1)}, "  # h0 has it
                             f"got {h0.shape}")
        h0 = h0.reshape((Bf, D))
        h0r, h0i = jnp.real(h0).astype(ctype), jnp.imag(h0).astype(ctype)
    opts = options(Bf, L, D, np.dtype(q.dtype).itemsize, interpret, accumulate_dtype,
                   tma=not interpret and siso_tma.available(), block_d=block_d, chunk=chunk,
                   segments=segments, prefetch=prefetch, num_warps=num_warps, masked=masked,
                   complex_y=bool(complex_y), backend=backend, stages=stages)
    y_re, y_im, hr, hi = siso_scan(flat(q), flat(k), flat(v), flat(a_re), flat(a_im), h0r, h0i, opts)
    y = jax.lax.complex(y_re.astype(jnp.float32), y_im.astype(jnp.float32)) if complex_y else y_re
    y = y.reshape(q.shape)
    hL = jax.lax.complex(hr, hi).reshape(batch + ((D, 1, 1) if heads else (D,)))
    return y, hL