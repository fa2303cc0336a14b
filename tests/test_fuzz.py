"""Fuzzing the public functions (issue 24, "Beyond the list"): adversarial shapes, dtypes,
NaN/inf and extreme gates, against the Numba loop.

Bounded: each property runs a fixed, small number of examples (``derandomize`` in the ``ci``
profile), drawn from a few shapes so that XLA's compilations are reused; the file runs in
well under a minute on two busy cores.

Properties:

* every mode of :func:`gl.gate_loop` agrees with :func:`gl.gate_loop_reference` where both
  are defined (finite inputs): L = 0, 1, 17; H = 1, 2; d = 1; batch dims; float32/float64/
  complex64/complex128 inputs, mixed; ``|a|`` = 0, tiny (1e-30), uniform, 1 and 1.05;
  with and without ``h0``. Tolerance: ``‖y − y_ref‖ ≤ tol · (‖y_ref‖ + scale)`` with
  ``tol`` = 2e-5 (single) or 1e-11 (double) and ``scale`` the norm of the terms
  (``Σ|q||k||v|`` bound), so cancellation to ~0 is not an error;
* causality under NaN/inf: a non-finite value in any input at step ``t`` leaves every output
  before ``t`` as it was, in every mode;
* bad input gets a ``TypeError``/``ValueError`` that names the argument and says what was
  expected and what was got.

Found and fixed by this suite: see issue 24 items 1-4 (tests in test_operator.py,
test_attention.py, test_reference.py); nothing else it found is open.
"""
from __future__ import annotations

import re
from functools import lru_cache, partial

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gl

MODES = ["recurrent", "parallel", "attention", "chunked"]
FUZZ = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
# Dtypes of (q, k, v, a, h0): uniform, the paper's (real q, k, v, complex a) and mixed.
DTYPES = st.sampled_from([
    (np.float32,) * 5, (np.float64,) * 5, (np.complex128,) * 5,
    (np.float32, np.float32, np.float32, np.complex64, np.complex64),
    (np.float64, np.float32, np.complex64, np.float32, np.float64),
    (np.complex64, np.float64, np.float32, np.complex128, np.float32)])


@lru_cache(maxsize=None)
def _op(mode, x64):
    """gl.gate_loop(mode=mode, return_state=True) jitted: one compilation per shape and dtype
    (eagerly, each primitive of a call compiles on a new shape). x64 keys the cache only."""
    return jax.jit(partial(gl.gate_loop, mode=mode, return_state=True))

shapes = st.sampled_from([
    ((), 0, 1, 1, 1), ((), 1, 2, 1, 1), ((2,), 17, 1, 1, 1), ((), 17, 2, 2, 3),
    ((2, 1), 1, 1, 2, 1), ((1,), 0, 2, 3, 2)])
gates = st.sampled_from(["zero", "tiny", "uniform", "one", "above_one", "mixed"])


def _gate(rng, kind, shape):
    mag = {"zero": 0.0, "tiny": 1e-30, "one": 1.0, "above_one": 1.05}.get(kind)
    if kind == "uniform":
        return rng.uniform(0.3, 1.0, shape)
    if kind == "mixed":  # each entry one of the extremes
        return rng.choice([0.0, 1e-30, 0.5, 1.0, 1.05], shape)
    return np.full(shape, mag)


def _inputs(seed, batch, L, H, d_k, d_v, dts, gate, with_h0):
    rng = np.random.default_rng(seed)
    shp = {"q": batch + (L, H, d_k), "k": batch + (L, H, d_k), "v": batch + (L, H, d_v),
           "a": batch + (L, H, d_k), "h0": batch + (H, d_k, d_v)}
    out = {}
    for name, dt in zip(["q", "k", "v", "a", "h0"], dts):
        x = _gate(rng, gate, shp[name]) if name == "a" else rng.standard_normal(shp[name])
        if np.issubdtype(dt, np.complexfloating):
            phase = rng.uniform(-np.pi, np.pi, shp[name]) if name == "a" else \
                rng.standard_normal(shp[name])
            x = x * np.exp(1j * phase) if name == "a" else x + 1j * phase
        elif name == "a":
            x = x * rng.choice([-1.0, 1.0], shp[name])
        out[name] = x.astype(dt)
    if not with_h0:
        out["h0"] = None
    return out


@FUZZ
@given(seed=st.integers(0, 2**31 - 1), shape=shapes, gate=gates, with_h0=st.booleans(),
       dts=DTYPES)
