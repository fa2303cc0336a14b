"""gl.tasks.char_lm.gates_text: character classes, gate magnitudes, the permutation test."""
from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

from gl.tasks.char_lm import data, model
from gl.tasks.char_lm import gates_text as gt

VOCAB = data.corpus().vocab


LETTER = {"newline": "N", "space": "_", "punctuation": "p", "letter": "l", "speaker": "S",
          "other": "o"}


def _names(text):
    return "".join(LETTER[gt.CLASSES[i]] for i in gt.classify(text))


def test_classify_marks_speakers_only_at_the_start_of_a_speech():
    text = "First Citizen:\nBefore we go:\nstay, 3.\n\nKING RICHARD III:\nNo!\n"
    want = ("S" * 14 + "N" + "llllll_ll_llp" + "N" + "llllp_op" + "NN" + "S" * 17 + "N"
            + "llpN")
    assert _names(text) == want  # "Before we go:" ends in ':' but opens no speech
    assert _names("ab\nAll:\n") == "llNlllpN"  # no blank line before it
    with pytest.raises(TypeError, match="text: expected a str"):
        gt.classify(b"abc")


def test_classify_finds_the_corpus_speakers():
    text = data.text()
    cls = gt.classify(text)
    starts = np.flatnonzero((cls[1:] == gt.CLASSES.index("speaker"))
                            & (cls[:-1] != gt.CLASSES.index("speaker")))
    assert 7000 < len(starts) + (cls[0] == gt.CLASSES.index("speaker")) < 7300
    assert text[:14] == "First Citizen:" and set(cls[:14]) == {gt.CLASSES.index("speaker")}


def test_permutation_test_matches_exact_enumeration():
    values = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.7])
    a = np.array([1, 0, 1, 0, 0, 0], bool)
    diffs = []
    for pick in itertools.combinations(range(6), 2):
        m = np.zeros(6, bool)
        m[list(pick)] = True
        diffs.append(values[m].mean() - values[~m].mean())
    want = values[a].mean() - values[~a].mean()
    exact = np.mean(np.array(diffs) <= want + 1e-12)  # 1 of 15 subsets: this one
    diff, p_less, p_two = gt.permutation_test(values, a, ~a, n_perm=20000, seed=1)
    assert diff == pytest.approx(want)
    assert p_less == pytest.approx(exact, abs=0.01)  # Monte Carlo error ~ 0.002
    exact_two = np.mean(np.abs(diffs) >= abs(want) - 1e-12)
    assert p_two == pytest.approx(exact_two, abs=0.01)


def test_gates_forced_small_at_newlines_give_a_tiny_p_and_random_ones_do_not():
    text = data.decode(data.corpus().val[:4000], VOCAB)
    cls = gt.classify(text)
    nl, letter = cls == gt.CLASSES.index("newline"), cls == gt.CLASSES.index("letter")
    rng = np.random.default_rng(0)
    values = rng.uniform(0.5, 1.0, (3, len(text)))
    values[0, nl] -= 0.1  # row 0: gates close at newlines
    diff, p_less, p_two = gt.permutation_test(values, nl, letter, n_perm=999, seed=0)
    assert diff.shape == p_less.shape == (3,)
    assert diff[0] < -0.05 and p_less[0] == pytest.approx(1 / 1000) and p_two[0] < 0.01
    assert p_less[1] > 0.05 and p_less[2] > 0.05 and p_two[1] > 0.05 and p_two[2] > 0.05
    # rows are tested with the same shufflings as one row alone
    one = gt.permutation_test(values[1], nl, letter, n_perm=999, seed=0)
    assert one[1] == p_less[1] and one[0] == pytest.approx(diff[1])
    again = gt.permutation_test(values, nl, letter, n_perm=999, seed=0)
    np.testing.assert_array_equal(again[1], p_less)  # the seed fixes the answer


def test_permutation_test_rejects_bad_masks():
    v = np.arange(4.0)
    with pytest.raises(ValueError, match="disjoint non-empty"):
        gt.permutation_test(v, [1, 1, 0, 0], [0, 1, 1, 0])
    with pytest.raises(ValueError, match="masks of 4 entries"):
        gt.permutation_test(v, [1, 0], [0, 1])
    with pytest.raises(ValueError, match="n_perm: expected an int >= 1"):
        gt.permutation_test(v, [1, 0, 0, 0], [0, 1, 1, 1], n_perm=0)


def test_fixed_transition_gates_are_the_same_for_every_class():
    """The ablation's a does not depend on the text: every class has the same mean and the
    test finds nothing (the control the chapter's exercise asks for)."""
    c = model.Config(VOCAB, mixer="fixed", n_layer=2, n_head=2, d_model=16, d_qk=8, d_ff=72,
                     context=32)
    params = model.init(jax.random.key(0), c)
    x, cls = gt.windows(data.corpus().val, VOCAB, c.context, 8)
    assert x.shape == cls.shape == (8, 32)
    mags = gt.gate_magnitudes(params, c, x)
    assert mags.shape == (2, 8 * 32, 2)
    means = gt.class_means(mags[..., 0], cls.reshape(-1))
    assert {"letter", "newline", "space"} <= set(means)
    np.testing.assert_allclose(means["newline"], means["letter"], rtol=1e-6)
    g = model.Config(VOCAB, mixer="gateloop", n_layer=2, n_head=2, d_model=16, d_qk=8,
                     d_ff=64, context=32)
    gp = model.init(jax.random.key(0), g)
    gm = gt.gate_magnitudes(gp, g, x)
    assert np.ptp(gm[0, :, 0]) > 1e-4  # data-controlled: varies with the text
    np.testing.assert_allclose(gt.gate_magnitudes(gp, g, x, mode="parallel"), gm, atol=1e-5)
    with pytest.raises(ValueError, match="config.mixer: expected one of"):
        gt.gate_magnitudes(gp, model.Config(VOCAB, mixer="transformer"), x)
    with pytest.raises(ValueError, match="n: expected an int in"):
        gt.windows(data.corpus().val, VOCAB, 32, 0)
