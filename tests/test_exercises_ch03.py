"""The chapter 3 checkers accept a correct solution and reject wrong ones with a useful message."""
from __future__ import annotations

import numpy as np
import pytest

import gl.exercises
from gl.exercises import ch03


def loop_ok(q, k, v, a, h0):
    h = h0.astype(np.result_type(a, h0, np.complex64))
    ys = []
    for n in range(q.shape[0]):
        h = a[n][:, :, None] * h + k[n][:, :, None] * v[n][:, None, :]
        ys.append(np.einsum("hr,hrp->hp", q[n], h))
    return np.stack(ys), h


def loop_float32(q, k, v, a, h0):  # a correct loop in single precision must pass too
    y, h = loop_ok(*(x.astype(np.complex64) for x in (q, k, v, a, h0)))
    return y.astype(np.complex64), h.astype(np.complex64)


def loop_no_h0(q, k, v, a, h0):
    return loop_ok(q, k, v, a, np.zeros_like(h0))


def loop_decays_input(q, k, v, a, h0):
    h = h0.astype(complex)
    ys = []
    for n in range(q.shape[0]):
        h = a[n][:, :, None] * (h + k[n][:, :, None] * v[n][:, None, :])
        ys.append(np.einsum("hr,hrp->hp", q[n], h))
    return np.stack(ys), h


def loop_reads_old(q, k, v, a, h0):
    h = h0.astype(complex)
    ys = []
    for n in range(q.shape[0]):
        ys.append(np.einsum("hr,hrp->hp", q[n], h))
        h = a[n][:, :, None] * h + k[n][:, :, None] * v[n][:, None, :]
    return np.stack(ys), h


def loop_wrong_state(q, k, v, a, h0):
    y, h = loop_ok(q, k, v, a, h0)
    return y, h0


def loop_transposed(q, k, v, a, h0):  # v kᵀ instead of kᵀ v: wrong shapes once d_k != d_v
    y, h = loop_ok(q, k, v, a, h0)
    return y, np.swapaxes(h, -1, -2)


def test_exercises_are_exported():
    assert gl.exercises.check_gateloop_loop is ch03.check_gateloop_loop
    assert gl.exercises.check_transition is ch03.check_transition


@pytest.mark.parametrize("fn", [loop_ok, loop_float32])
@pytest.mark.parametrize("seed", [0, 1, None])
def test_loop_checker_accepts_correct(fn, seed, capsys):
    ch03.check_gateloop_loop(fn, seed=seed)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("fn, message", [
    (loop_no_h0, "ignores h0"),
    (loop_decays_input, "multiply the new input by a_n"),
    (loop_reads_old, "before updating"),
    (loop_wrong_state, "final state h_L is not"),
    (loop_transposed, "h_L has shape"),
    (lambda q, k, v, a, h0: loop_ok(q, k, v, a, h0)[0], "return a pair"),
    (lambda q, k, v, a, h0: 1 / 0, "ZeroDivisionError"),
])
def test_loop_checker_rejects_wrong(fn, message):
    with pytest.raises(AssertionError, match=message):
        ch03.check_gateloop_loop(fn, seed=0)


def test_loop_checker_names_step_and_values():
    with pytest.raises(AssertionError) as e:
        ch03.check_gateloop_loop(loop_no_h0, seed=0)
    text = str(e.value)
    assert "random complex h0" in text and "step n =" in text and "expected" in text and "got" in text


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("seed", [0, 3])
def test_transition_checker_accepts_correct(seed, capsys):
    ch03.check_transition(lambda al, be: sigmoid(al) * np.exp(1j * be), seed=seed)
    ch03.check_transition(lambda al, be: gl.gates.transition(al, be), seed=seed)
    assert capsys.readouterr().out.count("correct") == 2


@pytest.mark.parametrize("fn, message", [
    (lambda al, be: np.exp(-np.exp(al)) * np.exp(1j * be), "stable exponential"),
    (lambda al, be: sigmoid(al) * np.exp(1j * np.exp(be)), "phase is exp"),
    (lambda al, be: sigmoid(be) * np.exp(1j * al), "swapped"),
    (lambda al, be: sigmoid(al), "phase factor is missing"),
    (lambda al, be: sigmoid(al) * np.exp(be), "imaginary unit"),
    (lambda al, be: al * np.exp(1j * be), "apply the sigmoid"),
    (lambda al, be: (sigmoid(al) * np.exp(1j * be))[0], "shape"),
    (lambda al, be: 1.01 * sigmoid(al) * np.exp(1j * be), "relative error"),
])
def test_transition_checker_rejects_wrong(fn, message):
    with pytest.raises(AssertionError, match=message):
        ch03.check_transition(fn, seed=0)
