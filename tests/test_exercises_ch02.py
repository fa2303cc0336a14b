"""The chapter 2 checker passes a correct bilinear rule and names the mistake in wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

import gl.exercises
from gl.theory import ssm
from gl.exercises import ch02


def correct(Lambda, B_bar, delta):
    inv = 1 / (1 - delta * Lambda / 2)
    return inv * (1 + delta * Lambda / 2), inv * delta * B_bar


def test_correct_passes(capsys):
    gl.exercises.check_discretize_bilinear(correct, seed=0)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, words",
    [
        (ssm.discretize_zoh, "zero-order hold"),
        (lambda Lam, Bb, d: (correct(Lam, Bb, d)[0], d * Bb), "missing the factor \\(1 − ΔΛ/2\\)"),
        (lambda Lam, Bb, d: (correct(Lam, Bb, d)[0], correct(Lam, Bb, d)[1] / d), "missing the factor Δ"),
        (lambda Lam, Bb, d: (1 + d * Lam, correct(Lam, Bb, d)[1]), "forward Euler"),
        (lambda Lam, Bb, d: correct(Lam, Bb, d)[0], "pair"),
        (lambda Lam, Bb, d: (np.conj(correct(Lam, Bb, d)[0]), correct(Lam, Bb, d)[1]), "A\\[0\\]"),
    ],
)
def test_wrong_fails_with_message(wrong, words):
    with pytest.raises(AssertionError, match=words):
        ch02.check_discretize_bilinear(wrong, seed=1)
