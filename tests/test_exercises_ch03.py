"""The chapter 3 checkers accept a correct solution and reject wrong ones with a useful message.

The book's own solution is read from the notebook's solution cell. Among the wrong loops are
ones that conjugate q or k: the checker draws one case with complex q, k (complex64).
"""
from __future__ import annotations

import numpy as np
import pytest

import gl
import gl.exercises
from conftest import book_solution, loop_gate_loop
from gl.exercises import ch03


def loop_ok(q, k, v, a, h0):  # in the inputs' precision, complex
    return loop_gate_loop(q, k, v, a, h0, dtype=np.result_type(q, k, v, a, h0, np.complex64))


def loop_float32(q, k, v, a, h0):  # a correct loop in single precision must pass too
    return loop_gate_loop(q, k, v, a, h0, dtype=np.complex64)


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


def loop_conj_q(q, k, v, a, h0):  # np.vdot(q[n], h) or q.conj() @ h in the read-out
    return loop_ok(np.conj(q), k, v, a, h0)


def loop_vdot(q, k, v, a, h0):
    """Reads out each column with np.vdot, which conjugates its first argument (q)."""
    h = h0.astype(np.complex128)
    ys = []
    for n in range(q.shape[0]):
        h = a[n][:, :, None] * h + k[n][:, :, None] * v[n][:, None, :]
        ys.append([[np.vdot(q[n, i], h[i, :, p]) for p in range(h.shape[-1])] for i in range(h.shape[0])])
    return np.array(ys), h


def loop_conj_k(q, k, v, a, h0):  # k_nᴴ v_n (a conjugate transpose) in the write
    return loop_ok(q, np.conj(k), v, a, h0)


def test_exercises_are_exported():
    assert gl.exercises.check_gateloop_loop is ch03.check_gateloop_loop
    assert gl.exercises.check_transition is ch03.check_transition


@pytest.mark.parametrize("fn", [loop_ok, loop_float32])
@pytest.mark.parametrize("seed", [0, 1, None])
def test_loop_checker_accepts_correct(fn, seed, capsys):
    ch03.check_gateloop_loop(fn, seed=seed)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 1, None])
def test_book_solution_passes(seed, capsys):
    (my_loop,) = book_solution("03_gateloop.ipynb", "my_loop", np=np, gl=gl)
    ch03.check_gateloop_loop(my_loop, seed=seed)
    assert "check_gateloop_loop: correct on 4 cases" in capsys.readouterr().out


def test_loop_cases_include_complex_q_and_k():
    cases = ch03._loop_cases(np.random.default_rng(0))
    assert any(q.dtype == k.dtype == np.complex64 and np.abs(q.imag).min() > 0 and np.abs(k.imag).min() > 0
               for _, q, k, *_ in cases)
    assert any(q.dtype.kind == k.dtype.kind == "f" for _, q, k, *_ in cases)


def test_the_truth_is_right_on_every_case():
    """The checker's truth, gl.gate_loop_reference in complex128, against the tests' own loop
    (conftest.loop_gate_loop, complex128, no conjugate anywhere) on each case."""
    for _, q, k, v, a, h0 in ch03._loop_cases(np.random.default_rng(0)):
        want_y, want_h = loop_gate_loop(q, k, v, a, h0)
        y, h = gl.gate_loop_reference(q, k, v, a, h0=h0, return_state=True, dtype=np.complex128)
        assert np.abs(y - want_y).max() <= 1e-12 * np.abs(want_y).max()
        assert np.abs(h - want_h).max() <= 1e-12 * np.abs(want_h).max()


@pytest.mark.parametrize("fn, message", [
    (loop_no_h0, "ignores h0"),
    (loop_decays_input, "multiply the new input by a_n"),
    (loop_reads_old, "before updating"),
    (loop_wrong_state, "final state h_L is not"),
    (loop_transposed, "h_L has shape"),
    (loop_conj_q, "you conjugate q_n in the read-out"),
    (loop_vdot, "you conjugate q_n in the read-out"),
    (loop_conj_k, "you conjugate k_n in the write"),
    (lambda q, k, v, a, h0: loop_ok(q, k, v, a, h0)[0], "return a pair"),
    (lambda q, k, v, a, h0: 1 / 0, "ZeroDivisionError"),
])
def test_loop_checker_rejects_wrong(fn, message):
    with pytest.raises(AssertionError, match=message):
        ch03.check_gateloop_loop(fn, seed=0)


@pytest.mark.parametrize("seed", [1, None])
@pytest.mark.parametrize("fn, message", [(loop_conj_q, "conjugate q_n"), (loop_vdot, "conjugate q_n"),
                                         (loop_conj_k, "conjugate k_n")])
def test_loop_checker_catches_a_conjugate_on_the_complex_case(fn, message, seed):
    with pytest.raises(AssertionError) as e:
        ch03.check_gateloop_loop(fn, seed=seed)
    assert "complex q and k" in str(e.value) and message in str(e.value), str(e.value)


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
