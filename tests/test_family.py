"""gl.family: each model mapped to GateLoop equals its own published equations.

The ground truth is :mod:`gl.family.loops`: plain NumPy loops of each paper's equations
(S4D as its convolution kernel, RetNet with its rotated Q and K, mLSTM with its own
normalizer and stabilizer, RWKV-6 reading ``S_{t-1}`` plus its bonus), float64. The mapping
runs through :func:`gl.gate_loop`. Tolerances (relative error over all outputs):
float64 ``1e-10``, float32 ``1e-4`` (measured worst of ``python -m gl.family.check``,
2026-12-07: 1.2e-14, RG-LRU, and 1.3e-6, mLSTM).
"""
from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gl
import gl.family as F
from conftest import PROFILE
from gl.family.check import cast_params, errors, run_jit
from gl.family.loops import LOOPS

TOL64, TOL32 = 1e-10, 1e-4
SKIP = {"s4d", "s5", "lru", "mamba", "mamba2"}  # members with a skip term D u


def test_registry_complete():
    assert set(F.MODELS) == set(F.INITS) == set(LOOPS)
    assert len(F.MODELS) == 12


def _case(name, seed, batch, L, D, H, N, skip):
    x = np.random.default_rng(seed).standard_normal(batch + (L, D))
    p = F.INITS[name](seed, D, heads=H, d_state=N)
    if name in SKIP and not skip:  # the recurrence alone, not hidden behind D u
        p["D"] = np.zeros_like(p["D"])
    return x, p


#: examples per model: each new shape compiles, so make test draws 6 (the same 6 each run:
#: the ci profile is derandomized), make test-all 25 and the dev profile 60
EXAMPLES = {"ci": 6, "all": 25, "dev": 60}[PROFILE]
shapes = st.tuples(st.integers(0, 2**16), st.sampled_from([(), (2,)]), st.integers(1, 12),
                   st.sampled_from([(2, 1), (4, 2), (6, 3), (8, 2)]), st.integers(1, 3),
                   st.booleans())


@pytest.mark.parametrize("name", list(F.MODELS))
@settings(max_examples=EXAMPLES, deadline=None)
@given(case=shapes)
def test_mapping_equals_own_loop(name, case):
    seed, batch, L, (D, H), N, skip = case
    x, p = _case(name, seed, batch, L, D, H, N, skip)
    e64, e32 = errors(name, x, p)
    assert e64 < TOL64, (name, case, e64)
    assert e32 < TOL32, (name, case, e32)


@pytest.mark.parametrize("mode", ["auto", "parallel", "attention"])
@pytest.mark.parametrize("name", ["s4d", "retnet", "mamba2", "mlstm", "rwkv6", "gateloop"])
def test_modes_agree(name, mode):
    """The same mapping through GateLoop's other algorithms, float64 (the rest of the file
    uses ``mode="recurrent"``)."""
    x, p = _case(name, 5, (2,), 10, 4, 2, 2, skip=False)
    assert errors(name, x, p, mode=mode, dtypes=("float64",))[0] < TOL64


def test_long_sequence():
    """L = 200: the decays compound; float32 stays within tolerance for every member."""
    for name in F.MODELS:
        x, p = _case(name, 7, (1,), 200, 4, 2, 2, skip=False)
        (e32,) = errors(name, x, p, dtypes=("float32",))
        assert e32 < TOL32, (name, e32)


#: input scales at which every gate saturates in float32 (sigmoids of about ±300 are 0 or 1);
#: mLSTM's exponential input gate bounds it lower: its stabilizer ``m`` follows the input-gate
#: pre-activation, and the output's gradient through ``max(|n'q|, e^{-m})`` needs ``e^{m}``,
#: which overflows float32 from ``m`` of about 88 (a bound of the xLSTM form itself)
SATURATING = {"mlstm": 30.0}


@pytest.mark.parametrize("name", list(F.MODELS))
def test_saturated_gates_have_finite_gradients(name):
    """Gates pushed to 0 or 1 in float32 give finite gradients (GLA's ``σ(z)^{1/16}`` once gave
    ``0 · inf = NaN`` at ``σ(z) = 0``, RG-LRU's ``sqrt(1 - a²)`` at ``a = 1``). Found while
    looking for why GLA's language-model runs at nanoGPT's scale went NaN; a later run with
    the old form did not, so this is not shown to be that cause (chapter 12's appendix)."""
    p = F.INITS[name](0, 8)
    arrays = {k: np.asarray(v).astype(np.complex64 if np.iscomplexobj(v) else np.float32)
              for k, v in p.items() if k != "heads"}
    x = np.random.default_rng(0).standard_normal((1, 8, 8)).astype(np.float32)
    x = x * SATURATING.get(name, 300.0)

    def loss(arrays):
        y = F.run(name, x, {**arrays, **({"heads": p["heads"]} if "heads" in p else {})})
        return jax.numpy.sum(jax.numpy.abs(y))

    value, grads = jax.jit(jax.value_and_grad(loss))(arrays)  # one compile, not op by op
    assert np.isfinite(value)
    bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
    assert not bad, (name, bad)


