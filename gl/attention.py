"""Surrogate attention (eq. 14-23): GateLoop as causal attention with relative decay.

Shapes follow :func:`gl.gate_loop`. The stable form never divides by a
cumulative product: it builds the relative decay
``D[n, m] = prod_{j=m+1..n} a_j`` (for ``n >= m``) as a masked cumulative product, so it
stays finite where eq. 19's ``Π⁻¹`` overflows, and ``a = 0``, tiny ``|a|`` and NaN in ``a``
give the values and gradients of the recurrence. (Chapter 5 also builds ``D`` in polar
form, from segment sums of ``log|a_j|`` and the phases, :func:`segment_sum`; that form
has no derivative at ``a = 0``.) Masks are applied with ``where``, never by multiplying
with 0, so a NaN or inf input at step ``t`` reaches no output before ``t``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._checks import check_gate_loop_inputs, compute_dtype, dtype_arg, dtype_of, shape_of
from .scan import empty_sequence

HIGHEST = lax.Precision.HIGHEST

#: The largest :func:`attention_bytes` estimate the attention mode runs (bytes). ``None``: half
#: the accelerator's memory (``memory_stats()["bytes_limit"]``), or :data:`CPU_MAX_BYTES` on
#: a device that reports none (the CPU). Set it (``gl.attention.MAX_BYTES = 2**34``) to change
#: the limit everywhere (``gl.gate_loop`` included), or pass ``max_bytes=`` to
#: :func:`surrogate_attention` for one call. The estimate reads the shapes it is given: under
#: ``jax.vmap`` it sees one vmapped slice, not the vmapped batch.
MAX_BYTES = None
CPU_MAX_BYTES = 4 * 2**30  #: the limit on a device without memory statistics (4 GiB)

#: what the memory error of each caller proposes instead (:func:`check_attention_memory`)
INSTEAD = {
    "mode='attention'": "use mode='chunked' (same result, memory linear in L) or "
                        "mode='recurrent'/'parallel'",
    "gl.surrogate_softmax_attention": "the softmax needs every (L, L) score at once and gl has "
                                      "no linear-memory form of it: pass shorter sequences or "
                                      "fewer of them per call",
    "gl.attention.surrogate_scores": "the (..., H, L, L) scores are O(L²) themselves: pass "
                                     "shorter sequences or fewer of them per call",
}


def attention_bytes(q_shape, dtype) -> int:
    """Estimated peak bytes of the forward attention mode for ``q`` of shape ``(..., L, H, d_k)``.

    ``(2 d_k + 1) B H L²`` numbers of ``dtype`` (``B``: the product of the batch dims): the
    ``(d_k, L, L)`` relative decay, one temporary of its size and the ``(L, L)`` scores per
    head. XLA's CPU compiler reserved 2.0-2.3 ``d_k B H L²`` numbers of temporaries at
    L = 128-512 (``compile().memory_analysis()``). A gradient needs more. Exact integers.
    """
    *batch, L, H, d_k = (int(n) for n in q_shape)
    B = int(np.prod(batch, dtype=object)) if batch else 1
    return np.dtype(dtype).itemsize * B * H * L * L * (2 * d_k + 1)


def attention_limit(max_bytes=None) -> int:
    """The limit in bytes: ``max_bytes``, else :data:`MAX_BYTES`, else the device's (see there)."""
    if max_bytes is None:
        max_bytes = MAX_BYTES
    if max_bytes is None:
        try:
            return int(jax.devices()[0].memory_stats()["bytes_limit"]) // 2
        except Exception:  # CPU: memory_stats() is None or missing
            return CPU_MAX_BYTES
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
        raise ValueError(f"max_bytes: expected an int >= 0 (bytes) or None, got {max_bytes!r}")
    return int(max_bytes)


