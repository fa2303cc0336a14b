"""The chapter 6 checker accepts a correct RG-LRU mapping and rejects wrong ones with a
useful message. Tolerance is the checker's own (relative 1e-4)."""
from __future__ import annotations

import re

import jax.nn
import numpy as np
import pytest

import gl
import gl.exercises


def _gates(x, p, c=8.0):
    r = jax.nn.sigmoid(x @ p["W_a"] + p["b_a"])
    i = jax.nn.sigmoid(x @ p["W_x"] + p["b_x"])
    a = jax.nn.sigmoid(p["Lambda"]) ** (c * r)
    return np.asarray(a)[..., None], np.asarray(i * x)[..., None]


def good(x, p):
    a, ix = _gates(x, p)
    return np.ones_like(a), np.sqrt(1 - a ** 2), ix, a


def good_scale_in_v(x, p):
    """The scale may sit in k or in v: GateLoop only sees the product k_t v_t."""
    a, ix = _gates(x, p)
    return np.ones_like(a), np.ones_like(a), np.sqrt(1 - a ** 2) * ix, a


def no_scaling(x, p):
    a, ix = _gates(x, p)
    return np.ones_like(a), np.ones_like(a), ix, a


def no_c(x, p):
    a, ix = _gates(x, p, c=1.0)
    return np.ones_like(a), np.sqrt(1 - a ** 2), ix, a


def one_head(x, p):
    return tuple(z.reshape(x.shape[0], 1, -1) for z in good(x, p))


def test_exported_as_gl_exercises():
    assert gl.exercises.check_rglru_mapping is not None


@pytest.mark.parametrize("fn", [good, good_scale_in_v])
@pytest.mark.parametrize("seed", [0, 1])
def test_accepts_correct(fn, seed, capsys):
    gl.exercises.check_rglru_mapping(fn, seed=seed)
    assert "is the RG-LRU" in capsys.readouterr().out


def test_accepts_the_library_mapping():
    def lib(x, p):
        m = gl.family.rglru(x, p)
        return m.q, m.k, m.v, m.a

    gl.exercises.check_rglru_mapping(lib, seed=2)


@pytest.mark.parametrize("wrong, words", [
    (no_scaling, "sqrt(1 − a_t²) · i_t · x_t"),
    (no_c, "is c = 8 in the exponent?"),
    (one_head, "expected shape (L, D, 1)"),
    (lambda x, p: good(x, p)[:3], "expected a tuple (q, k, v, a)"),
])
def test_rejects_wrong(wrong, words):
    with pytest.raises(AssertionError, match=re.escape(words)):
        gl.exercises.check_rglru_mapping(wrong, seed=0)
