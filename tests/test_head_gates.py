"""One gate per head: ``a`` of shape ``(..., L, H, 1)`` (RetNet, Mamba-2).

Every mode gives what the same gate broadcast to ``(..., L, H, d_k)`` gives, checked against the
complex128 Numba loop with the tolerances of the other modes (float32/complex64 2e-5,
float64/complex128 1e-11); the XLA chunked mode's own path (:func:`gl.chunked.head_scores`, a
``(C, C)`` mask of products) also for exact zeros and ``|a| = 1e-30``, with float64
``check_grads`` (1e-5), its gradient of ``a`` equal to the broadcast one summed over ``d_k``
(1e-4, float32), and causality for NaN (outputs before the step bit-equal on a CPU).
"""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gl
from gl import chunked
from conftest import examples, random_inputs, rel_err

MODES = ["recurrent", "parallel", "attention", "chunked", "auto"]


def head_inputs(rng, batch, L, H, d_k, d_v, mag=(0.5, 1.0), complex_a=True, h0=False,
                dtype=np.float32):
    args = random_inputs(rng, batch, L, H, d_k, d_v, mag=mag, complex_a=complex_a, h0=h0,
                         dtype=dtype)
    args[3] = np.ascontiguousarray(args[3][..., :1])  # one gate per head
    return args


def reference(q, k, v, a, h0=None):
    return gl.gate_loop_reference(q, k, v, np.broadcast_to(a, q.shape), h0=h0,
                                  return_state=True, dtype=np.complex128)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_takes_a_gate_per_head(rng, mode):
    q, k, v, a, h0 = head_inputs(rng, (2,), 37, 3, 16, 8, h0=True)
    y_ref, h_ref = reference(q, k, v, a, h0)
    y, h = gl.gate_loop(q, k, v, a, mode=mode, h0=h0, return_state=True)
    assert y.shape == (2, 37, 3, 8) and h.shape == (2, 3, 16, 8)
    assert rel_err(y, y_ref) < 2e-5 and rel_err(h, h_ref) < 2e-5


@settings(max_examples=examples(15))  # each new shape compiles anew
@given(seed=st.integers(0, 2**31 - 1), L=st.sampled_from([1, 5, 16, 17, 65, 130]),
       dims=st.sampled_from([(2, 3), (4, 4), (16, 20)]), complex_a=st.booleans(),
       mag=st.sampled_from([(0.0, 1e-30), (0.0, 0.05), (0.3, 0.9), (0.999, 1.0)]),
       zeros=st.booleans(), with_h0=st.booleans(), chunk_size=st.sampled_from([None, 4, 16, 64]),
       x64=st.booleans())
def test_chunked_head_path_matches_reference(seed, L, dims, complex_a, mag, zeros, with_h0,
                                             chunk_size, x64):
    """The (C, C) mask of products: exact zeros, tiny gates, real gates of either sign."""
    rng = np.random.default_rng(seed)
    args = head_inputs(rng, (2,), L, 3, *dims, mag=mag, complex_a=complex_a, h0=with_h0,
                       dtype=np.float64 if x64 else np.float32)
    if zeros:
        args[3][rng.random(args[3].shape) < 0.1] = 0
    y_ref, h_ref = reference(*args[:4], args[4] if with_h0 else None)
    with jax.enable_x64(x64):
        y, h = chunked.gate_loop_chunked(*(jnp.asarray(x) for x in args[:4]),
                                         jnp.asarray(args[4]) if with_h0 else None,
                                         chunk_size=chunk_size)
    tol = 1e-11 if x64 else 2e-5
    assert rel_err(y, y_ref) < tol and rel_err(h, h_ref) < tol, (rel_err(y, y_ref),
                                                                  rel_err(h, h_ref))