def check_attention_memory(q_shape, dtype, max_bytes=None, what="mode='attention'"):
    """Raise ``ValueError`` before an O(L²) form would allocate over the limit.

    ``what``: the caller, a key of :data:`INSTEAD` (another raises ``ValueError`` naming the
    keys, whatever the size). The error names the caller, the estimate, the limit and how that
    limit was set (``max_bytes=`` if given, else how to set :data:`MAX_BYTES`), and what to do
    instead: for ``mode='attention'``, ``mode='chunked'`` (the same numbers, memory linear in ``L``).
    """
    if what not in INSTEAD:
        raise ValueError(f"what: expected a key of gl.attention.INSTEAD, one of "
                         f"{', '.join(map(repr, INSTEAD))}; got {what!r}")
    need, limit = attention_bytes(q_shape, dtype), attention_limit(max_bytes)
    if need > limit:
        L, d_k = q_shape[-3], q_shape[-1]
        if max_bytes is not None:
            source = "max_bytes="
        else:
            source = "gl.attention.MAX_BYTES" + (
                " = None: half the accelerator's memory, 4 GiB on a CPU" if MAX_BYTES is None
                else "") + "; raise it by setting gl.attention.MAX_BYTES = <bytes>"
        raise ValueError(
            f"{what}: q of shape {tuple(q_shape)} ({np.dtype(dtype)}) needs about "
            f"{need / 1e9:.3g} GB for its (..., H, d_k, L, L) relative decay (O(L²): L = {L}, "
            f"d_k = {d_k}), over the limit of {limit / 1e9:.3g} GB ({source}); {INSTEAD[what]}")


def causal_mask(L: int, dtype=bool):
    """``M`` of eq. 20: ``M[n, m] = 1`` if ``n >= m`` else 0, shape ``(L, L)``."""
    return jnp.tril(jnp.ones((L, L), dtype))


def segment_sum(x):
    """``S[..., n, m] = sum_{j=m+1..n} x[..., j]`` for ``n >= m`` (0 elsewhere).

    The polar form of chapter 5 (``D = exp(S(log|a|)) exp(i S(arg a))``); :func:`relative_decay`
    multiplies the factors instead.

    ``x``: ``(..., L)`` -> ``(..., L, L)``. A masked cumulative sum: each entry adds only
    the terms of its own segment, so no large prefix sums are subtracted.
    """
    L = x.shape[-1]
    xx = jnp.broadcast_to(x[..., :, None], x.shape + (L,))  # xx[..., j, m] = x_j
    xx = jnp.where(jnp.tril(jnp.ones((L, L), bool), -1), xx, 0)  # keep j > m
    return jnp.cumsum(xx, axis=-2)  # sum over j <= n


def relative_decay(a):
    """``D[..., H, d_k, n, m] = prod_{j=m+1..n} a_j`` for ``n >= m``, else 0.

    ``a``: ``(..., L, H, d_k)``. This is ``Π_n / Π_m`` of eq. 14-17 computed without
    ``Π⁻¹``: a masked cumulative product. Column ``m`` multiplies the factors ``a_j`` with
    ``j > m`` (the others are replaced by 1 with ``where``, never multiplied), so the
    products are those of the recurrence (eq. 7) and nothing is divided:

    * ``a_j = 0`` (a reset) and tiny ``|a_j|`` give the recurrence's values *and*
      gradients (the derivative of a product is a product of the other factors; the
      polar form ``exp(Σ log|a_j|)`` of chapter 5 has no finite derivative at 0);
    * a NaN or inf ``a_t`` reaches ``D[n, m]`` only for ``m < t <= n``: causal, as in eq. 7.

    Raises ``TypeError`` for a non-float ``a`` and ``ValueError`` for fewer than 3 dimensions
    (as :func:`gl.gate_loop`).
    """
    dtype_of("a", a)
    shape_of("a", a, 3)
    a = jnp.moveaxis(jnp.asarray(a), -3, -1)  # (..., H, d_k, L)
    L = a.shape[-1]
    x = jnp.broadcast_to(a[..., :, None], a.shape + (L,))  # x[..., j, m] = a_j
    x = jnp.where(jnp.tril(jnp.ones((L, L), bool), -1), x, jnp.ones((), a.dtype))  # j > m
    return jnp.where(causal_mask(L), jnp.cumprod(x, axis=-2), jnp.zeros((), a.dtype))


def _prefix_product(a):
    """``Π_n = prod_{j<=n} a_j`` (eq. 16), a cumulative product over time; ``(..., L, H, d_k)``."""
    return jnp.cumprod(a, axis=-3)


def causal_matmul(W, v, matmul):
    """``y[..., n, :] = sum_{m <= n} W[..., n, m] v[..., m, :]`` for a lower-triangular ``W``.

    ``W``: ``(..., L, L)``, zero above the diagonal; ``v``: ``(..., L, d)``; ``matmul``: the
    matmul to use. A plain ``W @ v`` multiplies the zeros above the diagonal with later
    ``v_m``: ``0 · inf = NaN`` would reach every earlier output. Here non-finite entries of
    ``v`` are replaced by 0 for the matmul, and from the first non-finite ``v_m[p]`` on
    (``n >= m``) column ``p`` of ``y`` is NaN: the outputs before ``m`` are those of the
    clean input, the later ones are not finite (the recurrence gives ``±inf`` or NaN there).
    """
    bad = ~jnp.isfinite(v)
    y = matmul(W, jnp.where(bad, jnp.zeros((), v.dtype), v))
    reached = jnp.cumsum(bad.astype(jnp.int32), axis=-2) > 0  # causal: m <= n
    return jnp.where(reached, jnp.asarray(jnp.nan, y.dtype), y)


