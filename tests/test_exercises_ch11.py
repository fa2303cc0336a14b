"""The chapter 11 checker accepts a correct block combination and rejects wrong ones."""
import pytest

import gl.exercises


def ok(left, right):
    (a1, h1), (a2, h2) = left, right
    return a1 * a2, a2[..., None] * h1 + h2


def swapped(left, right):
    (a1, h1), (a2, h2) = left, right
    return a1 * a2, a1[..., None] * h2 + h1


def no_decay(left, right):
    (a1, h1), (a2, h2) = left, right
    return a1 * a2, h1 + h2


def test_correct_passes(capsys):
    gl.exercises.check_combine(ok, seed=0)
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [swapped, no_decay])
def test_wrong_fails(wrong):
    with pytest.raises(AssertionError, match="expected"):
        gl.exercises.check_combine(wrong, seed=1)
