"""The chapter 8 checker accepts a correct reset statistic and rejects wrong ones."""
import numpy as np
import pytest

import gl.exercises


def ok(gates, inputs, reset_id):
    mag = np.abs(gates).mean(axis=(-2, -1))
    r = inputs == reset_id
    return mag[r].mean(), mag[~r].mean()


def swapped(gates, inputs, reset_id):
    return ok(gates, inputs, reset_id)[::-1]


def real_part(gates, inputs, reset_id):  # forgets the absolute value
    mag = gates.real.mean(axis=(-2, -1))
    r = inputs == reset_id
    return mag[r].mean(), mag[~r].mean()


def test_correct_passes(capsys):
    gl.exercises.check_reset_statistic(ok, seed=0)
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [swapped, real_part])
def test_wrong_fails(wrong):
    with pytest.raises(AssertionError, match="expected"):
        gl.exercises.check_reset_statistic(wrong, seed=1)


def test_swap_is_named():
    with pytest.raises(AssertionError, match="swapped"):
        gl.exercises.check_reset_statistic(swapped, seed=3)
