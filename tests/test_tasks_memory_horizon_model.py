"""gl.tasks.memory_horizon.model: shapes, causality, transitions, config checks (small configs, CPU)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gl.tasks.memory_horizon import model

SMALL = dict(n_layer=2, d_model=16, d_qk=8, d_v=8, n_head=8, d_channel_mixing=32)


def test_defaults_are_table3():
    c = model.Config()
    assert (c.n_layer, c.d_model, c.d_qk, c.d_v, c.n_head, c.d_channel_mixing) == (4, 64, 64, 64, 64, 128)
    assert (c.vocab_in, c.vocab_out, c.transition) == (6, 50, "data")
    assert c.d_qk // c.n_head == 1  # SISO


@pytest.mark.parametrize("transition", sorted(model.TRANSITIONS))
def test_shapes_and_gates(transition):
    c = model.Config(transition=transition, **SMALL)
    params = model.init(jax.random.key(0), c)
    tokens = jax.random.randint(jax.random.key(1), (3, 20), 0, c.vocab_in)
    # jitted: one compile instead of op-by-op dispatch (the same function and numbers)
    apply = jax.jit(lambda p, t: model.apply(p, t, c, return_gates=True))
    logits, gates = apply(params, tokens)
    assert logits.shape == (3, 20, c.vocab_out) and logits.dtype == jnp.float32
    assert len(gates) == c.n_layer
    for a in gates:
        assert a.shape == (3, 20, c.n_head, c.d_qk // c.n_head) and a.dtype == jnp.complex64
        mag = np.abs(np.asarray(a))
        assert np.all((mag > 0) & (mag < 1))
        if transition == "real":
            np.testing.assert_allclose(np.angle(np.asarray(a)), 0, atol=1e-6)
        if transition == "fixed":  # the same a at every position and in every sample
            np.testing.assert_array_equal(np.asarray(a), np.broadcast_to(np.asarray(a)[:1, :1], a.shape))
    assert model.apply(params, tokens[0], c).shape == (20, c.vocab_out)


@pytest.mark.parametrize("transition", ["data", "fixed"])
def test_causal(transition):
    c = model.Config(transition=transition, **SMALL)
    params = model.init(jax.random.key(2), c)
    tokens = np.asarray(jax.random.randint(jax.random.key(3), (2, 32), 0, c.vocab_in))
    base = np.asarray(model.apply(params, tokens, c))
    for m in (0, 13, 31):
        changed = tokens.copy()
        changed[:, m] = (changed[:, m] + 1) % c.vocab_in
        out = np.asarray(model.apply(params, changed, c))
        np.testing.assert_array_equal(out[:, :m], base[:, :m])  # nothing before m moves, bit for bit
        assert np.abs(out[:, m] - base[:, m]).max() > 1e-4  # token m itself does matter


def test_transition_mask_marks_alpha_beta_only():
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    mask = model.transition_mask(params)
    assert mask["layers"][0]["alpha"]["w"] and mask["layers"][1]["beta"]["b"]
    assert not mask["layers"][0]["q"]["w"] and not mask["embed"]


def test_bad_config_and_tokens():
    with pytest.raises(ValueError, match="transition"):
        model.Config(transition="learned")
    with pytest.raises(ValueError, match="d_qk"):
        model.Config(d_qk=10, n_head=4)
    with pytest.raises(ValueError, match="n_layer"):
        model.Config(n_layer=0)
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    with pytest.raises(TypeError, match="tokens"):
        model.apply(params, jnp.zeros((2, 4)), c)
    with pytest.raises(TypeError, match="config"):
        model.init(jax.random.key(0), dict(SMALL))
