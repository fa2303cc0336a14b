"""gl.family.mixer: every family member as the token mixer of the char-lm and Memory Horizon
models, selected by configuration: causal, trainable (finite loss and gradients), the
recurrent step equal to the parallel logits, bad names rejected with the valid ones listed.

Tiny configurations (one layer, width 8) keep this file fast; the char-lm test runs every
member in ``make unit``, the Memory Horizon test four of them (``make test-all``: all).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import sweep

from gl.family import mixer as fm
from gl.tasks.char_lm import model as cmodel
from gl.tasks.char_lm import train as ctrain
from gl.tasks.memory_horizon import model as hmodel
from gl.tasks.memory_horizon import train as htrain

VOCAB = "abcdefghij\n "
NAMES = fm.NAMES
#: in ``make unit`` the Memory Horizon test runs these (its family path is one code path;
#: they cover a complex state, a scalar gate per head, mLSTM's second GateLoop and
#: RWKV-6's shift); ``make test-all`` runs every member
MH_FAST = tuple(NAMES.index(n) for n in ("s4d", "mamba2", "mlstm", "rwkv6"))


@pytest.fixture(autouse=True, scope="module")
def _fast_compiles():
    """These tests compile many small functions once each: XLA's optimizations would cost
    more than they save (about half the compile time on a CPU)."""
    old = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", old)


def _lm(mixer, n_layer=1):
    return cmodel.Config(VOCAB, mixer=mixer, n_layer=n_layer, n_head=2, d_model=8, d_qk=4,
                         d_ff=cmodel.default_d_ff(mixer, 8, 4, 2), context=16)


def _mh(mixer):
    return hmodel.Config(mixer=mixer, n_layer=1, d_model=8, d_qk=4, d_v=4, n_head=2,
                         d_channel_mixing=16)


def test_names_are_the_family_but_gateloop():
    from gl.family import MODELS
    assert set(NAMES) == set(MODELS) - {"gateloop"} and len(NAMES) == 11
    assert set(NAMES) <= set(cmodel.CHOICES) and set(NAMES) <= set(hmodel.MIXERS)


def _changed(ids, t, vocab):
    return ids.at[:, t].set((ids[:, t] + 1) % vocab)


def _causal(apply, ids, t, vocab):
    """Changing token ``t`` changes no output before ``t`` (bit for bit) and the one at
    ``t``. ``apply`` returns a tuple of ``(B, L, ...)`` outputs; it runs both batches in
    one call (one compilation). Returns the outputs for ``ids``."""
    refs = []
    for both in apply(jnp.concatenate([ids, _changed(ids, t, vocab)])):
        ref, out = both[: len(ids)], both[len(ids):]
        np.testing.assert_array_equal(out[:, :t], ref[:, :t])
        assert float(jnp.abs(out[:, t] - ref[:, t]).max()) > 1e-5
        refs.append(ref)
    return refs


def _train(loss, params, steps=3, lr=0.1):
    """``steps`` steps of gradient descent: the losses and the first gradients. One
    compiled ``value_and_grad``; the update in NumPy (it compiles nothing)."""
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    params = jax.tree_util.tree_map(np.asarray, params)
    losses, first = [], None
    for _ in range(steps):
        value, g = value_and_grad(params)
        first = g if first is None else first
        losses.append(float(value))
        params = jax.tree_util.tree_map(lambda p, d: p - lr * np.asarray(d), params, g)
    return np.asarray(losses), first


def _check_training(name, losses, mix_grads):
    assert np.isfinite(losses).all() and losses[-1] < losses[0], (name, losses)
    assert set(mix_grads) == set(fm.Mixer(name, 8, 2, 4).layout)
    for k, g in mix_grads.items():
        g = np.asarray(g)
        assert np.isfinite(g).all(), (name, k)
        if name == "retnet" and k in ("gamma", "theta"):  # fixed, as RetNet's
            assert not g.any(), (name, k)
        else:
            assert g.any(), (name, k, "no gradient reaches this parameter")


@pytest.mark.parametrize("name", NAMES)
def test_char_lm_with_every_mixer(name):
    """Causal; the recurrent step gives the parallel logits (relative 2e-4, float32); three
    gradient steps (in ``apply``'s ``"recurrent"`` mode, as ``gl.train char-lm``): finite,
    falling losses and finite gradients that reach every mixer parameter (RetNet's fixed
    γ, θ: none)."""
    c = _lm(name)
    params = init = cmodel.init(jax.random.key(1), c)
    # larger weights than the init, so the mixer matters against the embedding
    params = jax.tree_util.tree_map(lambda x: x * 5 if x.ndim == 2 else x, params)
    params["embed"] = params["embed"] * 10
    ids = jax.random.randint(jax.random.key(2), (2, 10), 0, len(VOCAB))
    fwd = jax.jit(lambda p, i: (cmodel.apply(p, i, c, mode="parallel"),))
    ref, = _causal(lambda i: fwd(params, i), ids, 5, len(VOCAB))
    step = jax.jit(lambda p, s, t: cmodel.step(p, s, t, c))
    state, got = cmodel.init_state(c, 2), []
    for t in range(ids.shape[1]):
        logits, state = step(params, state, ids[:, t])
        got.append(logits)
    scale = float(jnp.abs(ref).max())
    assert scale > 1.0
    np.testing.assert_allclose(jnp.stack(got, 1), ref, atol=2e-4 * scale)

    def loss(p):
        logits = cmodel.apply(p, ids[:, :-1], c, mode="recurrent")
        return optax.softmax_cross_entropy_with_integer_labels(logits, ids[:, 1:]).mean()

    losses, g = _train(loss, init)
    _check_training(name, losses, g["layers"][0]["mix"])


@pytest.mark.parametrize("name", sweep(NAMES, fast=MH_FAST))
def test_memory_horizon_with_every_mixer(name):
    """Causal (in the model's parallel mode); three gradient steps: finite, falling losses and
    gradients at every mixer parameter (RetNet's fixed γ, θ: none). The steps run in the
    recurrent mode, which compiles fastest; the parallel mode's gradient is
    :mod:`gl.vjp`'s (``tests/test_vjp.py``, complex gates included)."""
    h = _mh(name)
    p = hmodel.init(jax.random.key(0), h)
    x = jax.random.randint(jax.random.key(2), (2, 12), 0, h.vocab_in)
    y = jax.random.randint(jax.random.key(3), (2, 12), 0, h.vocab_out)
    _causal(jax.jit(lambda i: (hmodel.apply(p, i, h),)), x, 7, h.vocab_in)

    def loss(p):
        logits = hmodel.apply(p, x, h, mode="recurrent")
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    losses, g = _train(loss, p)
    _check_training(name, losses, g["layers"][0]["mix"])


def test_char_lm_dropout_with_a_family_mixer():
    """``apply``'s ``dropout``/``key`` work with a family mixer: a rate > 0 changes the
    logits, the same way for one key, another way for another key."""
    c = _lm("gla")
    p = cmodel.init(jax.random.key(0), c)
    ids = jax.random.randint(jax.random.key(1), (2, 8), 0, len(VOCAB))
    f = jax.jit(lambda p, k, rate: cmodel.apply(p, ids, c, dropout=rate, key=k),
                static_argnums=2)
    k0, k1 = jax.random.key(0), jax.random.key(1)
    ref, d0 = f(p, k0, 0.0), f(p, k0, 0.5)
    np.testing.assert_array_equal(d0, f(p, k0, 0.5))
    assert not np.allclose(d0, ref, atol=1e-4) and not np.allclose(d0, f(p, k1, 0.5), atol=1e-4)


def test_bad_names_list_the_valid_ones(capsys):
    with pytest.raises(ValueError, match=r"mixer: expected one of .*'gla'.*got 'lstm'"):
        cmodel.Config(VOCAB, mixer="lstm")
    with pytest.raises(ValueError, match=r"mixer: expected one of .*'rwkv6'.*got 'gla2'"):
        hmodel.Config(mixer="gla2")
    with pytest.raises(ValueError, match=r"family members .*'mamba2'.*got 'gateloop'"):
        fm.Mixer("gateloop", 8, 2, 4)
    with pytest.raises(ValueError, match=r"gla: d_model: expected a multiple of n_head=3"):
        fm.Mixer("gla", 8, 3, 6)
    with pytest.raises(ValueError, match="transition: applies to mixer 'gateloop' only"):
        hmodel.Config(mixer="gla", transition="fixed")
    for main, argv in ((ctrain.main, ["char-lm", "--model", "lstm", "--out", "x"]),
                       (htrain.main, ["memory-horizon", "--mixer", "lstm", "--out", "x"])):
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
        assert "invalid choice: 'lstm'" in err and "'mamba2'" in err and "'rglru'" in err
    with pytest.raises(SystemExit):
        htrain.main(["memory-horizon", "--mixer", "gla", "--transition-lr", "0.1", "--out", "x"])
    assert "--transition-lr/--transition-weight-decay: apply to GateLoop" in capsys.readouterr().err


def test_init_traces_and_checkpoints_round_trip(tmp_path):
    """``Mixer.init`` (NumPy, as a ``pure_callback``) gives the same values under
    ``jax.jit`` and its shapes under ``jax.eval_shape`` (what the evaluate CLIs check a
    checkpoint against). A checkpoint of each model saves, loads, matches those shapes, and
    ``gl.evaluate`` tells the two tasks apart."""
    import gl.evaluate
    from gl.tasks import checkpoint

    key = jax.random.key(4)
    for name in NAMES:
        mx = fm.Mixer(name, 8, 2, 4)
        p, pj = mx.init(key), jax.jit(mx.init)(key)
        assert jax.tree_util.tree_map(jnp.shape, jax.eval_shape(mx.init, key)) == \
            jax.tree_util.tree_map(jnp.shape, p) == jax.tree_util.tree_map(jnp.shape, pj)
        for k in p:
            np.testing.assert_array_equal(p[k], pj[k])
        other = mx.init(jax.random.key(5))  # another key, other values
        assert any(not np.array_equal(p[k], other[k]) for k in p), name
    for mod, c, task in ((cmodel, _lm("rwkv6"), "char-lm"), (hmodel, _mh("s4d"), "memory-horizon")):
        p = mod.init(jax.random.key(0), c)
        path = tmp_path / f"{task}.npz"
        checkpoint.save(path, p, c, [], {})
        p2, c2, _ = mod.load_checkpoint(path)
        checkpoint.check_like(path, p2, jax.eval_shape(lambda: mod.init(key, c)))  # noqa: B023
        assert c2 == c and gl.evaluate.task_of(str(path)) == task
        for x, y in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(p2)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_old_memory_horizon_configs_parse_as_gateloop():
    """A configuration saved before ``mixer`` existed (no such key) is GateLoop's."""
    c = hmodel.Config(transition="fixed")
    old = c.to_json().replace(', "mixer": "gateloop"', "")
    assert "mixer" not in old
    assert hmodel.Config.from_json(old) == c and c.mixer == "gateloop"


def test_stored_parameters_keep_their_ranges():
    """Constrained parameters are stored unconstrained: any stored value maps into range
    (Mamba's A < 0, S4D's Re Λ < 0 and Δ > 0, HGRN's 0 <= γ < 1); projections stay 2-D."""
    for name, key, ok in (("mamba", "A", lambda v: v < 0), ("mamba2", "A", lambda v: v < 0),
                          ("s4d", "delta", lambda v: v > 0),
                          ("s4d", "Lambda", lambda v: v.real < 0),
                          ("hgrn", "lower", lambda v: (v >= 0) & (v < 1))):
        mx = fm.Mixer(name, 8, 2, 4)
        p = mx.init(jax.random.key(0))
        p = {k: v + 3.0 * jax.random.normal(jax.random.key(1), v.shape) for k, v in p.items()}
        assert np.all(ok(np.asarray(mx.family_params(p)[key]))), (name, key)
        for k, v in p.items():
            assert v.ndim == (2 if k.startswith(("W_", "w_")) else 1), (name, k)
    with pytest.raises(ValueError, match=r"gla: params\['b_a'\]: expected shape \(4,\)"):
        fm.Mixer("gla", 8, 2, 4).family_params({**fm.Mixer("gla", 8, 2, 4).init(
            jax.random.key(0)), "b_a": jnp.zeros(3)})


def test_mlstm_mixer_normalizes_each_head():
    """As xLSTM's layer, the mLSTM mixer normalizes each head of the cell's output
    ``C q / max(|nᵀq|, 1)``: values ten times larger give the same output (float32,
    relative 1e-4). The mapping without ``head_norm`` stays eq. 19-27: its output grows
    tenfold. (Without the norm the language model at nanoGPT's GPU size did not train.)"""
    import gl.family as fam

    mx = fm.Mixer("mlstm", 16, 2, 8)
    params = mx.init(jax.random.key(0))
    louder = {**params, "W_v": params["W_v"] * 10}
    u = jax.random.normal(jax.random.key(1), (2, 12, 16))
    y, _ = mx.apply(params, u, mode="recurrent")
    y10, _ = mx.apply(louder, u, mode="recurrent")
    np.testing.assert_allclose(y10, y, rtol=1e-4, atol=1e-5)
    raw = {k: v for k, v in mx.family_params(params).items() if k != "head_norm"}
    plain = fam.apply(fam.mlstm(u, raw), mode="recurrent")
    plain10 = fam.apply(fam.mlstm(u, {**raw, "W_v": raw["W_v"] * 10}), mode="recurrent")
    np.testing.assert_allclose(plain10, 10 * plain, rtol=1e-4, atol=1e-5)
    assert float(jnp.abs(plain - y).max()) > 0.1  # the norm changes the output
