"""Chunked GateLoop (eq. 7-8 and 17-21 combined): matmuls inside chunks, a scan between them.

The sequence is cut into ``N = ceil(L / C)`` chunks of ``C`` steps (64 for ``d_k = d_v = 64``,
see :func:`chunk_length`). Write ``D(n, m) = prod_{j=m+1..n} a_j`` for the relative decay of
eq. 17-21 (per ``d_k`` channel, ``m <= n``, chunk-local indices, ``-1`` the step before the
chunk). With ``h_s`` the state entering chunk ``s``:

* between chunks, eq. 7 once per chunk, run by a ``lax.scan``:
  ``h_{s+1} = A_s ⊙ h_s + U_s`` with ``A_s = D(C-1, -1)`` (the chunk's total decay) and
  ``U_s = sum_m (k_m ⊙ R_m)ᵀ v_m``, ``R_m = D(C-1, m)``;
* from earlier chunks, eq. 8 on the decayed entering state: ``y_n += (q_n ⊙ P_n) h_s`` with
  ``P_n = D(n, -1)`` (the decay from the chunk's start);
* inside a chunk, eq. 21: ``y_n += sum_{m<=n} S[n, m] v_m`` with the scores
  ``S[n, m] = sum_k q_n[k] D_k(n, m) k_m[k]``: one ``(C, C) @ (C, d_v)`` matmul.

**Stable scores without a (C, C, d_k) decay.** Dividing by cumulative products
(``Π_n / Π_m``, eq. 19) overflows when ``|a|`` is tiny or zero, and subtracting prefix sums of
``log|a|`` loses digits, so every decay here is a product of factors ``a_j``, never a quotient.
The chunk is split into ``r`` blocks (``radix``, default 4) of ``s = C / r`` steps, each block
again into ``r`` blocks, down to single steps (``64 = 4 · 4 · 4``). For ``n`` in block ``i``
and ``m`` in an earlier block ``j < i`` of the same parent,

    D(n, m) = P_n ⊙ G_ij ⊙ R_m,   G_ij = prod_{j<l<i} T_l,

with ``P_n`` the decay from the start of ``n``'s block to ``n`` (inclusive), ``R_m`` the decay
from ``m`` (exclusive) to the end of ``m``'s block and ``T_l`` block ``l``'s total. So block
``(i, j)`` of the scores is one matmul ``((q ⊙ P)_i ⊙ G_ij) (k ⊙ R)_jᵀ`` of ``(s, d_k)`` by
``(d_k, s)``. The diagonal blocks ``(i, i)`` come from the same rule one level down, and at
the bottom ``S[n, n] = q_n · k_n``. The ``q ⊙ P`` and ``k ⊙ R`` of a block are those of its
sub-blocks times running products of their totals (``(r, d_k)`` numbers), :func:`block_scores`.
At the top they are the ``q_n ⊙ P_n`` and ``k_m ⊙ R_m`` of the chunk, used by the scan above.

**What is materialised**, per chunk and head: the scores ``(C, C)``, a few ``(C, d_k)`` gates
times decays per level of the tree (``q ⊙ P``, ``k ⊙ R`` and the matmuls' operands), the
``(d_k, d_v)`` summand ``U_s`` and the entering state ``h_s``; nothing of size ``(C, C, d_k)``
and no ``(d_k, d_v)`` state per step (``tests/test_chunked.py`` checks the jaxpr and XLA's
temporaries). The entering states, ``L d_k d_v / C`` numbers per head (as many as ``q`` has
when ``C = d_v``), are kept and read out by one batched matmul after the scan; doing the
read-out inside the scan body instead was no faster on a CPU.

**Cost per head**, ``d = d_k = d_v``: matmuls of about ``L C d`` multiply-adds (the scores,
about half of that, and ``S V``) and ``2 L d²`` (``U_s``, the read-out), elementwise work
``O(L d log_r C)`` and ``N`` sequential elementwise updates of a ``(d, d)`` state. Each level
of the tree runs its ``r (r - 1) / 2`` blocks as one batched matmul (by XLA's cost analysis
it moves fewer bytes than a matmul per block distance). A complex-by-real product (complex ``a``,
real ``q, k, v``) is two real matmuls (:func:`_mm`), not one complex matmul (four). All
matmuls use ``precision=HIGHEST``, so float32 is not rounded to TF32 on a GPU. A real ``a``
of either sign stays real (the products carry the signs); padding past ``L`` uses ``a = 1``,
``q = k = v = 0``. Autodiff goes through products only, so its gradients are finite where
``a = 0``. **Non-finite inputs stay causal**: the scores above the diagonal are built as
zeros, never as products, and ``S V`` is :func:`gl.attention.causal_matmul`, so a NaN or inf
at step ``t`` reaches no output before ``t`` (from ``t`` on, a non-finite ``v_t[p]`` makes
column ``p`` NaN inside its chunk; later chunks get it through the state).

**One gate per head** (``a`` of shape ``(..., L, H, 1)``, as RetNet and Mamba-2): ``D(n, m)`` is a
number, so each chunk's scores are one ``(C, d_k) @ (d_k, C)`` matmul times a ``(C, C)`` matrix of
products of gates (:func:`head_scores`) instead of the tree of blocks: about twice as fast,
forward and with the backward, as the same gate broadcast over ``d_k``, on a 2-core CPU at
(4, 2048, 4, 64), and 1.8x / 1.75x on an H100 at (16, 4096, 8, 64) (``benchmarks/head_gates.py``;
``experiments/bench_logs/head_gates_cpu_*.json``, ``gl/assets/bench/head_gates_h100.json``).

Error against a complex128 reference: relative ``< 2e-5`` in float32/complex64 for L up to
1000 and ``< 1e-4`` at L = 10 000, ``< 1e-11`` in float64/complex128, like the other modes.
Shapes as :func:`gl.gate_loop`: ``q, k, a``: ``(..., L, H, d_k)``; ``v``: ``(..., L, H, d_v)``;
``h0``: ``(..., H, d_k, d_v)``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from .attention import causal_matmul

HIGHEST = lax.Precision.HIGHEST
DEFAULT_CHUNK = 64  #: steps per chunk for large states (d_k d_v > 256); see chunk_length
MIN_CHUNK = 16  #: the shortest default chunk (small states): fewer sequential scan steps
DEFAULT_RADIX = 4  #: blocks per level of the score tree (64 = 4 · 4 · 4)


def _mm(x, y):
    """``x @ y`` at HIGHEST precision; a complex-by-real product as two real matmuls."""
    xc, yc = jnp.iscomplexobj(x), jnp.iscomplexobj(y)
    mm = lambda s, t: jnp.matmul(s, t, precision=HIGHEST)
    if xc and not yc:
        return lax.complex(mm(x.real, y), mm(x.imag, y))
    if yc and not xc:
        return lax.complex(mm(x, y.real), mm(x, y.imag))
    return mm(x, y)


def _radices(C, radix=DEFAULT_RADIX):
    """Factor ``C`` into the block counts of the levels, top first: ``64 -> (4, 4, 4)``.

    Each factor is the largest divisor of what is left that is ``<= radix``, or else its
    smallest prime factor: ``48 -> (4, 4, 3)``, ``7 -> (7,)``, ``1 -> ()``. A level of ``r``
    blocks makes ``r (r - 1) / 2`` matmuls, so prime factors above 8 are refused.

    Raises:
      ValueError: ``C`` has a prime factor larger than 8 (e.g. ``chunk_size=97``).
    """
    out, rest = [], C
    while rest > 1:
        f = next((f for f in range(min(radix, rest), 1, -1) if rest % f == 0), None)
        f = f or next(f for f in range(2, rest + 1) if rest % f == 0)
        if f > 8:
            raise ValueError(f"chunk_size: expected a product of factors <= 8 (e.g. a power of "
                             f"two), got a chunk of {C} steps (prime factor {f})")
        out.append(f)
        rest //= f
    return tuple(out)


def chunk_length(L, d_k, d_v, chunk_size=None, radix=DEFAULT_RADIX):
    """The chunk length used for ``L`` steps and a ``(d_k, d_v)`` state.

    ``chunk_size=None`` (the default): ``DEFAULT_CHUNK``, divided by ``radix`` while the result
    stays ``>= MIN_CHUNK`` and ``>= sqrt(d_k d_v)``. This balances the two costs per step, ``C``
    scores inside the chunk against ``d_k d_v / C`` numbers of the entering state, and keeps a
    small state (``d_k = d_v = 1``: 16) from paying for ``(64, 64)`` score blocks;
    ``d_k = d_v = 64`` gets 64. An explicit ``chunk_size`` is used as given. Either way the
    chunk is divided by ``radix`` while it still holds all ``L`` steps (a short sequence is not
    padded to a long chunk). Raises ``ValueError`` unless ``chunk_size`` is None or an int >= 1.
    """
    if chunk_size is not None and (isinstance(chunk_size, bool) or not hasattr(chunk_size, "__index__")
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size: expected None or an int >= 1 (steps per chunk), "
                         f"got {chunk_size!r}")
    if chunk_size is None:
        C = DEFAULT_CHUNK
        while C % radix == 0 and C // radix >= MIN_CHUNK and (C // radix) ** 2 >= d_k * d_v:
            C //= radix
    else:
        C = max(1, int(chunk_size))
    while C % radix == 0 and C // radix >= L:
        C //= radix
    return C


def _blocks(x, C, fill):
    """``(..., L, H, d) -> (N, ..., H, C, d)``: pad L to ``N C`` with ``fill``, chunks first."""
    L = x.shape[-3]
    pad = (-L) % C
    if pad:
        widths = [(0, 0)] * x.ndim
        widths[-3] = (0, pad)
        x = jnp.pad(x, widths, constant_values=fill)
    x = x.reshape(x.shape[:-3] + ((L + pad) // C, C) + x.shape[-2:])  # (..., N, C, H, d)
    nb = x.ndim - 4
    return jnp.transpose(x, (nb,) + tuple(range(nb)) + (nb + 2, nb + 1, nb + 3))


def _running_products(T):
    """``(before, after)``: ``before[i] = prod_{l<i} T_l`` and ``after[j] = prod_{l>j} T_l``.

    ``T``: ``(..., r, d)`` -> two ``(..., r, d)``: running products of the blocks' totals
    (products only: a zero total stays an exact zero, nothing is divided).
    """
    r = T.shape[-2]
    one = jnp.ones_like(T[..., 0, :])
    before, after = [one], [one]
    for i in range(1, r):
        before.append(before[-1] * T[..., i - 1, :])
        after.append(after[-1] * T[..., r - i, :])
    return jnp.stack(before, axis=-2), jnp.stack(after[::-1], axis=-2)


def block_scores(q, k, a, radices):
    """Scores and decayed gates of blocks of ``b = prod(radices)`` steps (the axis before last).

    ``q, k, a``: ``(..., b, d_k)``. Returns ``(S, qP, kR, T)``:

    * ``S``: ``(..., b, b)``, ``S[n, m] = sum_k q_n[k] D_k(n, m) k_m[k]`` for ``m <= n``
      (eq. 21 inside the block), 0 for ``m > n``;
    * ``qP``: ``(..., b, d_k)``, ``q_n ⊙ P_n``, ``P_n = prod_{j<=n} a_j`` (from the block start);
    * ``kR``: ``(..., b, d_k)``, ``k_m ⊙ R_m``, ``R_m = prod_{j>m} a_j`` (to the block end);
    * ``T``: ``(..., d_k)``, the block's total decay ``prod_j a_j``.

    Built by splitting into ``radices[0]`` blocks and recursing (module docstring): products
    of ``a`` only, nothing divided, so zeros and ``|a| = 1e-30`` are exact.
    """
    if not radices:  # one step: D(n, n) = 1, P_n = a_n, R_n = 1
        return jnp.sum(q * k, axis=-1, keepdims=True), q * a, k, a[..., 0, :]
    r, (b, d) = radices[0], q.shape[-2:]
    s = b // r
    split = lambda x: x.reshape(x.shape[:-2] + (r, s, x.shape[-1]))  # (..., r, s, d)
    # inside each block: S_in (..., r, s, s); qP, kR (..., r, s, d_k); T (..., r, d_k)
    S_in, qP, kR, T = block_scores(split(q), split(k), split(a), radices[1:])

    # Block (i, j), i > j: S[i, j] = (qP_i ⊙ G_ij) kR_jᵀ with G_ij = prod_{j<l<i} T_l; all
    # r (r - 1) / 2 blocks in one batched matmul, ordered by distance δ = i - j (for blocks of
    # one step, a product and a sum over d_k). Then S from these and the diagonal blocks.
    Q, K, pairs, G = [], [], [], None
    for delta in range(1, r):
        Qd = qP[..., delta:, :, :]
        if delta > 1:  # G_δ[j] = G_{j+δ, j} = G_{δ-1}[j] T_{j+δ-1}
            G = T[..., 1:r - 1, :] if G is None else \
                G[..., :r - delta, :] * T[..., delta - 1:r - 1, :]
            Qd = Qd * G[..., :, None, :]
        Q.append(Qd)
        K.append(kR[..., :r - delta, :, :])
        pairs += [(j + delta, j) for j in range(r - delta)]
    Q, K = jnp.concatenate(Q, axis=-3), jnp.concatenate(K, axis=-3)  # (..., pairs, s, d_k)
    X = jnp.sum(Q * K, axis=-1, keepdims=True) if s == 1 else _mm(Q, jnp.swapaxes(K, -1, -2))
    X = {ij: X[..., p, :, :] for p, ij in enumerate(pairs)}  # (..., s, s) each
    zero = jnp.zeros(S_in.shape[:-3] + (s, s), jnp.result_type(S_in, X[1, 0]))
    block = lambda i, j: X[i, j] if j < i else S_in[..., i, :, :] if j == i else zero
    S = jnp.concatenate([jnp.concatenate([block(i, j) for j in range(r)], axis=-1)
                         for i in range(r)], axis=-2)  # (..., b, b)

    # The block's q ⊙ P and k ⊙ R: the sub-blocks' times the totals before (after) them.
    before, after = _running_products(T)  # (..., r, d_k)
    qP, kR = qP * before[..., :, None, :], kR * after[..., :, None, :]
    # The block's total as a reduction, not as before[-1] * T[-1]: XLA keeps a reduction's
    # small result, where it re-multiplied a chain of products into every consumer.
    T = jnp.prod(T, axis=-2)
    return S, qP.reshape(qP.shape[:-3] + (b, d)), kR.reshape(kR.shape[:-3] + (b, d)), T


def head_scores(q, k, a):
    """:func:`block_scores` for one gate per head: ``a`` is ``(..., b, 1)``, the same for every key.

    Then ``D(n, m) = M[n, m]`` is a number, ``M[n, m] = prod_{j=m+1..n} a_j`` for ``m <= n``, and
    the scores are one matmul and a mask, ``S = (q kᵀ) ⊙ M`` (as Mamba-2's SSD and RetNet's
    chunkwise form): no tree of blocks. ``M`` is a cumulative product down each column of the
    ``(b, b)`` matrix that holds ``a_n`` below the diagonal and 1 elsewhere, so it too is made of
    products only (``a = 0`` exact, nothing divided), and above the diagonal ``S`` is built as
    zeros, never as products, as in :func:`block_scores`. Returns ``(S, qP, kR, T)`` with
    ``P_n = M[n, 0] a_0``, ``R_m = M[b - 1, m]`` and ``T = P_{b-1}``, of shape ``(..., 1)``.
    """
    b = q.shape[-2]
    n = jnp.arange(b)
    g = a[..., 0]  # (..., b)
    M = jnp.cumprod(jnp.where(n[:, None] > n[None, :], g[..., :, None], jnp.ones((), g.dtype)),
                    axis=-2)  # (..., b, b): M[n, m] = prod_{m<j<=n} a_j on and below the diagonal
    S = jnp.where(n[:, None] >= n[None, :], _mm(q, jnp.swapaxes(k, -1, -2)) * M, 0)
    P = jnp.cumprod(g, axis=-1)[..., None]  # (..., b, 1): from the block start, inclusive
    R = M[..., b - 1, :][..., None]  # (..., b, 1): to the block end, exclusive
    return S, q * P, k * R, P[..., b - 1, :]


@partial(jax.jit, static_argnames=("dtype", "chunk_size", "radix"))
def gate_loop_chunked(q, k, v, a, h0=None, dtype=None, chunk_size=None, radix=DEFAULT_RADIX):
    """GateLoop (eq. 7-8) by chunks (module docstring); returns ``(y, h_L)``.

    Args:
      q, k, a: ``(..., L, H, d_k)``; v: ``(..., L, H, d_v)``; h0: ``(..., H, d_k, d_v)`` or None.
        ``a`` of shape ``(..., L, H, 1)`` is one gate per head (:func:`head_scores`).
      dtype: the compute dtype (the inputs' common dtype when omitted); ``q, k, v`` stay real
        when only ``a`` is complex, so their products with complex factors are real matmuls.
      chunk_size: steps per chunk; None picks one from the state size (:func:`chunk_length`).
      radix: blocks per level of the score tree (:func:`block_scores`).

    Returns ``y``: ``(..., L, H, d_v)`` and ``h_L``: ``(..., H, d_k, d_v)``, complex when an
    input is. Jitted (``dtype``, ``chunk_size``, ``radix`` static).
    """
    dtype = dtype or jnp.result_type(q, k, v, a)
    real_dt = jnp.finfo(dtype).dtype  # float32 for complex64
    q, k, v = (x.astype(real_dt) if not jnp.iscomplexobj(x) else x.astype(dtype) for x in (q, k, v))
    a = a.astype(dtype) if jnp.iscomplexobj(a) or not jnp.issubdtype(dtype, jnp.complexfloating) \
        else a.astype(real_dt)
    batch, (L, H, d_k), d_v = q.shape[:-3], q.shape[-3:], v.shape[-1]
    C = chunk_length(L, d_k, d_v, chunk_size, radix)
    qc, kc, vc = (_blocks(x, C, 0) for x in (q, k, v))  # (N, ..., H, C, d)
    ac = _blocks(a, C, 1)
    N = qc.shape[0]

    # S: (N, ..., H, C, C); qP, kR: (N, ..., H, C, d_k); A: (N, ..., H, d_k or 1), totals
    per_head = a.shape[-1] == 1 and d_k > 1  # one gate per head: a (C, C) mask, no tree
    S, qP, kR, A = head_scores(qc, kc, ac) if per_head else \
        block_scores(qc, kc, ac, _radices(C, radix))
    y = causal_matmul(S, vc, _mm)  # (N, ..., H, C, d_v): eq. 21 inside each chunk, causal for NaN
    U = _mm(jnp.swapaxes(kR, -1, -2), vc)  # (N, ..., H, d_k, d_v): chunk's input to its end state

    sdt = jnp.result_type(U, A) if h0 is None else jnp.result_type(U, A, dtype, h0)  # a complex h0 stays complex
    h = jnp.zeros(batch + (H, d_k, d_v), sdt) if h0 is None else h0.astype(sdt)

    def step(h, x):  # eq. 7, once per chunk
        A_s, U_s = x
        return A_s[..., None] * h + U_s, h

    h_last, h_in = lax.scan(step, h, (A.astype(sdt), U.astype(sdt)))  # h_in: (N, ..., H, d_k, d_v)
    y = y + _mm(qP, h_in)  # eq. 8 on the decayed entering state
    nb = len(batch)  # (N, ..., H, C, d_v) -> (..., N, C, H, d_v) -> (..., L, H, d_v)
    y = jnp.transpose(y, tuple(range(1, nb + 1)) + (0, nb + 2, nb + 1, nb + 3))
    y = y.reshape(batch + (N * C, H, d_v))[..., :L, :, :]
    return y.astype(jnp.result_type(y, dtype)), h_last.astype(jnp.result_type(h_last, dtype))
