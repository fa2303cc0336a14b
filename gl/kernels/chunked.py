"""The chunked multi-head GateLoop (eq. 7-8, 17-21) as fused GPU kernels, in Pallas.

:mod:`gl.chunked` computes the chunked form with XLA: every level of its score tree goes
through memory, and its matmuls are small batched products. Here one Triton program owns one
``(batch, head)`` pair, a block of ``block_v`` columns of ``v`` and one time segment; it walks
its segment in chunks of ``C = 16`` steps and keeps the ``(d_k, block_v)`` state ``h`` (two
float32 planes when ``a`` is complex) in registers from the first chunk to the last. Per chunk
it reads ``k`` (``C x d_k``), ``v`` (``C x block_v``) and the rows of ``q`` and ``a`` once,
writes ``y`` once, and:

1. cuts the chunk into ``blocks`` sub-blocks of ``s = C / blocks`` steps and walks them side by
   side, ``s`` steps in registers. Each sub-block keeps its decayed keys
   ``K[m] = k_m ⊙ D(n, m)`` for the steps ``m <= n`` seen so far, ``D(n, m) = prod_{j=m+1..n} a_j``
   (per ``d_k`` channel): at step ``n``, ``K ← a_n ⊙ K`` and row ``n`` of ``K`` becomes ``k_n``;
   row ``n`` of the scores inside the sub-block is ``S[n, m] = q_n · K[m]`` (eq. 21), and
   ``P_n = P_{n-1} ⊙ a_n`` is the decay from the sub-block's start;
2. after ``s`` steps, ``K[m] = k_m ⊙ R_m`` (the decay to the sub-block's end) and the rows of ``P``
   give the sub-blocks' totals ``T_i``. The scores between sub-blocks ``i > j`` are
   ``S[n, m] = (q_n ⊙ P_n ⊙ G_ij) · (k_m ⊙ R_m)`` with ``G_ij = prod_{j<l<i} T_l``: one masked
   matmul per distance ``i - j`` (the score tree of :mod:`gl.chunked`, one level deep). Only
   products of ``a``, never quotients: ``a = 0`` and ``|a| = 1e-30`` are exact;
3. with ``q_n ⊙ P_n`` and ``k_m ⊙ R_m`` extended to the chunk (times the totals of the
   sub-blocks before, resp. after), three matmuls give ``y = S v + (q ⊙ P) h`` (eq. 21, then eq. 8
   on the decayed entering state; only ``Re y`` unless ``complex_y``) and two the state update
   ``h ← T ⊙ h + Kᵀ v`` (eq. 7 once per chunk, ``T`` the chunk's total decay).

**Segments.** ``B H`` programs are too few to fill a GPU, so time is cut into ``segments``
(:func:`plan`): a first kernel computes each segment's total decay ``A_g`` and final
state from zero ``U_g`` (the two leaves of eq. 13), the second folds those of the earlier
segments into ``h0`` (eq. 13) and computes the outputs, as in :mod:`gl.kernels.siso_scan`. The first
kernel has only ``G - 1`` segments to summarize, so it may summarize ``split`` parts of each
and the second fold those: :func:`plan` picks both to fill whole waves of programs.

Nothing of size ``(C, C, d_k)`` and no ``(d_k, d_v)`` state per step is ever formed; ``h`` leaves
the chip once per segment. **Precision**: by default (``"f16x3"``) every in-kernel matmul is three
float16 tensor-core products: each operand is divided once per chunk by its largest magnitude
(no float16 overflow or lost small values), split as ``x = x_hi + 2^-11 x_lo`` and multiplied as
``x_hi y_hi + 2^-11 (x_hi y_lo + x_lo y_hi)`` (22 bits kept, as TF32x3, with half its
tensor-core instructions): error 2.0e-7 against the complex128 loop on the bench shape. The
scales assume decays that do not grow by 2^16 in a chunk: when ``max(|Re a|, |Im a|) >``
:data:`F16_A_MAX` the call runs ``"tf32x3"`` instead (``lax.cond``). A chunk's scales depend on
all its steps, so a later step can change the rounding (not more) of earlier outputs in its
chunk. Other precisions: ``"tf32x3"`` (three TF32 products, 2.4e-7), ``"fp32"`` (IEEE float32
on the CUDA cores, slower) or ``"bf16x3"`` (faster, error 5.6e-6); ``experiments/NOTES.md``
has the measurements. The elementwise work is float32 throughout.

The gradient (:func:`gate_loop_mh`, a ``jax.custom_vjp``) is that of :func:`gl.chunked.gate_loop_chunked`,
recomputed in the backward pass: the kernels speed up the forward pass only. A gate per head,
``a`` of shape ``(B, L, H, 1)``, is broadcast only at the kernels' input, so that recomputation
takes :mod:`gl.chunked`'s per-head path.
Limits: ``d_k`` and ``block_v`` powers of two from 16 (Triton's matmul tiles); other shapes use
:mod:`gl.chunked`. On a CPU the kernels run in the Pallas interpreter (``interpret=True``, IEEE
float32 matmuls): for tests.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from .._checks import check_gate_loop_inputs, is_tile
from .chunked_kernel import CHUNK, F16_A_MAX, PRECISIONS, kernel

__all__ = ["gate_loop_mh", "supported", "plan", "step_times", "SLOTS", "CHUNK", "PRECISIONS"]


def supported(d_k: int, d_v: int) -> bool:
    """Whether the kernel takes a ``(d_k, d_v)`` state: both powers of two, at least 16."""
    return is_tile(d_k) and is_tile(d_v)



#: programs that run at once on an H100: 132 multiprocessors, 2 programs each (the kernels use
#: 187 and 255 registers per thread, measured by Nsight Compute: ``experiments/NOTES.md``). With
#: a real gate at d = 64 they use 132 and 168, and 3 fit. With more time segments
#: (``experiments/mh_segments.py``, ``experiments/NOTES.md``) that kernel ran at 1.09x the
#: default's speed at one setting and 0.85-0.92x at every setting of another shape, so
#: :func:`plan` keeps counting 2
SLOTS = 264


def step_times(programs, steps, slots=SLOTS):
    """Step times of one launch of ``programs`` programs of ``steps`` steps each: the kernels are
    bound by latency, not bandwidth, so each wave of up to ``slots`` programs takes ``steps``."""
    return -(-programs // slots) * steps


def plan(B, H, n_vblocks, L, segments=None, slots=SLOTS, min_steps=256):
    """``(segments, split)`` with the fewest step times of the two launches (:func:`step_times`),
    the fewest programs on a tie: time segments a power of two of at least ``min_steps`` steps
    each (or ``segments``, if given), and the summary kernel's parts per segment a power of two
    that divides a segment's chunks, as long as that kernel runs no more than twice the outputs
    kernel's programs or one wave, whichever is more: the count would favour ever more, ever shorter
    programs by a few step times, which measured slower (``experiments/NOTES.md``)."""
    P = B * H * n_vblocks
    best = None
    Gs = [2 ** i for i in range(L.bit_length()) if i == 0 or L // 2 ** i >= min_steps]
    for G in [segments] if segments else Gs:
        n = -(-L // (G * CHUNK))  # chunks per segment
        split = 1
        while True:
            t = step_times(P * G, n * CHUNK, slots)
            if G > 1:  # the summaries of segments 0 .. G - 2, in split parts
                t += step_times(P * (G - 1) * split, n * CHUNK // split, slots)
            key = (t, P * G + P * (G - 1) * split)
            if best is None or key < best[0]:
                best = (key, (G, split))
            if G == 1 or n % (2 * split) or P * (G - 1) * 2 * split > max(slots, 2 * P * G):
                break
            split *= 2
    return best[1]


@functools.partial(jax.jit, static_argnames=("complex_y", "interpret", "block_v", "num_warps", "precision",
                                             "segments", "blocks", "split", "check_finite"))
def _forward(q, k, v, a, h0, *, check_finite=True, complex_y, **kw):
    """``(y, h_L)``; shapes as :func:`gate_loop_mh`. With ``check_finite``, inputs with a NaN or inf
    anywhere take :mod:`gl.chunked` (``lax.cond``): inside a chunk the kernels' matmuls multiply
    ``0 * inf`` for the steps before an inf, so they would put NaN into earlier outputs."""
    if not check_finite:
        return _kernels(q, k, v, a, h0, complex_y=complex_y, **kw)
    finite = functools.reduce(jnp.logical_and, [jnp.isfinite(x).all() for x in (q, k, v, a, h0)])
    cplx = jnp.iscomplexobj(a) or jnp.iscomplexobj(h0)

    def reference():
        y, hL = _reference(q, k, v, a, h0, complex_y)
        return (y.astype(jnp.complex64 if complex_y else jnp.float32),
                hL.astype(jnp.complex64 if cplx else jnp.float32))

    return lax.cond(finite, lambda: _kernels(q, k, v, a, h0, complex_y=complex_y, **kw), reference)


def _kernels(q, k, v, a, h0, *, complex_y, interpret, block_v, num_warps, precision, segments, blocks,
             split=None):
    """``(y, h_L)`` by the kernels; shapes as :func:`gate_loop_mh`. ``split``: summaries of that many
    parts of each segment (None: :func:`plan`)."""
    if a.shape != q.shape:  # one gate per head, (B, L, H, 1): the kernels take one per key.
        # Broadcast here, not before the custom VJP, so that the backward (gl.chunked, recomputed)
        # keeps the per-head path (gl.chunked.head_scores) and returns a's gradient in a's shape.
        a = jnp.broadcast_to(a, q.shape)
    B, L, H, d_k = q.shape
    d_v = v.shape[-1]
    C, nJ = CHUNK, d_v // block_v
    G, auto_split = plan(B, H, nJ, L, segments)
    Ls = -(-L // (G * C)) * C  # steps per segment, a multiple of C
    Lp = G * Ls
    if split is None:
        split = auto_split
    elif split > 1 and (G == 1 or (Ls // C) % split):
        raise ValueError(f"gate_loop_mh: split: expected 1 or a divisor of a segment's {Ls // C} chunks, with more "
                         f"than one segment, got {split} parts of {G} segment(s)")
    has_a_im, has_h0_im = jnp.iscomplexobj(a), jnp.iscomplexobj(h0)
    cplx = has_a_im or has_h0_im
    planes = [jnp.real(a), jnp.imag(a)] if has_a_im else [a]
    ins = [q, k, v] + planes
    if Lp != L:  # padded steps: a = 1, q = k = v = 0 leave the state and the first L outputs exact
        pad = lambda x, c: jnp.pad(x, ((0, 0), (0, Lp - L), (0, 0), (0, 0)), constant_values=c)
        ins = [pad(x, 1.0 if i == 3 else 0.0) for i, x in enumerate(ins)]
    h0s = [jnp.real(h0), jnp.imag(h0)] if has_h0_im else [h0]
    params = dict(interpret=True) if interpret else dict(
        compiler_params=plgpu.CompilerParams(num_warps=num_warps, num_stages=1))
    kw = dict(n_chunks=Ls // C, C=C, block_v=block_v, n_vblocks=nJ, has_a_im=has_a_im, has_h0_im=has_h0_im,
              complex_y=complex_y, precision=precision, has_segments=G > 1, blocks=blocks,
              split=split)
    grid = (B, H, nJ * G)
    f32 = jnp.float32

    def run(prec):
        kwp = dict(kw, precision=prec)
        summ = []
        if G > 1:  # the summaries of segments 0 .. G - 2 (no segment folds in the last one's), in split parts
            S = (G - 1) * split
            a_sh = jax.ShapeDtypeStruct((B, H, S, d_k), f32)
            u_sh = jax.ShapeDtypeStruct((B, H, S, d_k, d_v), f32)
            kws = dict(kwp, n_chunks=Ls // C // split)
            summ = pl.pallas_call(functools.partial(kernel, summary=True, **kws), grid=(B, H, nJ * S),
                                  **params, name="gl_mh_summary",
                                  out_shape=(a_sh,) * (1 + has_a_im) + (u_sh,) * (1 + has_a_im))(*ins[1:])
            summ = list(summ)
            if cplx and not has_a_im:  # a real, h0 complex: the summaries are real, the fold complex
                summ.append(jnp.zeros_like(summ[-1]))
        yshape = jax.ShapeDtypeStruct((B, Lp, H, d_v), f32)
        hshape = jax.ShapeDtypeStruct((B, H, G, d_k, d_v), f32)
        out_shape = [yshape] + ([yshape] if complex_y else []) + [hshape] + ([hshape] if cplx else [])
        return tuple(pl.pallas_call(functools.partial(kernel, summary=False, **kwp), out_shape=tuple(out_shape),
                                    grid=grid, **params, name="gl_mh_outputs")(*ins, *h0s, *summ))

    if precision == "f16x3":
        # the float16 products assume decays that do not grow by 65504 within a chunk: |a| < 2.09
        # (16 steps); max(|Re a|, |Im a|) <= 1.4 implies |a| <= 1.98. Otherwise (or NaN): TF32x3.
        big = functools.reduce(jnp.maximum, [jnp.max(jnp.abs(p)) for p in planes])
        outs = list(lax.cond(big <= F16_A_MAX, lambda: run("f16x3"), lambda: run(PRECISIONS["fp32" if interpret else "tf32x3"])))
    else:
        outs = list(run(precision))
    yr = outs.pop(0)[:, :L]
    y = lax.complex(yr, outs.pop(0)[:, :L]) if complex_y else yr
    hL = lax.complex(outs[0][:, :, -1], outs[1][:, :, -1]) if cplx else outs[0][:, :, -1]
    return y, hL


def _reference(q, k, v, a, h0, complex_y):
    from ..chunked import gate_loop_chunked

    y, hL = gate_loop_chunked(q, k, v, a, h0)
    return (y if complex_y else jnp.real(y)), hL


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _mh(q, k, v, a, h0, opts):
    return _forward(q, k, v, a, h0, **dict(opts))


def _mh_fwd(q, k, v, a, h0, opts):
    return _mh(q, k, v, a, h0, opts), (q, k, v, a, h0)


def _mh_bwd(opts, res, cts):
    # the gradient of the same function, by autodiff through gl.chunked (recomputed here)
    _, pull = jax.vjp(lambda *x: _reference(*x, dict(opts)["complex_y"]), *res)
    return pull(cts)


_mh.defvjp(_mh_fwd, _mh_bwd)


def gate_loop_mh(q, k, v, a, h0=None, *, complex_y=False, interpret=False, precision="f16x3", block_v=None,
                 num_warps=4, segments=None, blocks=2, split=None, check_finite=True):
    """Multi-head GateLoop by the fused chunked kernel (module docstring); differentiable.

    Args:
      q, k: ``(B, L, H, d_k)``; v: ``(B, L, H, d_v)``; a: ``(B, L, H, d_k)`` or ``(B, L, H, 1)``
        (one gate per head), real or complex; h0: ``(B, H, d_k, d_v)`` or None (zeros). Inputs
        of at most 32 bits (float16 and bfloat16 too) are computed in float32 / complex64.
      complex_y: also compute ``Im y`` (``y`` complex64 when ``a`` or ``h0`` is complex);
        otherwise ``y`` is ``Re y``, float32.
      interpret: run in the Pallas interpreter (CPU tests; matmuls IEEE float32, or the float16
        products of ``"f16x3"``).
      precision: of the in-kernel matmuls, a key of :data:`PRECISIONS` (``"f16x3"``, ``"tf32x3"``, ``"fp32"``,
        ``"bf16x3"``) or a ``lax`` precision.
      block_v: columns of ``v`` per program (default ``min(d_v, 64)``); num_warps: per program;
      segments: time segments (None: :func:`plan`); split: the summary kernel's parts per
        segment (None: :func:`plan`; otherwise 1, or a divisor of a segment's chunks when there are
        several segments, else ``ValueError``);
        blocks: sub-blocks per chunk
        (1, 2, 4 or 8). The defaults are the fastest of the H100 sweeps (``experiments/NOTES.md``).
      check_finite: inputs with a NaN or inf take :func:`gl.chunked.gate_loop_chunked` instead
        (a ``lax.cond`` on one pass over the inputs), which keeps them causal: a NaN or inf at
        step ``t`` changes no output before ``t``. The kernels alone would not: inside a
        16-step chunk their matmuls multiply ``0 * inf`` for the steps before it. The pass
        reads what a copy reads: it adds 14 % to the unchecked call on the bench's shapes on
        an H100 (``experiments/check_finite_cost.py``). ``False`` skips it (inputs known to be
        finite).

    Returns ``(y, h_L)``: ``y`` ``(B, L, H, d_v)``; ``h_L`` ``(B, H, d_k, d_v)``, complex64 when
    ``a`` or ``h0`` is complex, else float32.

    Raises:
      ValueError: shapes that do not match, ``d_k``, ``d_v`` not powers of two from 16, complex
        ``q, k, v``, or an unknown option value.
    """
    check_gate_loop_inputs(q, k, v, a, h0)  # shapes agree, float or complex dtypes
    if q.ndim != 4:
        raise ValueError(f"gate_loop_mh: q: expected (B, L, H, d_k), 4 dimensions, got shape {q.shape}")
    B, L, H, d_k = q.shape
    d_v = v.shape[-1]
    if not supported(d_k, d_v):
        raise ValueError(f"gate_loop_mh: expected d_k and d_v powers of two >= 16, got d_k = {d_k}, "
                         f"d_v = {d_v} (use mode='chunked')")
    block_v = block_v or min(d_v, 64)
    if not is_tile(block_v) or d_v % block_v:
        raise ValueError(f"gate_loop_mh: block_v: expected a power of two >= 16 dividing d_v = {d_v}, "
                         f"got {block_v}")
    if isinstance(precision, str):
        if precision not in PRECISIONS:
            raise ValueError(f"gate_loop_mh: precision: expected one of {sorted(PRECISIONS)}, got {precision!r}")
        precision = PRECISIONS[precision]
    if interpret and precision != "f16x3":
        precision = PRECISIONS["fp32"]  # the CPU runs no tensor-core algorithms (float16 products it does)
    if blocks not in (1, 2, 4, 8):  # 16 (one step per sub-block) took over 3 minutes to compile on an H100
        raise ValueError(f"gate_loop_mh: blocks: expected 1, 2, 4 or 8 sub-blocks per chunk, got {blocks}")
    if segments is not None and (int(segments) != segments or segments < 1):
        raise ValueError(f"gate_loop_mh: segments: expected a positive integer or None, got {segments}")
    if split is not None and (int(split) != split or split < 1):
        raise ValueError(f"gate_loop_mh: split: expected a positive integer or None, got {split}")
    cplx = jnp.iscomplexobj(a) or (h0 is not None and jnp.iscomplexobj(h0))
    for name, x in (("q", q), ("k", k), ("v", v), ("a", a), ("h0", h0)):
        if x is None:
            continue
        if name in "qkv" and jnp.iscomplexobj(x):
            raise ValueError(f"gate_loop_mh: {name}: expected a real array, got {x.dtype}")
        if jnp.finfo(x.dtype).bits > 32 if jnp.issubdtype(x.dtype, jnp.inexact) else True:
            raise ValueError(f"gate_loop_mh: {name}: expected float32 or complex64 (a single-precision "
                             f"kernel), got {x.dtype}; use mode='chunked' for 64-bit inputs")
    q, k, v = (x.astype(jnp.float32) for x in (q, k, v))
    a = a.astype(jnp.complex64 if jnp.iscomplexobj(a) else jnp.float32)
    sdt = jnp.complex64 if cplx else jnp.float32
    if h0 is None:
        h0 = jnp.zeros((B, H, d_k, d_v), sdt)
    else:
        h0 = h0.astype(sdt)
    opts = (("complex_y", bool(complex_y and cplx)), ("interpret", bool(interpret)), ("block_v", int(block_v)),
            ("num_warps", int(num_warps)), ("precision", precision), ("segments", None if segments is None else int(segments)),
            ("split", None if split is None else int(split)),
            ("blocks", int(blocks)), ("check_finite", bool(check_finite)))
    return _mh(q, k, v, a, h0, opts)
