"""Checkers for chapter 3, "The GateLoop recurrence".

* :func:`check_gateloop_loop`: a student's loop for eq. 7-8 with an initial state ``h0``.
* :func:`check_transition`: a student's eq. 24 transition ``a = σ(α) exp(iβ)``.

Each runs the student's function on fresh random inputs, compares with ``gl``, and raises
``AssertionError`` saying which input failed, expected vs got, and (when it recognises
it) the likely mistake. On success it prints one line.

The loop checker draws one case with complex ``q, k`` (chapter 3: ``q_n, k_n ∈ C^{d_k}``): eq. 7-8
use plain products, ``k_nᵀ v_n`` and ``q_n h_n``, so a loop that conjugates either fails there.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..gates import transition
from ..reference import gate_loop_reference
from ._common import call, complex_normal, first_index, likely_mistake, rel_err, unit_phase

__all__ = ["check_gateloop_loop", "check_transition"]

RTOL = 1e-4  # relative error ‖got − want‖/‖want‖ accepted (float32 student code passes)


def _loop_variant(q, k, v, a, h0, variant):
    """Eq. 7-8 and some wrong versions of it, to name a student's mistake. (L, H, ·) arrays."""
    h = np.array(h0, np.complex128)
    if variant == "ignores h0":
        h = np.zeros_like(h)
    if variant == "conjugates q":
        q = np.conj(q)
    if variant == "conjugates k":
        k = np.conj(k)
    ys = []
    for n in range(q.shape[0]):
        kv = k[n][:, :, None] * v[n][:, None, :]  # (H, d_k, d_v)
        a_n = (np.conj(a[n]) if variant == "conjugates a" else a[n])[:, :, None]
        h_old = h
        h = a_n * (h + kv) if variant == "decays the new input" else a_n * h + kv
        read = h_old if variant == "reads the old state" else h
        ys.append(np.sum(q[n][:, :, None] * read, axis=1))
    return np.stack(ys), h


_LOOP_HINTS = {
    "ignores h0": "your loop starts from zeros: it ignores h0 (eq. 7 starts from h_0 = h0)",
    "decays the new input": "you multiply the new input by a_n too, h_n = a_n (h_{n-1} + k_nᵀ v_n); "
    "eq. 7 is h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n",
    "reads the old state": "you read out the state before updating it (y_n = q_n h_{n-1}); "
    "eq. 8 reads the new state, y_n = q_n h_n",
    "conjugates a": "you use the complex conjugate of a_n (check for np.conj or .real/.imag mix-ups)",
    "conjugates q": "you conjugate q_n in the read-out (as np.vdot, q.conj() @ h or .conj().T do): eq. 8 "
    "is y_n = q_n h_n, a plain product; q_n is complex here, and nothing in eq. 7-8 is conjugated",
    "conjugates k": "you conjugate k_n in the write (kᴴ, .conj().T or np.vdot): eq. 7 adds k_nᵀ v_n, "
    "the plain transpose; k_n is complex here, and nothing in eq. 7-8 is conjugated",
}


def _loop_cases(rng):
    """(name, q, k, v, a, h0): SISO real, outer product complex, with an initial state, and with
    complex q, k (complex64; a loop that conjugates either is wrong only there)."""
    def make(L, H, d_k, d_v, complex_a, with_h0, complex_qk=False):
        q, k = (rng.standard_normal((L, H, d_k)) for _ in range(2))
        if complex_qk:
            q, k = ((x + 1j * rng.standard_normal((L, H, d_k))).astype(np.complex64) for x in (q, k))
        v = rng.standard_normal((L, H, d_v))
        mag = rng.uniform(0.3, 1.0, (L, H, d_k))
        a = mag * (unit_phase(rng, (L, H, d_k)) if complex_a else rng.choice([-1.0, 1.0], (L, H, d_k)))
        h0 = complex_normal(rng, (H, d_k, d_v)) if with_h0 else np.zeros((H, d_k, d_v))
        if not complex_a and not with_h0:
            h0 = h0.real
        return q, k, v, a, h0

    return [
        ("SISO (d_k = d_v = 1), real a, h0 = 0", *make(7, 3, 1, 1, False, False)),
        ("outer product (d_k = 3, d_v = 2), complex a, h0 = 0", *make(6, 2, 3, 2, True, False)),
        ("outer product (d_k = 2, d_v = 4), complex a, random complex h0", *make(9, 2, 2, 4, True, True)),
        ("outer product (d_k = 3, d_v = 2), complex q and k (complex64), complex a, random complex h0",
         *make(8, 2, 3, 2, True, True, complex_qk=True)),
    ]