def test_modes_agree_with_reference(seed, shape, gate, with_h0, dts):
    """Every mode against the Numba loop in complex128, with jax x64 on (float64 computes in
    float64, float32 in float32)."""
    x = _inputs(seed, *shape, dts, gate, with_h0)
    with jax.enable_x64(True):
        y_ref, h_ref = gl.gate_loop_reference(**x, return_state=True, dtype=np.complex128)
        dt = np.result_type(*(v.dtype for v in x.values() if v is not None))
        tol = 2e-5 if np.finfo(dt).bits <= 32 else 1e-11
        qkv = [np.abs(x[n]).astype(np.float64) for n in "qkv"]
        scale = np.sqrt(y_ref.size) * (1 + max((q.max(initial=0) * k.max(initial=0) *
                                                v.max(initial=0)) for q, k, v in [qkv]))
        for mode in MODES:
            y, h = _op(mode, True)(**x)
            assert y.shape == y_ref.shape and h.shape == h_ref.shape, mode
            assert np.dtype(y.dtype) == np.result_type(dt, np.float32), (mode, y.dtype, dt)
            err = np.linalg.norm(np.asarray(y) - y_ref)
            assert err <= tol * (np.linalg.norm(y_ref) + scale), (mode, err)
            err = np.linalg.norm(np.asarray(h) - h_ref)
            assert err <= tol * (np.linalg.norm(h_ref) + scale * max(1, shape[1])), (mode, err)


@FUZZ
@given(seed=st.integers(0, 2**31 - 1), gate=gates, t=st.integers(0, 16),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       dt=st.sampled_from([np.float32, np.complex64]))
def test_non_finite_input_is_causal(seed, gate, t, bad, dt):
    """A NaN or ±inf in one entry of q, k, v or a (each in turn) at step t: outputs before t
    are unchanged (L = 17 is two chunks of the chunked mode)."""
    x = _inputs(seed, (2,), 17, 2, 2, 3, (np.float32,) * 3 + (dt, dt), gate, False)
    rng = np.random.default_rng(seed)
    for mode in MODES:
        y = np.asarray(_op(mode, False)(**x)[0])
        for arg in "qkva":
            x2 = dict(x, **{arg: x[arg].copy()})
            x2[arg][1, t, rng.integers(2), rng.integers(x[arg].shape[-1])] = bad
            y2 = np.asarray(_op(mode, False)(**x2)[0])
            np.testing.assert_allclose(y2[:, :t], y[:, :t], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{mode}, {arg}")


def _good(batch=(2,), L=5, H=3, d_k=2, d_v=4):
    z = lambda *s: np.zeros(s, np.float32)
    return {"q": z(*batch, L, H, d_k), "k": z(*batch, L, H, d_k), "v": z(*batch, L, H, d_v),
            "a": z(*batch, L, H, d_k), "h0": z(*batch, H, d_k, d_v)}


corruptions = st.sampled_from([
    ("ndim", ValueError), ("L", ValueError), ("H", ValueError), ("d", ValueError),
    ("batch", ValueError), ("int", TypeError), ("bool", TypeError), ("str", TypeError)])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(arg=st.sampled_from(["q", "k", "v", "a", "h0"]), how=corruptions,
       fn=st.sampled_from(["gate_loop", "gate_loop_reference"]))
def test_bad_input_names_the_argument(arg, how, fn):
    """Each corruption of one argument raises, and the message names that argument and has
    'expected' and 'got' in it (the shape rules are relative to q, so a corrupted q is
    reported as q or as the first argument that disagrees with it)."""
    x, (kind, err) = _good(), how
    s = x[arg].shape
    if kind == "ndim":
        x[arg] = np.zeros((2,), np.float32)
    elif kind in ("L", "H", "d", "batch"):
        i = {"L": -3, "H": -2, "d": -1, "batch": 0}[kind]
        if arg == "h0":
            i = {"L": 0, "H": -3, "d": -2, "batch": 0}[kind]
        s2 = list(s)
        s2[i] += 1
        x[arg] = np.zeros(s2, np.float32)
    else:
        x[arg] = x[arg].astype({"int": np.int32, "bool": np.bool_, "str": np.str_}[kind])
    f = getattr(gl, fn)
    with pytest.raises(err) as info:
        f(x.pop("q"), x.pop("k"), x.pop("v"), x.pop("a"), **x)
    msg = str(info.value)
    named = re.match(r"(\w+): ", msg)
    assert named, msg
    assert "expected" in msg and "got" in msg, msg
    want = {arg} if arg != "q" or kind not in ("L", "H", "d", "batch", "ndim") else \
        {"q", "k", "v", "a", "h0"}
    if (arg, kind) == ("v", "d"):  # d_v is free: h0 is the one that no longer fits
        want = {"h0"}
    assert named.group(1) in want, (arg, kind, msg)


@lru_cache(maxsize=None)
def _grad(mode):
    """The jitted gradient of ``sum(y²)`` w.r.t. ``q, k, v, a``: compiled once per mode."""
    loss = lambda q, k, v, a: jax.numpy.sum(gl.gate_loop(q, k, v, a, mode=mode) ** 2)
    return jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), gate=gates)
