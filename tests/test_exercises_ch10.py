"""The chapter 10 checker accepts nanoGPT's top-k filter and names what is wrong otherwise."""
import re

import numpy as np
import pytest

import gl.exercises as ex


def good(logits, k):
    kth = np.sort(logits, axis=-1)[..., -k][..., None]
    return np.where(logits < kth, -np.inf, logits)


def test_accepts_the_rule(capsys):
    ex.check_top_k(good)
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("bad, says", [
    (lambda x, k: good(x, k + 1) if k < 65 else good(x, k), "keeps .* expected"),
    (lambda x, k: np.where(np.isinf(good(x, k)), -1e9, x), "keeps 65 logits"),
    (lambda x, k: 2 * good(x, k), "is .* expected"),
    (lambda x, k: good(x, k)[:, :-1], "expected shape"),
    (lambda x, k: 1 / 0, "raised ZeroDivisionError"),
])
def test_rejects_wrong_filters(bad, says):
    with pytest.raises(AssertionError, match=says):
        ex.check_top_k(bad)


def speakers(text):
    m = np.zeros(len(text), bool)
    for hit in re.finditer(r"(?:\A|(?<=\n\n))([A-Z][^\n:]*:)(?=\n)", text):
        m[hit.start(1):hit.end(1)] = True
    return m


def test_speaker_checker_accepts_a_solution(capsys):
    ex.check_speaker_mask(speakers)
    assert "agree" in capsys.readouterr().out


@pytest.mark.parametrize("bad, says", [
    (lambda t: speakers(t) & False, "is part of a speaker name, your mask says False"),
    (lambda t: np.array([bool(re.match(r"[A-Z][^\n:]*:$", ln)) for ln in t.split("\n")]),
     "expected .* entries"),
    (lambda t: np.isin(np.arange(len(t)), [m.start() for m in re.finditer(
        r"(?m)^[A-Z][^\n:]*:$", t)]) | speakers(t), "Come:|'C'"),
    (lambda t: 1 / 0, "raised ZeroDivisionError"),
])
def test_speaker_checker_rejects_wrong_masks(bad, says):
    with pytest.raises(AssertionError, match=says):
        ex.check_speaker_mask(bad)
