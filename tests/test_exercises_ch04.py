"""Tests of the chapter-4 checker: a correct operator passes, each kind of wrong one fails with its reason."""
from __future__ import annotations

import pytest

import gl
import gl.exercises


def correct(e_i, e_j):
    a_i, kv_i = e_i
    a_j, kv_j = e_j
    return a_i * a_j, a_j * kv_i + kv_j


@pytest.mark.parametrize("fn", [gl.binary_operator, correct])
def test_correct_operator_passes(fn, capsys):
    gl.exercises.check_binary_operator(fn, seed=0)
    assert "associative" in capsys.readouterr().out


WRONG = [
    # (operator, words the message must contain)
    (lambda p, q: correct(q, p), "wrong order of arguments"),
    (lambda p, q: (p[0] * q[0], q[0] * p[1] + q[1] + 1.0), "not associative"),
    (lambda p, q: (p[0] * q[0], p[1] + q[1]), "disagrees with eq. 13 in kv"),
    (lambda p, q: (p[0] * q[0], q[1]), "disagrees with eq. 13 in kv"),  # associative, forgets
    (lambda p, q: (p[0], q[1]), "disagrees with eq. 13 in a"),  # associative, wrong a
    (lambda p, q: p[0] * q[0], "expected a pair"),
    (lambda p, q: (p[0] * q[0], (q[0] * p[1] + q[1])[:1]), "has shape"),
    (lambda p, q: (p[0] * q[0], (q[0] * p[1] + q[1]).reshape(4, 3)), "associative_scan"),
    (lambda p, q: 1 / 0, "ZeroDivisionError"),
]


@pytest.mark.parametrize("fn,reason", WRONG)
@pytest.mark.parametrize("seed", [0, 1])
def test_wrong_operator_fails_with_reason(fn, reason, seed):
    with pytest.raises(AssertionError, match=reason):
        gl.exercises.check_binary_operator(fn, seed=seed)


def test_not_callable():
    with pytest.raises(TypeError, match="fn: expected a function"):
        gl.exercises.check_binary_operator(42)