def surrogate_scores(q, k, a, max_bytes=None):
    """The masked surrogate attention matrix ``(Q̄ K̄ᵀ) ⊙ M`` of eq. 21, computed stably.

    ``W[..., H, n, m] = sum_k q[n, k] D_k[n, m] k[m, k]``; shape ``(..., H, L, L)``.
    Raises ``ValueError`` over the memory limit (:func:`check_attention_memory`).
    """
    return _scores(q, k, a, jnp.result_type(q, k, a), max_bytes, "gl.attention.surrogate_scores")


def _scores(q, k, a, dtype, max_bytes, what):
    """Eq. 21's masked scores ``(..., H, L, L)``, after the memory check of the caller ``what``
    (a key of :data:`INSTEAD`) for ``dtype``: :func:`surrogate_scores` and
    :func:`surrogate_softmax_attention`."""
    check_attention_memory(q.shape, dtype, max_bytes, what=what)
    return _weigh(q, relative_decay(a), k)


def _weigh(q, D, k):
    """``sum_k q[n, k] D_k[n, m] k[m, k]`` -> ``(..., H, L, L)`` (elementwise: full precision).

    Zero above the diagonal by ``where`` after the products: ``D = 0`` there times a
    non-finite ``k_m`` is NaN, which must not reach the earlier outputs ``n < m``.
    """
    qt = jnp.moveaxis(q, -3, -1)  # (..., H, d_k, L)
    kt = jnp.moveaxis(k, -3, -1)
    W = jnp.sum(qt[..., :, None] * D * kt[..., None, :], axis=-3)
    return jnp.where(causal_mask(W.shape[-1]), W, jnp.zeros((), W.dtype))


def surrogate_attention(q, k, v, a, h0=None, dtype=None, max_bytes=None):
    """Eq. 17-21 in O(L²) with a stable relative decay: ``gl.gate_loop(mode="attention")``.

    Shapes as :func:`gl.gate_loop` (``q, k, a``: ``(..., L, H, d_k)``, ``a`` also
    ``(..., L, H, 1)``; ``v``: ``(..., L, H, d_v)``; ``h0``: ``(..., H, d_k, d_v)`` or None),
    checked as there (``ValueError``/``TypeError`` naming the argument).

    Computes in ``dtype``, by default the inputs' common dtype (``h0``'s included); as in
    :func:`gl.gate_loop`, bfloat16/float16 compute in float32 (complex64 with a complex
    input: :func:`gl._checks.compute_dtype`), passed as ``dtype`` too. A ``dtype`` that is not
    float or complex, or real while an input is complex, raises ``TypeError``
    (:func:`gl._checks.dtype_arg`).

    Before computing anything, estimates the memory (:func:`attention_bytes`) and raises
    ``ValueError`` naming ``mode='chunked'`` if it is over ``max_bytes`` (default
    :data:`MAX_BYTES`: half the accelerator's memory, 4 GiB on the CPU). At L = 100 000,
    ``d_k = 1``, float32 that is 120 GB. Under ``jax.vmap`` the estimate sees one vmapped
    slice (see :data:`MAX_BYTES`).

    Returns:
      Always the pair ``(y, h_L)`` (unlike :func:`gl.gate_loop`, which returns ``h_L`` only
      with ``return_state=True``): ``y`` ``(..., L, H, d_v)``, the outputs of eq. 21, and
      ``h_L`` ``(..., H, d_k, d_v)``, the state after the last step (eq. 7), both in the
      compute dtype. For ``L = 0``: :func:`gl.scan.empty_sequence`.
    """
    common = check_gate_loop_inputs(q, k, v, a, h0)
    if dtype is None:
        dtype = compute_dtype(common)  # the promotion of gl.gate_loop
    else:  # checked as gate_loop_reference's: a float or complex dtype, complex for complex input
        given = (None if x is None else np.asarray(x).dtype if not hasattr(x, "dtype")
                 else x.dtype for x in (q, k, v, a, h0))
        dtype = dtype_arg(dtype, zip(("q", "k", "v", "a", "h0"), given))
    if q.shape[-3] == 0:
        return empty_sequence(q, v, h0, dtype)
    check_attention_memory(q.shape, dtype, max_bytes)
    return _attention(q, k, v, a, h0, dtype)


