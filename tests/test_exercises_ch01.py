"""The chapter 1 checker passes a correct kernel and names the mistake in wrong ones."""
from __future__ import annotations

import re

import numpy as np
import pytest

import gl.exercises
from gl.exercises import ch01


def correct(A, B, C, L):
    return np.stack([np.sum(C * A**ell * B, axis=-1) for ell in range(L)], axis=-1)


def test_correct_passes(capsys):
    gl.exercises.check_kernel(correct, seed=0)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda A, B, C, L: correct(A, B, C, L + 1)[:, 1:], "starts at A\\^1"),
        (lambda A, B, C, L: correct(A, B, 1.0, L), "C is missing"),
        (lambda A, B, C, L: correct(A, 1.0, C, L), "B is missing"),
        (lambda A, B, C, L: correct(A, B, C, L).T, "shape"),
        (lambda A, B, C, L: correct(A, B, C, L).real, "expected"),
        (lambda A, B, C, L: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_wrong_fails_with_message(wrong, words):
    with pytest.raises(AssertionError, match=words):
        ch01.check_kernel(wrong, seed=1)


def test_message_names_the_entry_with_plain_integers():
    """The worst entry reads ``K[0, 5]``, not NumPy 2's ``K[np.int64(0), np.int64(5)]``."""
    with pytest.raises(AssertionError) as err:
        ch01.check_kernel(lambda A, B, C, L: correct(A, B, C, L).real, seed=1)
    assert "np.int64" not in str(err.value)
    assert re.match(r"K\[\d+, \d+\] ", str(err.value)), str(err.value)
