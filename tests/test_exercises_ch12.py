"""The chapter 12 checker accepts one step of the short causal convolution and names what is
wrong otherwise."""
import numpy as np
import pytest

import gl.exercises as ex
from conftest import book_solution

# the book's solution, read from its cell (the cell's own asserts run with it)
(conv_step,) = book_solution("12_language_model_gpu.ipynb", "my_conv_step", np=np)


def test_conv_checker_accepts_a_step(capsys):
    ex.check_conv_step(conv_step)
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("bad, says", [
    # newest first: the taps meet the wrong inputs
    (lambda w, b, u: conv_step(w[::-1], b, u), "differs from the convolution"),
    # the buffer keeps the oldest input instead of the newest
    (lambda w, b, u: (conv_step(w, b, u)[0],
                      np.concatenate([b, u[:, None]], axis=1)[:, :-1]), "K = 2, step 1: y_t differs"),
    (lambda w, b, u: (conv_step(w, b, u)[0], b[:, :0]), "buffer of shape"),
    (lambda w, b, u: (conv_step(w, b, u)[0][:1], conv_step(w, b, u)[1]), "y_t of shape"),
    (lambda w, b, u: 1 / 0, "raised ZeroDivisionError"),
])
def test_conv_checker_rejects_wrong_steps(bad, says):
    with pytest.raises(AssertionError, match=says):
        ex.check_conv_step(bad)
