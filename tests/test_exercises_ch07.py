"""The chapter 7 checker accepts a correct compress_memory and rejects wrong ones."""
import pytest

import gl.exercises


def ok(memory, m):
    acc, sign = 0, 1
    i, j = 0, len(memory) - 1
    while i < j:
        acc += sign * memory[i] * memory[j]
        sign, i, j = -sign, i + 1, j - 1
    if i == j:
        acc += sign * memory[i]
    return acc % m


def flipped(memory, m):
    return (-ok(memory, m)) % m


def no_middle(memory, m):
    acc, sign = 0, 1
    for i in range(len(memory) // 2):
        acc += sign * memory[i] * memory[-1 - i]
        sign = -sign
    return acc % m


def test_correct_passes(capsys):
    gl.exercises.check_compress_memory(ok, seed=0)
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [flipped, no_middle])
def test_wrong_fails(wrong):
    with pytest.raises(AssertionError, match="expected"):
        gl.exercises.check_compress_memory(wrong, seed=1)


def test_flipped_sign_is_named():
    with pytest.raises(AssertionError, match="alternation"):
        gl.exercises.check_compress_memory(flipped, seed=2)