def test_gradients_agree_at_extreme_gates(seed, gate):
    """Gradients of every differentiable mode equal the recurrent mode's, with |a| = 0, tiny,
    1 and 1.05 among the gates (float64: relative 1e-8)."""
    x = _inputs(seed, (), 17, 2, 2, 3, (np.float64,) * 4 + (np.complex128,), gate, False)
    del x["h0"]

    with jax.enable_x64(True):
        ref = _grad("recurrent")(*x.values())
        for mode in MODES[1:]:
            g = _grad(mode)(*x.values())
            for name, gi, ri in zip("qkva", g, ref):
                gi, ri = np.asarray(gi), np.asarray(ri)
                assert np.all(np.isfinite(gi)), (mode, name)
                assert np.linalg.norm(gi - ri) <= 1e-8 * (np.linalg.norm(ri) + 1), (mode, name)


def test_pallas_siso_kernel_is_causal_under_non_finite_input():
    """The Pallas SISO scan (interpreter) keeps NaN/inf causal, like the XLA modes."""
    from gl.kernels import siso_scan

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 37, 8)).astype(np.float32) for _ in range(3))
    a = rng.uniform(0.5, 1, (1, 37, 8)).astype(np.complex64)
    run = lambda x: np.asarray(siso_scan.gate_loop_siso(
        *x, None, interpret=True, block_d=8, chunk=4, segments=1)[0])
    y = run((q, k, v, a))
    for i, bad in ((0, np.inf), (1, np.nan), (2, np.inf), (3, np.nan)):
        x = [q.copy(), k.copy(), v.copy(), a.copy()]
        x[i][0, 21, 3] = bad
        np.testing.assert_array_equal(run(x)[:, :21], y[:, :21], err_msg="qkva"[i])


def test_pallas_multihead_kernel_is_causal_under_non_finite_input():
    """The fused multi-head kernel (interpreter) keeps NaN/inf in any input causal: such inputs
    take gl.chunked (``check_finite``, the default). Without the check the kernels' matmuls
    put NaN into the earlier outputs of the bad step's 16-step chunk (the defect this suite
    found), which the last lines show, so that the test can tell the two apart."""
    from gl.kernels import chunked

    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((1, 40, 1, 16)).astype(np.float32) for _ in range(2))
    v = rng.standard_normal((1, 40, 1, 16)).astype(np.float32)
    a = rng.uniform(0.5, 1, (1, 40, 1, 16)).astype(np.complex64)
    run = lambda *x, check=True: chunked.gate_loop_mh(
        *x, interpret=True, segments=2, block_v=16, check_finite=check)
    y, h = run(q, k, v, a)
    for i, bad in ((0, np.inf), (1, np.nan), (2, np.inf), (3, np.nan)):
        x = [q.copy(), k.copy(), v.copy(), a.copy()]
        x[i][0, 21, 0, 3] = bad
        y2, h2 = run(*x)
        assert y2.dtype == y.dtype and h2.dtype == h.dtype
        np.testing.assert_allclose(y2[:, :21], y[:, :21], rtol=1e-5, atol=1e-5,
                                   err_msg="qkva"[i])
        assert not np.all(np.isfinite(np.asarray(y2[:, 21:])))  # from t on: not finite
    v2 = v.copy()
    v2[0, 21, 0, 3] = np.inf
    unchecked = np.asarray(run(q, k, v2, a, check=False)[0])
    assert np.isnan(unchecked[:, 16:21]).any()  # the chunk of step 21 starts at 16
    # real gates, one per key and one per head: the reference path returns the same types
    for a_real in (a.real.copy(), a.real[..., :1].copy()):
        y, h = run(q, k, v, a_real)
        y2, h2 = run(q, k, v2, a_real)
        assert (y2.dtype, h2.dtype) == (y.dtype, h.dtype) == (np.float32, np.float32)
        np.testing.assert_allclose(y2[:, :21], y[:, :21], rtol=1e-5, atol=1e-5)