def check_gateloop_loop(fn, seed=None):
    """Check ``fn(q, k, v, a, h0) -> (y, h_L)``, a loop for eq. 7-8 with initial state ``h0``.

    Shapes (one sequence, no batch): ``q, k, a``: ``(L, H, d_k)``; ``v``: ``(L, H, d_v)``;
    ``h0`` and ``h_L``: ``(H, d_k, d_v)``; ``y``: ``(L, H, d_v)``. ``a`` and ``h0`` may be
    complex, and so may ``q, k`` (one case draws them complex64: chapter 3's ``q_n, k_n ∈ C^{d_k}``).
    Compared with :func:`gl.gate_loop_reference` in complex128 at relative error ``RTOL``.
    """
    rng = np.random.default_rng(seed)
    for name, q, k, v, a, h0 in _loop_cases(rng):
        with warnings.catch_warnings():  # JAX's dtype check warns about float64 without x64
            warnings.simplefilter("ignore", UserWarning)
            want_y, want_h = gate_loop_reference(q, k, v, a, h0=h0, return_state=True,
                                                 dtype=np.complex128)
        out = call(fn, (q, k, v, a, h0), f"case {name!r}")
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {name!r}: expected your function to return a pair (y, h_L), "
                                 f"got {type(out).__name__}")
        y, h = (np.asarray(x) for x in out)
        for what, got, want in (("y", y, want_y), ("h_L", h, want_h)):
            if got.shape != want.shape:
                raise AssertionError(f"case {name!r}: {what} has shape {got.shape}, expected {want.shape}"
                                     " (y: (L, H, d_v), h_L: (H, d_k, d_v))")
        err_y, err_h = rel_err(y, want_y), rel_err(h, want_h)
        if err_y <= RTOL and err_h <= RTOL:
            continue

        def matches(variant):  # y (and h_L, unless the variant differs only in its read-out) is the variant's
            vy, vh = _loop_variant(q, k, v, a, h0, variant)
            return rel_err(y, vy) <= RTOL and (variant == "reads the old state" or rel_err(h, vh) <= RTOL)
        hint = likely_mistake((text, matches(variant)) for variant, text in _LOOP_HINTS.items())
        if err_y > RTOL:
            n, i, p = first_index(~np.isclose(y, want_y, rtol=RTOL, atol=RTOL * np.abs(want_y).max()))
            raise AssertionError(
                f"case {name!r}: y differs from eq. 7-8 (relative error {err_y:.2e} > {RTOL:g}); "
                f"first at step n = {n} (0-based), head {i}, column {p}: "
                f"expected {complex(want_y[n, i, p]):.5g}, got {complex(y[n, i, p]):.5g}.{hint}")
        raise AssertionError(
            f"case {name!r}: y is right but the returned final state h_L is not (relative error "
            f"{err_h:.2e}); return the state after the last step, shape (H, d_k, d_v).{hint}")
    print("check_gateloop_loop: correct on 4 cases (SISO, outer product, with h0, complex q and k).")


def check_transition(fn, seed=None):
    """Check ``fn(alpha, beta) -> a``: eq. 24 with the paper's choices, ``a = σ(α) exp(iβ)``.

    ``alpha``, ``beta``: real arrays of one shape; ``a``: complex, same shape. Compared with
    :func:`gl.gates.transition` (sigmoid magnitude, identity phase) at relative error ``RTOL``.
    """
    rng = np.random.default_rng(seed)
    shape = (5, 3, 4)
    alpha = (2.0 * rng.standard_normal(shape)).astype(np.float32)
    beta = rng.uniform(-3.0, 3.0, shape).astype(np.float32)
    want = np.asarray(transition(alpha, beta), np.complex128)
    got = call(fn, (alpha, beta), convert=np.asarray)
    if got.shape != want.shape:
        raise AssertionError(f"a has shape {got.shape}, expected the shape of alpha {want.shape}")
    if rel_err(got, want) <= RTOL:
        print("check_transition: correct (|a| = σ(α), arg a = β on 60 random entries).")
        return
    sig = lambda x: 1 / (1 + np.exp(-x))
    wrong = {
        "the magnitude is exp(-exp(α)) (LRU's stable exponential), not σ(α)":
            np.exp(-np.exp(alpha)) * np.exp(1j * beta),
        "the phase is exp(β) (LRU's), not β (the paper omits the phase activation)":
            sig(alpha) * np.exp(1j * np.exp(beta)),
        "α and β are swapped: α sets the magnitude, β the phase": sig(beta) * np.exp(1j * alpha),
        "the phase factor is missing: a must be complex, σ(α) exp(iβ)": sig(alpha) + 0j,
        "exp(β) instead of exp(iβ): the phase factor needs the imaginary unit":
            sig(alpha) * np.exp(beta) + 0j,
        "the magnitude is α itself: apply the sigmoid, σ(α) = 1 / (1 + exp(-α))":
            alpha * np.exp(1j * beta),
    }
    hint = likely_mistake((t, rel_err(got, w) <= RTOL) for t, w in wrong.items())
    i = np.unravel_index(np.argmax(np.abs(got - want)), shape)
    raise AssertionError(
        f"a differs from σ(α) exp(iβ) (relative error {rel_err(got, want):.2e} > {RTOL:g}); worst at "
        f"alpha = {alpha[i]:.4g}, beta = {beta[i]:.4g}: expected {complex(want[i]):.5g} "
        f"(|a| = {abs(want[i]):.4g}, arg a = {np.angle(want[i]):.4g}), got {complex(got[i]):.5g} "
        f"(|a| = {abs(got[i]):.4g}, arg a = {np.angle(got[i]):.4g}).{hint}")
