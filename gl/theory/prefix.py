"""All-prefix sums (eq. 12) three ways, from scratch in NumPy, with work and depth counters.

An associative scan computes ``Σ(x_1..x_L) = (x_1, x_1•x_2, ..., x_1•...•x_L)`` (eq. 12) for
any associative operator ``•``; GateLoop uses the operator of eq. 13 on leaves
``(a_n, k_nᵀ v_n)`` (:func:`gl.binary_operator`). Three algorithms:

- :func:`fold_scan`: the sequential fold, ``L − 1`` applications in ``L − 1`` steps;
- :func:`hillis_steele_scan`: Hillis and Steele (1986), ``L log2 L − L + 1`` applications
  in ``log2 L`` steps (``L`` a power of two);
- :func:`blelloch_scan`: Blelloch (1990), up-sweep then down-sweep, ``2(L − 1)``
  applications in ``2 log2 L`` steps (``L`` padded to a power of two with the identity).

Leaves are one NumPy array or a tuple of arrays, all with the sequence on axis 0 (shape
``(L, ...)``; for GateLoop ``a``: ``(L, H, d_k, 1)`` and ``kv``: ``(L, H, d_k, d_v)``, any
float or complex dtype). As in :func:`jax.lax.associative_scan`, ``op(earlier, later)``
is called on *batches* of elements stacked on axis 0 and must act elementwise along it:
one call of ``op`` on ``m`` pairs counts as ``m`` applications (work) and each round of
calls that could run at the same time counts as one parallel step (depth).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

__all__ = ["ScanResult", "fold_scan", "hillis_steele_scan", "blelloch_scan", "gateloop_identity"]


class ScanResult(NamedTuple):
    """The inclusive prefixes (same structure and shape as the leaves) and the two counters."""

    prefixes: object
    work: int  # operator applications, one per pair of elements combined
    depth: int  # parallel steps: rounds of applications that depend on the previous round


def _as_tree(leaves, name="leaves"):
    """Return ``(tuple of arrays, was_tuple, L)``; raise on an empty or ragged input."""
    # a tuple (or list) of arrays is a pytree of leaves; a list of numbers is one array
    was_tuple = isinstance(leaves, tuple) or (
        isinstance(leaves, list) and len(leaves) > 0 and not np.isscalar(leaves[0]))
    parts = tuple(np.asarray(x) for x in leaves) if was_tuple else (np.asarray(leaves),)
    for i, x in enumerate(parts):
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number)):
            raise TypeError(f"{name}[{i}]: expected a numeric array, got dtype {x.dtype}")
        if x.ndim == 0:
            raise ValueError(f"{name}[{i}]: expected shape (L, ...), got a scalar")
    L = parts[0].shape[0]
    if L == 0:
        raise ValueError(f"{name}: expected at least one element on axis 0, got L = 0")
    for i, x in enumerate(parts):
        if x.shape[0] != L:
            raise ValueError(f"{name}[{i}]: expected L = {L} elements on axis 0, got {x.shape[0]}")
    return parts, was_tuple, L


def _call(op, x, y, was_tuple):
    """Apply ``op`` to batches ``x`` (earlier) and ``y`` (later), tuples of arrays."""
    out = op(x, y) if was_tuple else (op(x[0], y[0]),)
    return tuple(np.asarray(o) for o in out)


def _result_dtype(parts, op, was_tuple):
    """The dtypes ``op`` produces (complex ``a`` with real ``kv`` gives a complex ``kv``)."""
    probe = _call(op, tuple(p[:1] for p in parts), tuple(p[:1] for p in parts), was_tuple)
    return [np.result_type(p, o) for p, o in zip(parts, probe)]


def _out(parts, was_tuple):
    return parts if was_tuple else parts[0]


def _check_op(op):
    if not callable(op):
        raise TypeError(f"op: expected a callable op(earlier, later), got {type(op).__name__}")


def fold_scan(op: Callable, leaves) -> ScanResult:
    """Eq. 12 by a sequential fold: ``s_1 = x_1``, ``s_n = s_{n-1} • x_n``.

    Work ``L − 1``, depth ``L − 1``: every application needs the one before it.
    """
    _check_op(op)
    parts, was_tuple, L = _as_tree(leaves)
    dts = _result_dtype(parts, op, was_tuple)
    out = tuple(p.astype(dt, copy=True) for p, dt in zip(parts, dts))
    for n in range(1, L):
        s = _call(op, tuple(o[n - 1:n] for o in out), tuple(o[n:n + 1] for o in out), was_tuple)
        for o, v in zip(out, s):
            o[n:n + 1] = v
    return ScanResult(_out(out, was_tuple), L - 1, L - 1)


def hillis_steele_scan(op: Callable, leaves) -> ScanResult:
    """Eq. 12 by Hillis and Steele's doubling: at step ``d``, ``x_i ← x_{i−2^d} • x_i`` for ``i ≥ 2^d``.

    After step ``d`` each ``x_i`` holds the combination of the ``2^{d+1}`` elements ending at ``i``.
    Depth ``⌈log2 L⌉``; work ``Σ_d (L − 2^d)``, which is ``L log2 L − L + 1`` for ``L = 2^k``.
    """
    _check_op(op)
    parts, was_tuple, L = _as_tree(leaves)
    dts = _result_dtype(parts, op, was_tuple)
    x = tuple(p.astype(dt, copy=True) for p, dt in zip(parts, dts))
    work = depth = 0
    offset = 1
    while offset < L:
        # all L − offset applications of this step read the previous step's values only
        x_new = _call(op, tuple(p[:-offset] for p in x), tuple(p[offset:] for p in x), was_tuple)
        x = tuple(np.concatenate([p[:offset], q]) for p, q in zip(x, x_new))
        work += L - offset
        depth += 1
        offset *= 2
    return ScanResult(_out(x, was_tuple), work, depth)


def gateloop_identity(leaves):
    """The identity element ``(1, 0)`` of eq. 13 for GateLoop leaves ``(a, kv)``: one element, no ``L`` axis."""
    a, kv = leaves
    return np.ones_like(np.asarray(a)[0]), np.zeros_like(np.asarray(kv)[0])


def blelloch_scan(op: Callable, leaves, identity) -> ScanResult:
    """Eq. 12 by Blelloch's work-efficient scan: an up-sweep (reduce) and a down-sweep.

    ``identity`` is ``op``'s identity element ``e`` (``e • x = x • e = x``) with the leaves'
    structure minus the ``L`` axis; for eq. 13 it is ``(1, 0)`` (:func:`gateloop_identity`).
    ``L`` is padded to the next power of two ``P`` with ``e``. The up-sweep builds the tree of
    partial combinations (``P − 1`` applications in ``log2 P`` steps); the down-sweep turns it
    into the exclusive prefixes (``P − 1`` applications in ``log2 P`` steps). The inclusive
    prefix ``n`` is the exclusive prefix ``n + 1``; the last one is the root of the up-sweep,
    kept before the down-sweep clears it. Work ``2(P − 1)``, depth ``2 log2 P``.
    """
    _check_op(op)
    parts, was_tuple, L = _as_tree(leaves)
    e_parts, _, _ = _as_tree(tuple(np.asarray(i)[None] for i in identity) if was_tuple
                             else np.asarray(identity)[None], "identity")
    if len(e_parts) != len(parts) or any(e.shape[1:] != p.shape[1:] for e, p in zip(e_parts, parts)):
        raise ValueError(
            f"identity: expected one element of shapes {[p.shape[1:] for p in parts]}, "
            f"got {[e.shape[1:] for e in e_parts]}"
        )
    dts = _result_dtype(parts, op, was_tuple)
    P = 1 << (L - 1).bit_length()
    x = tuple(np.concatenate([p.astype(dt), np.repeat(e.astype(dt), P - L, axis=0)])
              for p, e, dt in zip(parts, e_parts, dts))
    work = depth = 0
    # up-sweep: after level d, x[i] for i ≡ 2^{d+1} − 1 (mod 2^{d+1}) holds its block's combination
    stride = 1
    while stride < P:
        right = np.arange(2 * stride - 1, P, 2 * stride)
        left = right - stride
        s = _call(op, tuple(p[left] for p in x), tuple(p[right] for p in x), was_tuple)
        for p, v in zip(x, s):
            p[right] = v
        work += len(right)
        depth += 1
        stride *= 2
    total = tuple(p[-1:].copy() for p in x)
    for p, e in zip(x, e_parts):
        p[-1:] = e
    # down-sweep: a node holds the prefix of everything before its block; its left child
    # gets that prefix, its right child the prefix combined with the left child's block
    stride = P // 2
    while stride >= 1:
        right = np.arange(2 * stride - 1, P, 2 * stride)
        left = right - stride
        left_block = tuple(p[left].copy() for p in x)
        before = tuple(p[right].copy() for p in x)
        s = _call(op, before, left_block, was_tuple)  # earlier (prefix) first
        for p, b, v in zip(x, before, s):
            p[left] = b
            p[right] = v
        work += len(right)
        depth += 1
        stride //= 2
    inclusive = tuple(np.concatenate([p[1:L], t]) if L == P else p[1:L + 1]
                      for p, t in zip(x, total))
    return ScanResult(_out(inclusive, was_tuple), work, depth)