def test_head_scores_against_the_explicit_decay(rng):
    q, k, _, a = head_inputs(rng, (2,), 16, 1, 4, 4, dtype=np.float64)
    with jax.enable_x64(True):
        S, qP, kR, T = chunked.head_scores(*(jnp.asarray(x[:, :, 0]) for x in (q, k, a)))
    g = a[:, :, 0, 0]
    D = np.array([[[np.prod(g[b, m + 1:n + 1]) if m <= n else 0 for m in range(16)]
                   for n in range(16)] for b in range(2)])
    want = np.einsum("bnk,bmk->bnm", q[:, :, 0], k[:, :, 0]) * D
    assert rel_err(S, want) < 1e-12
    assert rel_err(T, np.prod(g, axis=1)[:, None]) < 1e-12
    assert rel_err(qP, q[:, :, 0] * np.cumprod(g, axis=1)[..., None]) < 1e-12


def _loss(mode, w):
    return lambda q, k, v, a: jnp.sum(gl.gate_loop(q, k, v, a, mode=mode).real * w)


@pytest.mark.parametrize("mode, dims", [("chunked", (16, 16)), ("parallel", (4, 2)),
                                        ("attention", (4, 2)), ("auto", (4, 2))])
def test_gradient_of_a_is_the_broadcast_one_summed(rng, mode, dims):
    """Every mode's gradient in a per-head ``a`` is the per-key one summed over ``d_k`` (the
    parallel mode's hand-written backward once returned it unsummed, and the default call
    with a small state picks that mode)."""
    L = 70 if mode == "chunked" else 24  # chunked: several chunks; the others: any length
    q, k, v, a = head_inputs(rng, (1,), L, 2, *dims, complex_a=False, mag=(0.5, 1.0))
    w = rng.standard_normal(v.shape).astype(np.float32)
    g_head = jax.jit(jax.grad(_loss(mode, w), argnums=(0, 1, 2, 3)))(q, k, v, a)
    g_full = jax.jit(jax.grad(_loss("recurrent", w), argnums=(0, 1, 2, 3)))(
        q, k, v, np.broadcast_to(a, q.shape))
    for x, y in zip(g_head[:3], g_full[:3]):
        assert rel_err(x, y) < 1e-4
    assert g_head[3].shape == a.shape
    assert rel_err(g_head[3], np.sum(g_full[3], axis=-1, keepdims=True)) < 1e-4


def test_check_grads_of_the_head_path(rng):
    from jax.test_util import check_grads
    q, k, v, a = head_inputs(rng, (1,), 9, 1, 2, 2, complex_a=False, mag=(0.4, 0.9),
                             dtype=np.float64)
    with jax.enable_x64(True):
        f = lambda q, k, v, a: chunked.gate_loop_chunked(q, k, v, a, chunk_size=4)[0]
        check_grads(f, (q, k, v, a), order=1, modes=("rev", "fwd"), atol=1e-5, rtol=1e-5)


def test_zero_gate_has_finite_gradients(rng):
    q, k, v, a = head_inputs(rng, (1,), 20, 1, 16, 16, complex_a=False)
    a[:, 5] = 0
    w = rng.standard_normal(v.shape).astype(np.float32)
    g = jax.grad(_loss("chunked", w), argnums=(0, 1, 2, 3))(q, k, v, a)
    assert all(np.isfinite(np.asarray(x)).all() for x in g)


@pytest.mark.parametrize("where", ["v", "k", "a"])
def test_nan_stays_causal(rng, where):
    q, k, v, a = head_inputs(rng, (1,), 40, 2, 16, 16)
    clean = np.asarray(gl.gate_loop(q, k, v, a, mode="chunked"))
    x = {"k": k, "v": v, "a": a}[where]
    x[:, 23] = np.nan
    y = np.asarray(gl.gate_loop(q, k, v, a, mode="chunked"))
    np.testing.assert_array_equal(y[:, :23], clean[:, :23])


def test_empty_sequence_and_a_bad_shape(rng):
    q, k, v, a = head_inputs(rng, (1,), 0, 2, 16, 8)
    y, h = gl.gate_loop(q, k, v, a, mode="chunked", return_state=True)
    assert y.shape == (1, 0, 2, 8) and not np.asarray(h).any()
    q, k, v, a = head_inputs(rng, (1,), 5, 2, 16, 8)
    with pytest.raises(ValueError, match=r"a: expected the shape of q .* or \(1, 5, 2, 1\) for "
                                         r"one gate per head, got \(1, 5, 2, 2\)"):
        gl.gate_loop(q, k, v, np.concatenate([a, a], axis=-1))


