"""The chapter 10 checker accepts nanoGPT's top-k filter and names what is wrong otherwise."""
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
