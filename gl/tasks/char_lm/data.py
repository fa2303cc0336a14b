"""Character-level tiny Shakespeare, with nanoGPT's split and vocabulary.

The text (``gl/assets/data/tinyshakespeare.txt``, 1,115,394 bytes, md5
``6fb458f1232090904fb40fe944165e91``) is the one of nanoGPT's ``shakespeare_char`` example.
nanoGPT's convention: the vocabulary is the sorted set of characters of the whole file
(65 symbols), the first 90 % of the characters are the training split and the last 10 % the
validation split.

Training batches are windows of ``context + 1`` characters at uniformly random offsets
(:func:`random_windows`, as nanoGPT's ``get_batch``). The validation loss of
:mod:`gl.tasks.char_lm.evaluate` uses the non-overlapping windows of :func:`eval_windows`.
"""
from __future__ import annotations

import hashlib
from importlib import resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["MD5", "N_BYTES", "TRAIN_FRACTION", "Corpus", "text", "corpus", "encode", "decode",
           "random_windows", "eval_windows"]

MD5 = "6fb458f1232090904fb40fe944165e91"
N_BYTES = 1_115_394
TRAIN_FRACTION = 0.9


class Corpus(NamedTuple):
    """The encoded splits and the vocabulary."""

    train: np.ndarray  #: int32 ids of the first 90 % of the characters
    val: np.ndarray  #: int32 ids of the last 10 %
    vocab: str  #: the sorted characters; id i is ``vocab[i]``


def _path():
    return resources.files("gl") / "assets" / "data" / "tinyshakespeare.txt"


def text(check=True) -> str:
    """The whole file as a string; with ``check`` its size and md5 are verified."""
    raw = _path().read_bytes()
    if check:
        got = hashlib.md5(raw).hexdigest()
        if len(raw) != N_BYTES or got != MD5:
            raise ValueError(f"tinyshakespeare.txt: expected {N_BYTES} bytes with md5 {MD5}, "
                             f"got {len(raw)} bytes with md5 {got}")
    return raw.decode("utf-8")


def encode(s: str, vocab: str) -> np.ndarray:
    """Ids of the characters of ``s``; a ``ValueError`` names characters not in ``vocab``."""
    index = {c: i for i, c in enumerate(vocab)}
    bad = sorted(set(c for c in s if c not in index))
    if bad:
        raise ValueError(f"text: characters not in the {len(vocab)}-symbol vocabulary: "
                         f"{', '.join(repr(c) for c in bad)}")
    return np.fromiter((index[c] for c in s), dtype=np.int32, count=len(s))


def decode(ids, vocab: str) -> str:
    """The string of ids ``ids`` (checked to lie in ``range(len(vocab))``)."""
    ids = np.asarray(ids).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
        raise ValueError(f"ids: expected values in [0, {len(vocab)}), got [{ids.min()}, {ids.max()}]")
    return "".join(vocab[int(i)] for i in ids)


def corpus() -> Corpus:
    """The encoded train and validation splits (nanoGPT's ``prepare.py``)."""
    s = text()
    vocab = "".join(sorted(set(s)))
    ids = encode(s, vocab)
    n = int(len(ids) * TRAIN_FRACTION)
    return Corpus(ids[:n], ids[n:], vocab)


def random_windows(key, ids, batch_size: int, context: int):
    """``(x, y)`` ``(batch_size, context)``: windows at uniform random offsets, ``y`` shifted by 1.

    Works inside ``jit`` (``ids`` a JAX array).
    """
    start = jax.random.randint(key, (batch_size,), 0, ids.shape[0] - context)
    idx = start[:, None] + jnp.arange(context + 1)[None, :]
    w = ids[idx]
    return w[:, :-1], w[:, 1:]


def eval_windows(ids, context: int, limit: int | None = None):
    """``(x, y)``: the non-overlapping windows of ``context`` targets covering ``ids`` (the
    first ``limit`` windows if given). Each target is predicted once, from the ``j + 1``
    characters of its window before it (``j`` its position); the first character and the
    last ``(len(ids) - 1) % context`` are never targets."""
    ids = np.asarray(ids)
    n = (len(ids) - 1) // context
    if limit is not None:
        n = min(n, limit)
    x = ids[: n * context].reshape(n, context)
    y = ids[1: n * context + 1].reshape(n, context)
    return x, y
