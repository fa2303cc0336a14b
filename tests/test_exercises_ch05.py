"""The chapter 5 checkers accept a correct solution and reject wrong ones with a useful message.

Tolerances are the checkers' own (relative 1e-4); the seeds make each run reproducible.
"""
from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

import gl
import gl.exercises
from gl.attention import causal_mask, segment_sum


def good_decay(a):
    """The stable form: masked cumulative sums of log|a| and of the phase."""
    a = jnp.moveaxis(a, 0, -1)  # (H, d_k, L)
    L = a.shape[-1]
    logmag = jnp.where(causal_mask(L), segment_sum(jnp.log(jnp.abs(a))), -jnp.inf)
    return jnp.exp(logmag) * jnp.exp(1j * segment_sum(jnp.angle(a)))


def prefix_ratio_decay(a):
    """Π_n / Π_m: right on short inputs, inf/nan once Π underflows."""
    Pi = jnp.moveaxis(jnp.cumprod(a, axis=0), 0, -1)
    return Pi[..., :, None] / Pi[..., None, :] * causal_mask(a.shape[0], a.dtype)


def unmasked_decay(a):
    """Forgets the causal mask: upper triangle holds exp(segment_sum) = 1 where it should be 0."""
    a = jnp.moveaxis(a, 0, -1)
    return jnp.exp(segment_sum(jnp.log(jnp.abs(a)))) * jnp.exp(1j * segment_sum(jnp.angle(a)))


def off_by_one_decay(a):
    """Includes a_m in the product: prod_{j=m..n} instead of prod_{j=m+1..n}."""
    return good_decay(a) * jnp.moveaxis(a, 0, -1)[..., None, :] * causal_mask(a.shape[0])


def test_exported_as_gl_exercises():
    assert gl.exercises.check_relative_decay is not None
    assert gl.exercises.check_surrogate_attention is not None


@pytest.mark.parametrize("seed", [0, 1])
def test_relative_decay_checker_accepts_correct(seed, capsys):
    gl.exercises.check_relative_decay(good_decay, seed=seed)
    gl.exercises.check_relative_decay(lambda a: gl.relative_decay(a), seed=seed)
    assert "check_relative_decay: correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (prefix_ratio_decay, "Π_n / Π_m overflows"),
    (unmasked_decay, "above the diagonal"),
    (off_by_one_decay, "should be prod_(j="),
    (lambda a: good_decay(a)[..., :-1], "expected D of shape"),
])
def test_relative_decay_checker_rejects_wrong(wrong, words):
    with pytest.raises(AssertionError, match=re.escape(words)):
        gl.exercises.check_relative_decay(wrong, seed=0)


def good_attention(q, k, v, a):
    W = jnp.sum(jnp.moveaxis(q, 0, -1)[..., :, None] * good_decay(a)
                * jnp.moveaxis(k, 0, -1)[..., None, :], axis=-3)  # (H, L, L)
    return jnp.einsum("hnm,mhv->nhv", W, v)


def naive_attention(q, k, v, a):
    return gl.surrogate_attention_naive(q, k, v, a)


def no_decay_attention(q, k, v, a):
    """Linear attention without the relative positions: drops the a_j entirely."""
    return good_attention(q, k, v, jnp.ones_like(a))


@pytest.mark.parametrize("seed", [0, 3])
def test_surrogate_attention_checker_accepts_correct(seed, capsys):
    gl.exercises.check_surrogate_attention(good_attention, seed=seed)
    gl.exercises.check_surrogate_attention(lambda *x: gl.gate_loop(*x, mode="attention"), seed=seed)
    assert "matches the loop" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (naive_attention, "not finite"),
    (no_decay_attention, "relative error"),
    (lambda q, k, v, a: good_attention(q, k, v, a)[:, :, :1], "expected y of shape"),
])
def test_surrogate_attention_checker_rejects_wrong(wrong, words):
    with pytest.raises(AssertionError, match=words):
        gl.exercises.check_surrogate_attention(wrong, seed=0)