@partial(jax.jit, static_argnames=("dtype",))  # after the memory check, which reads MAX_BYTES
def _attention(q, k, v, a, h0, dtype):
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    D = relative_decay(a)  # (..., H, d_k, L, L)
    qt = jnp.moveaxis(q, -3, -1)  # (..., H, d_k, L)
    kt = jnp.moveaxis(k, -3, -1)
    vt = jnp.moveaxis(v, -3, -2)  # (..., H, L, d_v)
    W = _weigh(q, D, k)  # (..., H, L, L), eq. 21 before V
    y = causal_matmul(W, vt, partial(jnp.matmul, precision=HIGHEST))  # (..., H, L, d_v)
    # final state: h_L[k, v] = sum_m D_k[L, m] k[m, k] v[m, v]
    h = jnp.matmul(D[..., -1, :] * kt, vt, precision=HIGHEST)  # (..., H, d_k, d_v)
    if h0 is not None:
        h0 = h0.astype(dtype)
        Pi = jnp.moveaxis(_prefix_product(a), -3, -1)  # (..., H, d_k, L)
        y = y + jnp.einsum("...kn,...kv->...nv", qt * Pi, h0, precision=HIGHEST)
        h = h + Pi[..., -1, None] * h0
    return jnp.moveaxis(y, -2, -3), h


def surrogate_attention_naive(q, k, v, a):
    """Eq. 16-21 exactly as written: ``Q̄ = Q ⊙ Π``, ``K̄ = K ⊙ Π⁻¹``, ``Y = (Q̄ K̄ᵀ ⊙ M) V``.

    For teaching only. ``Π_n`` shrinks geometrically when ``|a| < 1``; once it underflows,
    ``Π⁻¹`` is ``inf`` and the output turns into ``inf``/``nan``. Use
    :func:`surrogate_attention` (or :func:`gl.gate_loop` with ``mode="attention"``).
    """
    check_gate_loop_inputs(q, k, v, a)
    dtype = jnp.result_type(q, k, v, a)
    q, k, v, a = (x.astype(dtype) for x in (q, k, v, a))
    Pi = jnp.cumprod(a, axis=-3)  # eq. 16
    Q_bar, K_bar = q * Pi, k / Pi  # eq. 18-19
    Qt, Kt, Vt = (jnp.moveaxis(x, -3, -2) for x in (Q_bar, K_bar, v))  # (..., H, L, d)
    scores = jnp.matmul(Qt, jnp.swapaxes(Kt, -1, -2), precision=HIGHEST)  # (..., H, L, L)
    scores = scores * causal_mask(scores.shape[-1], scores.dtype)  # eq. 20
    return jnp.moveaxis(jnp.matmul(scores, Vt, precision=HIGHEST), -2, -3)  # eq. 21


def surrogate_softmax_attention(q, k, v, a, scale=None):
    """Eq. 22-23: softmax over the real part of the decay-weighted scores, causally masked.

    ``Y = Softmax(M_{-inf}(Re(Q̄ K̄ᵀ)) * scale) V``; ``scale`` defaults to ``1/sqrt(d_k)``.
    With complex inputs the scores are complex; softmax needs real logits, so this takes
    their real part (the paper leaves this choice open). Shapes as :func:`gl.gate_loop`;
    returns ``y`` ``(..., L, H, d_v)``, in the dtype :func:`gl.gate_loop` would compute in
    (bfloat16/float16 inputs in float32). O(L²) memory: over :data:`MAX_BYTES` it raises
    ``ValueError`` (:func:`check_attention_memory`; it has no linear-memory form).
    """
    dtype = compute_dtype(check_gate_loop_inputs(q, k, v, a))
    q, k, v, a = (jnp.asarray(x, dtype) for x in (q, k, v, a))
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    W = jnp.real(_scores(q, k, a, dtype, None, "gl.surrogate_softmax_attention")) * scale  # eq. 21's scores
    L = W.shape[-1]
    W = jnp.where(causal_mask(L), W, -jnp.inf)  # eq. 22
    P = jax.nn.softmax(W, axis=-1)
    vt = jnp.moveaxis(v, -3, -2)
    return jnp.moveaxis(jnp.matmul(P.astype(v.dtype), vt, precision=HIGHEST), -2, -3)