def test_mlstm_stabilizer_exact_relation():
    """xLSTM's stabilized equations give the unstabilized output (float64, 1e-12), and the
    mapping's stabilizer m_t equals the sequential max recurrence."""
    x, p = _case("mlstm", 3, (2,), 30, 8, 2, 4, skip=False)
    p["b_i"] = p["b_i"] + 20.0  # large input gates: exp(ĩ) ~ e^20
    plain, stab = LOOPS["mlstm"](x, p), LOOPS["mlstm"](x, p, stabilized=True)
    assert np.max(np.abs(stab - plain)) <= 1e-12 * np.max(np.abs(plain))
    rng = np.random.default_rng(0)
    lf, li = -rng.uniform(0, 2, (17, 3)), rng.normal(0, 5, (17, 3))
    with jax.enable_x64(True):
        m_prev, m = (np.asarray(z) for z in F.max_stabilizer(lf, li))
    want, prev = np.zeros_like(li), np.zeros(3)
    for t in range(17):
        want[t] = prev = np.maximum(lf[t] + prev, li[t])
    np.testing.assert_allclose(m, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m_prev[1:], want[:-1], rtol=0, atol=1e-12)
    assert np.all(m_prev[0] == 0)


def test_mlstm_stabilized_where_exp_overflows():
    """ĩ ≈ 120: exp(ĩ) overflows float32 (max 3.4e38), the unstabilized loop in float32 gives
    inf/nan; the mapping (stabilized gates a' <= 1, k' <= |k|) stays finite and within 10x
    of the published STABILIZED loop's own float32 error (exponents near 120 carry an
    absolute rounding of about 120·2^-24 each, so neither is within 1e-4 in general)."""
    x, p = _case("mlstm", 4, (1,), 20, 4, 2, 2, skip=False)
    p["b_i"] = p["b_i"] + 120.0
    x32, p32 = x.astype(np.float32), cast_params(p, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        bad = LOOPS["mlstm"](x32, p32)
    assert not np.all(np.isfinite(bad))
    ref = LOOPS["mlstm"](x, p)
    e_loop32 = np.linalg.norm(LOOPS["mlstm"](x32, p32, stabilized=True) - ref) / np.linalg.norm(ref)
    e64, e32 = errors("mlstm", x, p)
    assert e64 < TOL64 and e32 <= 10 * e_loop32 + 1e-6, (e64, e32, e_loop32)
    m = F.mlstm(x.astype(np.float32), cast_params(p, np.float32))
    assert float(np.max(np.abs(m.a))) <= 1 and np.all(np.isfinite(np.asarray(m.k)))


def test_rwkv6_bonus_is_the_diagonal():
    """Without the bonus (u = 0) RWKV-6 is GateLoop with shifted k, v, w exactly; the bonus
    changes only each token's own contribution: the difference is (r_t ⊙ u · k_t) v_t."""
    x, p = _case("rwkv6", 2, (1,), 9, 4, 2, 2, skip=False)
    p0 = dict(p, u=np.zeros_like(p["u"]))
    with jax.enable_x64(True):
        diff = np.asarray(run_jit("rwkv6", x, p)) - np.asarray(run_jit("rwkv6", x, p0))
    H = p["heads"]
    r = (x @ p["W_r"]).reshape(1, 9, H, -1)
    k = (x @ p["W_k"]).reshape(1, 9, H, -1)
    v = (x @ p["W_v"]).reshape(1, 9, H, -1)
    want = (np.sum(r * p["u"] * k, -1, keepdims=True) * v).reshape(diff.shape)
    np.testing.assert_allclose(diff, want, rtol=1e-12, atol=1e-12)


def test_retnet_complex_retention():
    """Before the real part: GateLoop's complex y equals RetNet's complex o_n (the real part
    alone cannot tell the rotation e^{+iθ} from e^{-iθ})."""
    x, p = _case("retnet", 6, (2,), 11, 4, 2, 3, skip=False)
    with jax.enable_x64(True):
        m = F.retnet(x, p)
        y = np.asarray(gl.gate_loop(m.q, m.k, m.v, m.a, mode="recurrent"))
    want = LOOPS["retnet"](x, p, real=False)
    assert np.linalg.norm(y.reshape(want.shape) - want) <= TOL64 * np.linalg.norm(want)


def test_run_under_jit():
    """The mappings trace: decays are checked when parameters are concrete."""
    x, p = _case("mamba", 0, (), 6, 4, 2, 2, skip=True)
    y = jax.jit(lambda x: F.run("mamba", x, p))(x.astype(np.float32))
    assert np.allclose(y, F.run("mamba", x.astype(np.float32), p), atol=1e-5)


# --- bad input ---------------------------------------------------------------------------

def _first_array(p):
    return next(n for n, v in p.items() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("name", list(F.MODELS))
def test_wrong_param_shape_names_model_argument_shapes(name):
    x, p = _case(name, 0, (), 5, 4, 2, 2, skip=True)
    for pname in [n for n, v in p.items() if isinstance(v, np.ndarray)]:
        bad = dict(p)
        bad[pname] = np.concatenate([p[pname], p[pname][..., :1]], axis=-1)
        with pytest.raises(ValueError) as e:
            F.MODELS[name](x, bad)
        msg = str(e.value)
        assert msg.startswith(f"{name}:"), msg
        assert name in msg and "expected" in msg and "got" in msg, msg
        # the parameter named is the wrong one, or one whose size it sets
        assert re.search(r"params\['\w+'\]|x", msg), msg
        if f"params['{pname}']" in msg:
            assert str(bad[pname].shape) in msg, msg


@pytest.mark.parametrize("name", list(F.MODELS))
def test_missing_param_and_bad_x(name):
    x, p = _case(name, 0, (), 5, 4, 2, 2, skip=True)
    pname = _first_array(p)
    with pytest.raises(ValueError, match=rf"^{name}: params\['{pname}'\]: missing"):
        F.MODELS[name](x, {n: v for n, v in p.items() if n != pname})
    with pytest.raises(ValueError, match=rf"^{name}: x: expected shape \(\.\.\., L, D\)"):
        F.MODELS[name](x[0, 0], p)
    with pytest.raises(TypeError, match=rf"^{name}: x: expected a real float array"):
        F.MODELS[name](np.ones((5, 4), np.int32), p)
    with pytest.raises(TypeError, match=rf"^{name}: x: .*long double"):
        F.MODELS[name](np.ones((5, 4), np.longdouble), p)
    with pytest.raises(ValueError, match=rf"^{name}: params: expected a dict"):
        F.MODELS[name](x, [1, 2])


def test_complex_where_real_expected():
    x, p = _case("gla", 0, (), 5, 4, 2, 2, skip=True)
    p["b_a"] = p["b_a"].astype(complex)
    with pytest.raises(ValueError, match=r"gla: params\['b_a'\]: expected a real float"):
        F.gla(x, p)


@pytest.mark.parametrize("name", ["gla", "mamba2", "mlstm", "rwkv6", "gateloop"])
def test_heads_must_divide(name):
    x, p = _case(name, 0, (), 5, 4, 2, 2, skip=True)
    with pytest.raises(ValueError, match=rf"{name}: params\['heads'\]: expected a positive"):
        F.MODELS[name](x, dict(p, heads=0))
    with pytest.raises(ValueError, match=rf"{name}: x: expected a size divisible by heads"):
        F.MODELS[name](x, dict(p, heads=3))


@pytest.mark.parametrize("name", ["retnet", "gla", "mamba2", "mlstm", "rwkv6", "gateloop"])
def test_init_refuses_d_model_not_divisible_by_heads(name):
    """The multi-head members split ``D`` into heads: ``INITS[name]`` with ``d_model = 7`` and two
    heads used to return parameters that every call of the model then refused."""
    with pytest.raises(ValueError, match=rf"init_{name}: d_model: expected a size divisible by "
                                         r"heads = 2, got 7"):
        F.INITS[name](0, d_model=7, heads=2)
    F.INITS[name](0, d_model=8, heads=2)  # divisible: fine


@pytest.mark.parametrize("name, pname, value, expected", [
    ("s4d", "delta", -1e-2, "a step Δ > 0"),
    ("s4d", "Lambda", 0.1 + 1j, "Re Λ < 0"),
    ("s5", "delta", 0.0, "a step Δ > 0"),
    ("s5", "Lambda", 0.5 + 0j, "Re Λ < 0"),
    ("mamba", "A", 0.5, "A < 0"),
    ("mamba2", "A", 1.0, "A < 0"),
    ("retnet", "gamma", 1.0, "a decay 0 < γ < 1"),
    ("retnet", "gamma", -0.5, "a decay 0 < γ < 1"),
    ("hgrn", "lower", 1.0, "a bound 0 <= γ < 1"),
])
def test_decay_out_of_range_is_an_error(name, pname, value, expected):
    x, p = _case(name, 0, (), 5, 4, 2, 2, skip=True)
    p[pname] = p[pname].copy()
    p[pname].flat[0] = value
    with pytest.raises(ValueError, match=rf"^{name}: params\['{pname}'\]: expected "
                                         rf"{re.escape(expected)}.*got"):
        F.MODELS[name](x, p)


def test_unknown_name():
    with pytest.raises(ValueError, match=r"name: expected one of \[.*'gateloop'.*got 'lstm'"):
        F.run("lstm", np.ones((3, 4)), {})
