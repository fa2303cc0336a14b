"""gl.tasks.char_lm.data: the shipped text, nanoGPT's split and vocabulary, the windows."""
from __future__ import annotations

import hashlib

import jax
import numpy as np
import pytest

from gl.tasks.char_lm import data


def test_file_hash_split_and_vocabulary():
    raw = data.text(check=False).encode("utf-8")  # the file's bytes (strict UTF-8 both ways)
    assert len(raw) == 1_115_394
    assert hashlib.md5(raw).hexdigest() == "6fb458f1232090904fb40fe944165e91"
    c = data.corpus()
    assert len(c.vocab) == 65 and c.vocab == "".join(sorted(set(raw.decode())))
    assert c.vocab[0] == "\n" and c.vocab[1] == " "
    assert len(c.train) == 1_003_854 == int(0.9 * 1_115_394)  # nanoGPT: int(n * 0.9)
    assert len(c.val) == 1_115_394 - 1_003_854
    s = raw.decode()
    assert data.decode(c.train[:40], c.vocab) == s[:40]
    assert data.decode(c.val, c.vocab) == s[1_003_854:]


def test_encode_names_unknown_characters():
    vocab = data.corpus().vocab
    with pytest.raises(ValueError, match=r"'@'.*'é'|'é'.*'@'"):
        data.encode("hello @ café", vocab)
    with pytest.raises(ValueError, match="ids"):
        data.decode([0, 65], vocab)


def test_windows():
    ids = np.arange(1000, dtype=np.int32)
    x, y = data.eval_windows(ids, 64)
    assert x.shape == y.shape == (999 // 64, 64)
    np.testing.assert_array_equal(y, x + 1)
    assert len(np.unique(y)) == y.size  # each target once
    assert data.eval_windows(ids, 64, limit=3)[0].shape == (3, 64)
    x, y = data.random_windows(jax.random.key(0), jax.numpy.asarray(ids), 12, 64)
    assert x.shape == (12, 64)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x) + 1)
    assert int(y.max()) <= 999
