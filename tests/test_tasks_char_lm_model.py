"""gl.tasks.char_lm.model and .generate: matched sizes, causality, parallel = recurrent."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gl.tasks import checkpoint
from gl.tasks.char_lm import conv as conv_mod
from gl.tasks.char_lm import data, generate, model

VOCAB = data.corpus().vocab


def _small(mixer, readout="plain", conv=1):
    return model.Config(VOCAB, mixer=mixer, n_layer=2, n_head=2, d_model=16, d_qk=8,
                        d_ff=model.default_d_ff(mixer, 16, 8, readout=readout, conv=conv),
                        context=16, readout=readout, conv=conv)


def test_parameter_counts_matched_within_5_percent():
    """Every mixer, the family members included (``gl.family.mixer``), within 5 % of the
    transformer at the default size; default_d_ff puts the family within D per layer of
    GateLoop."""
    counts = {}
    for m in model.CHOICES:
        c = model.Config(VOCAB, mixer=m, d_ff=model.default_d_ff(m))
        # shapes only (jax.eval_shape): the count needs no weights
        counts[m] = model.n_params(jax.eval_shape(lambda: model.init(jax.random.key(0), c)))
    print(counts)
    assert counts["gateloop"] == counts["fixed"] == 796_416
    assert 0.75e6 < counts["transformer"] < 0.85e6  # nanoGPT's ~0.8M
    for m, n in counts.items():
        assert abs(n / counts["transformer"] - 1) < 0.05, (m, n)
        if m in model.FAMILY:
            assert abs(n - counts["gateloop"]) <= 4 * 128, (m, n)
    for m in ("gateloop", "fixed"):  # RetNet's read-out: W_g paid by a narrower d_ff
        for readout in ("norm", "gate", "norm-gate"):
            c = model.Config(VOCAB, mixer=m, readout=readout,
                             d_ff=model.default_d_ff(m, readout=readout))
            n = model.n_params(jax.eval_shape(lambda: model.init(jax.random.key(0), c)))
            assert n == counts[m], (m, readout, n)
        # the short convolution's 4 D weights paid by a narrower d_ff (conv.py)
        c = model.Config(VOCAB, mixer=m, readout="norm-gate", conv=4,
                         d_ff=model.default_d_ff(m, readout="norm-gate", conv=4))
        shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), c))
        assert shapes["layers"][0]["conv"].shape == (4, 128)
        assert model.n_params(shapes) == counts[m]


@pytest.mark.parametrize("mixer,readout,conv", [
    ("gateloop", "plain", 1), ("fixed", "plain", 1), ("gateloop", "norm", 1),
    ("gateloop", "gate", 1), ("fixed", "norm-gate", 1), ("gateloop", "norm-gate", 4),
    ("fixed", "plain", 2)])
def test_recurrent_step_equals_parallel_logits(mixer, readout, conv):
    c = _small(mixer, readout, conv)
    params = model.init(jax.random.key(1), c)
    # larger random weights than the init so the test is not dominated by the embedding
    params = jax.tree_util.tree_map(lambda x: x * 5 if x.ndim == 2 else x, params)
    for i, layer in enumerate(params["layers"]):  # a filter other than the identity
        if conv > 1:
            layer["conv"] = jax.random.normal(jax.random.key(10 + i), layer["conv"].shape)
    ids = jnp.asarray(data.corpus().val[:20])[None]
    ref = model.apply(params, ids, c, mode="parallel")
    state, got = model.init_state(c), []
    step = jax.jit(lambda p, s, t: model.step(p, s, t, c))  # one compile, not 20 eager steps
    for t in range(ids.shape[1]):
        logits, state = step(params, state, ids[:, t])
        got.append(logits)
    got = jnp.stack(got, 1)
    assert float(jnp.abs(ref).max()) > 1.0
    np.testing.assert_allclose(got, ref, atol=2e-4 * float(jnp.abs(ref).max()))
    for mode in ("recurrent", "chunked"):
        np.testing.assert_allclose(model.apply(params, ids, c, mode=mode), ref, atol=1e-3)
    if readout in ("norm", "gate"):  # the read-out is applied: read plainly, they differ
        plain = dataclasses.replace(c, readout="plain")
        assert not np.allclose(model.apply(params, ids, plain, mode="parallel"), ref, atol=1e-2)
    if conv > 1:  # the filter is applied: with the identity filter the logits differ
        ident = dict(params, layers=[dict(l, conv=conv_mod.init(conv, c.d_model))
                                     for l in params["layers"]])
        assert not np.allclose(model.apply(ident, ids, c, mode="parallel"), ref, atol=1e-2)


def test_short_conv_identity_causal_and_step():
    """The filter starts as the identity, is causal (a change at step 5 leaves steps 0-4
    exactly), and its step, fed one input at a time, equals its parallel form (float32,
    1e-6)."""
    u = jax.random.normal(jax.random.key(0), (2, 9, 3))
    np.testing.assert_array_equal(conv_mod.apply(conv_mod.init(4, 3), u), u)
    w = jax.random.normal(jax.random.key(1), (4, 3))
    ref = conv_mod.apply(w, u)
    # by hand at t = 5: w_0 u_2 + w_1 u_3 + w_2 u_4 + w_3 u_5
    np.testing.assert_allclose(ref[:, 5], sum(w[j] * u[:, 2 + j] for j in range(4)), atol=1e-6)
    np.testing.assert_allclose(ref[:, 1], w[2] * u[:, 0] + w[3] * u[:, 1], atol=1e-6)
    changed = conv_mod.apply(w, u.at[:, 5].add(1.0))
    np.testing.assert_array_equal(changed[:, :5], ref[:, :5])
    assert not np.allclose(changed[:, 5:], ref[:, 5:])
    buf, got = conv_mod.init_buffer(4, 2, 3), []
    for t in range(9):
        y, buf = conv_mod.step(w, buf, u[:, t])
        got.append(y)
    np.testing.assert_allclose(jnp.stack(got, 1), ref, atol=1e-6)


def test_kv_cache_step_equals_parallel_logits():
    """The transformer's key-value decoding step gives apply's logits on a prefix (tolerance
    2e-4 of the largest logit, float32), in a cache of the full context and in a shorter one,
    jitted with a traced position."""
    c = _small("transformer")
    params = model.init(jax.random.key(4), c)
    params = jax.tree_util.tree_map(lambda x: x * 5 if x.ndim == 2 else x, params)
    ids = jnp.asarray(data.corpus().val[:c.context])[None]
    ref = model.apply(params, ids, c)
    assert float(jnp.abs(ref).max()) > 1.0
    tol = 2e-4 * float(jnp.abs(ref).max())
    step = jax.jit(lambda p, cache, t, i: model.step_kv(p, cache, t, i, c))
    for capacity, n in ((c.context, c.context), (10, 10)):
        cache, got = generate.kv_cache(c, 1, capacity), []
        for t in range(n):
            logits, cache = step(params, cache, ids[:, t], t)
            got.append(logits)
        np.testing.assert_allclose(jnp.stack(got, 1), ref[:, :n], atol=tol)
        assert cache[0][0].shape == (1, capacity, c.n_head, c.d_model // c.n_head)
    with pytest.raises(ValueError, match="mixer: step_kv exists for 'transformer'"):
        model.step_kv(params, cache, ids[:, 0], 0, _small("gateloop"))
    with pytest.raises(ValueError, match="capacity: expected an int in"):
        generate.kv_cache(c, 1, c.context + 1)
    with pytest.raises(ValueError, match="cache: expected 2"):
        model.step_kv(params, cache[:1], ids[:, 0], 0, c)


@pytest.mark.parametrize("mixer", model.MIXERS + ("gateloop-norm-gate", "gateloop-conv"))
def test_causal(mixer):
    if mixer == "gateloop-conv":
        c = _small("gateloop", conv=3)
    else:
        c = _small(*mixer.split("-", 1)) if "-" in mixer else _small(mixer)
    params = model.init(jax.random.key(2), c)
    if c.conv > 1:
        params["layers"][0]["conv"] = jnp.ones_like(params["layers"][0]["conv"])
    ids = jnp.asarray(data.corpus().train[:16])[None]
    changed = ids.at[0, 10].set((ids[0, 10] + 1) % len(VOCAB))
    a, b = model.apply(params, ids, c), model.apply(params, changed, c)
    np.testing.assert_array_equal(a[:, :10], b[:, :10])
    assert not np.allclose(a[:, 10:], b[:, 10:])


@pytest.mark.parametrize("mixer", model.MIXERS)
def test_dropout(mixer):
    """Rate 0 is the identity; a rate > 0 changes the logits and depends on the key only;
    bad rates and a missing key are errors."""
    c = _small(mixer)
    params = model.init(jax.random.key(3), c)
    ids = jnp.asarray(data.corpus().train[:16])[None]
    ref = model.apply(params, ids, c)
    np.testing.assert_array_equal(model.apply(params, ids, c, dropout=0.0, key=jax.random.key(0)),
                                  ref)
    k0, k1 = jax.random.key(0), jax.random.key(1)
    d0 = model.apply(params, ids, c, dropout=0.5, key=k0)
    np.testing.assert_array_equal(d0, model.apply(params, ids, c, dropout=0.5, key=k0))
    assert not np.allclose(d0, ref, atol=1e-3)
    assert not np.allclose(d0, model.apply(params, ids, c, dropout=0.5, key=k1), atol=1e-3)
    with pytest.raises(ValueError, match="key: dropout > 0 needs a PRNG key"):
        model.apply(params, ids, c, dropout=0.2)
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match=r"dropout: expected a rate in \[0, 1\)"):
            model.apply(params, ids, c, dropout=bad, key=k0)


def test_config_errors():
    with pytest.raises(ValueError, match="mixer: expected one of"):
        model.Config(VOCAB, mixer="lstm")
    with pytest.raises(ValueError, match="d_qk"):
        model.Config(VOCAB, d_qk=6, n_head=4)
    with pytest.raises(ValueError, match="readout: expected one of"):
        model.Config(VOCAB, readout="swish")
    with pytest.raises(ValueError, match="readout: 'norm' exists for the gateloop and fixed"):
        model.Config(VOCAB, mixer="transformer", readout="norm")
    with pytest.raises(ValueError, match="conv: a short convolution exists for the gateloop"):
        model.Config(VOCAB, mixer="gla", conv=4)
    with pytest.raises(ValueError, match="conv: expected a positive int, got 0"):
        model.Config(VOCAB, conv=0)
    with pytest.raises(ValueError, match="step exists"):
        model.step({}, [], jnp.zeros((1,), int), _small("transformer"))
    c = _small("transformer")
    with pytest.raises(ValueError, match="context=16"):
        model.apply(model.init(jax.random.key(0), c), jnp.zeros((1, 17), jnp.int32), c)


def test_generate_and_its_errors():
    c = _small("gateloop")
    p = model.init(jax.random.key(3), c)
    out = generate.generate(p, c, "ROMEO:", 12, key=jax.random.key(0), top_k=5, temperature=0.8)
    assert out.startswith("ROMEO:") and len(out) == 18 and set(out) <= set(VOCAB)
    tc = _small("transformer")
    out = generate.generate(model.init(jax.random.key(3), tc), tc, "A" * 20, 3, key=jax.random.key(0))
    assert len(out) == 23
    tp = model.init(jax.random.key(3), tc)
    greedy = generate.generate(tp, tc, "ROMEO", 4, key=jax.random.key(0), top_k=1)
    ids = data.encode(greedy, VOCAB)
    logits = model.apply(tp, jnp.asarray(ids)[None, :-1], tc)[0]
    np.testing.assert_array_equal(np.argmax(logits, -1)[4:], ids[5:])  # greedy = argmax
    for kwargs, match in (({"prompt": ""}, "prompt"), ({"prompt": "hi @~"}, "'@', '~'"),
                          ({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
                          ({"top_k": 0}, "top_k"), ({"n": -1}, "n: ")):
        args = {"prompt": "hi", "n": 2, **kwargs}
        with pytest.raises(ValueError, match=match):
            generate.generate(p, c, args.pop("prompt"), args.pop("n"), key=jax.random.key(0), **args)


def test_top_k_one_is_greedy():
    logits = jnp.asarray([[0.0, 3.0, 1.0, 2.9]])
    for s in range(20):
        assert int(generate.sample_logits(jax.random.key(s), logits, 5.0, top_k=1)[0]) == 1
    seen = {int(generate.sample_logits(jax.random.key(s), logits, 5.0, top_k=2)[0]) for s in range(40)}
    assert seen == {1, 3}


def test_checkpoint_round_trip_and_other_task(tmp_path):
    c = _small("fixed")
    p = model.init(jax.random.key(0), c)
    checkpoint.save(tmp_path / "c.npz", p, c, [{"val_loss": 1.0}], {"task": "char-lm"})
    p2, c2, info = model.load_checkpoint(tmp_path / "c.npz")
    assert c2 == c and info["metrics"][0]["val_loss"] == 1.0
    from gl.tasks.memory_horizon import model as mh
    mc = mh.Config()
    checkpoint.save(tmp_path / "m.npz", mh.init(jax.random.key(0), mc), mc, [], {})
    with pytest.raises(checkpoint.CheckpointError, match="char-lm configuration"):
        model.load_checkpoint(tmp_path / "m.npz")


def test_generate_refuses_parameters_that_do_not_fit_their_config(tmp_path, capsys):
    """``checkpoint.load_checked`` (what the command lines load with): a parameter missing from
    a file is named before any model runs; the generate command reports it in one line."""
    c = _small("gateloop")
    p = model.init(jax.random.key(0), c)
    del p["layers"][0]["q"]
    checkpoint.save(tmp_path / "c.npz", p, c, [], {"task": "char-lm"})
    with pytest.raises(checkpoint.CheckpointError, match="missing \\['layers/0/q'\\]"):
        checkpoint.load_checked(tmp_path / "c.npz", model.Config, model.init)
    with pytest.raises(SystemExit):
        generate.main([str(tmp_path / "c.npz"), "-n", "2"])
    assert "c.npz: parameters do not match the config" in capsys.readouterr().err


def test_generate_command_line(capsys):
    """``python -m gl.tasks.char_lm.generate NAME``: the function's sample, printed; bad
    input is a usage error that names the argument."""
    text = generate.main(["lm-gateloop-s0", "--prompt", "ROMEO:\\n", "-n", "20", "--seed", "3"])
    p, c, _ = model.load_checkpoint(generate_shipped("lm-gateloop-s0"))
    want = generate.generate(p, c, "ROMEO:\n", 20, key=jax.random.key(3), temperature=0.8,
                             top_k=10)
    assert text == want and capsys.readouterr().out == want + "\n"
    for argv, match in [(["--prompt", "£"], "characters not in the 65-symbol vocabulary: '£'"),
                        (["--temperature", "0"], "temperature: expected a finite number > 0"),
                        (["--top-k", "-2"], "--top-k: expected 0 (no cut) or an int >= 1, got -2"),
                        (["-n", "-1"], "n: expected an int >= 0")]:
        with pytest.raises(SystemExit):
            generate.main(["lm-gateloop-s0", *argv])
        assert match in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        generate.main(["data-s0"])  # a Memory Horizon name is not a language model
    assert "no shipped char-lm checkpoint of that name" in capsys.readouterr().err


def generate_shipped(name):
    from gl.tasks.char_lm import evaluate

    return evaluate.shipped()[name]