def test_reference_and_kernel_take_a_gate_per_head(rng):
    """The Numba loop and the fused kernel (in the Pallas interpreter) broadcast a (..., 1) gate;
    without that, the loop reads past it as if it had d_k entries (a silent wrong answer, seen
    while this path was written)."""
    from gl import kernels
    q, k, v, a = head_inputs(rng, (1,), 32, 2, 16, 16, complex_a=False)
    full = np.broadcast_to(a, q.shape).copy()
    want = gl.gate_loop_reference(q, k, v, full)
    np.testing.assert_array_equal(gl.gate_loop_reference(q, k, v, a), want)
    # gl.gate_loop's impl="pallas" path after its checks, in the interpreter
    y, _ = kernels.gate_loop_pallas(q, k, v, a, None, np.float32, interpret=True)
    assert rel_err(y, want) < 2e-5


def test_kernel_backward_keeps_the_per_head_path(rng, monkeypatch):
    """The fused kernel's gradient is recomputed by autodiff through gl.chunked. It gets the
    per-head ``a`` (broadcast only at the kernel's input), so the backward runs the per-head
    chunk (``gl.chunked.head_scores``: 1.75x faster than the broadcast gate forward and backward
    on an H100, ``gl/assets/bench/head_gates_h100.json``) and returns ``a``'s
    gradient in ``a``'s shape; it equals the XLA path's."""
    import gl.chunked
    from gl import kernels
    q, k, v, a = head_inputs(rng, (1,), 32, 2, 16, 16, complex_a=False)
    w = rng.standard_normal(v.shape).astype(np.float32)
    calls = []
    real = gl.chunked.head_scores
    monkeypatch.setattr(gl.chunked, "head_scores", lambda *x: calls.append(1) or real(*x))
    loss = lambda f: lambda *x: jnp.sum(f(*x) * w)
    pallas = lambda *x: kernels.gate_loop_pallas(*x, None, np.float32, interpret=True)[0]
    xla = lambda *x: gl.gate_loop(*x, mode="chunked", impl="xla")
    got = jax.grad(loss(pallas), argnums=(0, 1, 2, 3))(q, k, v, a)
    assert calls, "the kernel's backward did not take the per-head path"
    want = jax.grad(loss(xla), argnums=(0, 1, 2, 3))(q, k, v, a)
    assert got[3].shape == a.shape
    for g, r in zip(got, want):
        assert rel_err(g, r) < 2e-5


def test_the_benchmark_checks_before_it_times(tmp_path):
    """``benchmarks/head_gates.py`` at a tiny shape: every row agrees (no timing asserted)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    import head_gates
    out = tmp_path / "head_gates.json"
    rows = head_gates.main(["--shape", "1,40,2,16", "--repeats", "1", "--json", str(out)])
    assert len(rows) == 4 and all(r["agrees"] for r in rows)
    assert {(r["method"].split(",")[0], r["pass_"]) for r in rows} == {
        (m, p) for m in ("per head", "broadcast") for p in ("fwd", "fwd+bwd")}
    # the file states what its rows mean, as the shipped H100 run does (its note excepted)
    prov = json.loads(out.read_text())["provenance"]
    shipped = gl.bench.load_results("head_gates_h100")["provenance"]
    assert prov["rel_err"] == shipped["rel_err"] == head_gates.REL_ERR
    assert set(prov) == set(shipped) - {"note"} and "bytes_per_element" not in prov
    assert prov["command"].startswith("python benchmarks/head_gates.py --shape 1,40,2,16")


def test_sequence_parallel_takes_a_gate_per_head(rng):
    """``gl.sharded`` on a one-device mesh (the multi-device cases: ``tests/test_sharded.py``)."""
    from gl import sharded
    q, k, v, a = head_inputs(rng, (2,), 16, 2, 4, 4, complex_a=False)
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("seq",))
    want = gl.gate_loop_reference(q, k, v, a)
    for mode in ("chunked", "parallel"):
        y = jax.jit(lambda *x: sharded.gate_loop_sharded(  # eager shard_map is slow
            *x, mesh=mesh, axis="seq", mode=mode))(q, k, v, a)
        assert rel_err(y, want) < 2e-5, mode
