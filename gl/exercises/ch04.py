"""Checkers for chapter 4, "The associative scan"."""
from __future__ import annotations

import numpy as np

from ._common import call, complex_normal, random_gates

__all__ = ["check_binary_operator"]


def _random_elements(rng, n, shape):
    """``n`` random GateLoop elements ``(a, kv)``: complex ``a`` with ``|a|`` in (0.5, 1), complex ``kv``."""
    return [(random_gates(rng, shape), complex_normal(rng, shape)) for _ in range(n)]


def _apply(fn, x, y, what):
    """Call the student's operator; turn a crash or a malformed result into an AssertionError."""
    out = call(fn, (x, y), what, who="your operator")
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise AssertionError(
            f"{what}: expected a pair (a, kv) like its arguments, got {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        )
    out = tuple(np.asarray(o) for o in out)
    for name, o, ref in zip(("a", "kv"), out, x):
        if o.shape != np.shape(ref):
            raise AssertionError(f"{what}: the {name} part has shape {o.shape}, expected {np.shape(ref)}")
    return out


def _close(x, y, rtol=1e-9):
    return all(np.allclose(u, w, rtol=rtol, atol=rtol) for u, w in zip(x, y))


def _fmt(e):
    return f"(a={np.round(e[0].ravel()[0], 4)}, kv={np.round(e[1].ravel()[0], 4)}) [first entry]"


def check_binary_operator(fn, seed=None):
    """Check a student's eq. 13 operator ``fn(e_i, e_j)`` on GateLoop elements ``(a, kv)``.

    ``e_i`` is the earlier element and ``e_j`` the later one:
    ``(p1, p2) • (q1, q2) = (p1 ⊙ q1, q1 ⊙ p2 + q2)``. On fresh random complex elements
    (``complex128`` arrays of shape ``(4, 3)``) it checks, in this order: that ``fn`` returns a
    pair of the right shapes; associativity ``(x•y)•z = x•(y•z)``; the order of the arguments
    (earlier first); agreement with :func:`gl.binary_operator`; and that
    :func:`jax.lax.associative_scan` with ``fn`` reproduces the recurrence ``h_n = a_n ⊙ h_{n−1} +
    k_nᵀ v_n`` (eq. 7) over a sequence of 32 elements. Raises ``AssertionError`` saying what
    is wrong; prints one line on success. Tolerances: ``1e-9`` for the pair checks (complex128),
    ``1e-4`` relative for the scan (complex64, JAX's default).
    """
    import jax
    import jax.numpy as jnp

    from ..scan import binary_operator

    if not callable(fn):
        raise TypeError(f"fn: expected a function fn(e_i, e_j), got {type(fn).__name__}")
    rng = np.random.default_rng(seed)
    x, y, z = _random_elements(rng, 3, (4, 3))

    # 1. associativity on random complex leaves
    left = _apply(fn, _apply(fn, x, y, "fn(x, y)"), z, "fn(fn(x, y), z)")
    right = _apply(fn, x, _apply(fn, y, z, "fn(y, z)"), "fn(x, fn(y, z))")
    if not _close(left, right):
        raise AssertionError(
            "not associative: for random complex x, y, z, (x•y)•z = "
            f"{_fmt(left)} but x•(y•z) = {_fmt(right)}; a scan may group the elements "
            "either way, so it needs both to agree"
        )

    # 2. the order of the arguments, 3. agreement with gl
    got = _apply(fn, x, y, "fn(x, y)")
    want = tuple(np.asarray(t) for t in binary_operator(x, y))
    swapped = tuple(np.asarray(t) for t in binary_operator(y, x))
    if not _close(got, want):
        if _close(got, swapped):
            raise AssertionError(
                "wrong order of arguments: fn(e_i, e_j) computes e_j • e_i. The first argument "
                "is the EARLIER element: its kv is the one multiplied by the later a "
                f"(expected {_fmt(want)}, got {_fmt(got)})"
            )
        part = "a (the first component, p1 ⊙ q1)" if not np.allclose(got[0], want[0]) else \
            "kv (the second component, q1 ⊙ p2 + q2)"
        raise AssertionError(
            f"disagrees with eq. 13 in {part}: for x = {_fmt(x)}, y = {_fmt(y)} expected "
            f"x•y = {_fmt(want)}, got {_fmt(got)}"
        )

    # 4. a scan with it reproduces eq. 7
    L = 32
    a, kv = (np.stack(t) for t in zip(*_random_elements(rng, L, (3,))))
    h = np.zeros(3, complex)
    h_ref = np.empty_like(kv)
    for n in range(L):
        h = a[n] * h + kv[n]  # eq. 7, elementwise (the SISO case)
        h_ref[n] = h
    try:
        leaves = (jnp.asarray(a, jnp.complex64), jnp.asarray(kv, jnp.complex64))
        _, h_scan = jax.lax.associative_scan(fn, leaves, axis=0)
        h_scan = np.asarray(h_scan)
    except Exception as e:  # noqa: BLE001
        raise AssertionError(
            "jax.lax.associative_scan(fn, (a, kv)) failed with "
            f"{type(e).__name__}: {str(e).rstrip('.')}. The scan calls fn on batches of elements stacked on "
            "axis 0, so fn must work elementwise on arrays of any shape"
        ) from e
    err = np.max(np.abs(h_scan - h_ref)) / np.max(np.abs(h_ref))
    if not err < 1e-4:  # complex64 (JAX's default precision) against a complex128 loop
        n = int(np.argmax(np.max(np.abs(h_scan - h_ref), axis=-1)))
        raise AssertionError(
            f"the scan with fn does not reproduce eq. 7: at step n = {n + 1} of {L}, expected "
            f"h_n = {np.round(h_ref[n, 0], 4)}, got {np.round(h_scan[n, 0], 4)} [first channel]"
        )
    print("check_binary_operator: associative, earlier element first, agrees with eq. 13, "
          f"and its scan reproduces eq. 7 over {L} steps. Well done.")
