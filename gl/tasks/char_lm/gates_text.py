"""The learned gates on text: ``|a_t|`` per character, grouped by character class, and a
permutation test of whether the gates close (``|a|`` smaller) at line or speech boundaries.

* :func:`classify`: a class per character of a text (:data:`CLASSES`). A *speaker* is tiny
  Shakespeare's line-initial ``NAME:`` that opens a speech (a line ending in ``:`` at the
  start of the text or after a blank line); its letters, spaces and colon are ``speaker``,
  not ``letter``/``space``/``punctuation``. Newlines are always ``newline``.
* :func:`gate_magnitudes`: ``|a_t|`` of a GateLoop model, averaged over the ``d_qk/H``
  channels of each head: ``(n_layer, N, H)`` for ``N`` characters read in windows.
* :func:`permutation_test`: the difference of the class means and its one-sided p-value
  against shuffled class labels, with an explicit seed (:class:`numpy.random.Generator`).

The permutation test treats the characters as exchangeable. Neighbouring characters are not
independent, so its p-values are optimistic; the difference of means (the effect size) is
the number to read beside them.
"""
from __future__ import annotations

import functools
import re
import string

import jax
import numpy as np

from gl.tasks.char_lm import data as cdata
from gl.tasks.char_lm import model as cmodel

__all__ = ["CLASSES", "classify", "windows", "gate_magnitudes", "class_means",
           "permutation_test"]

CLASSES = ("newline", "space", "punctuation", "letter", "speaker", "other")
_SPEAKER = re.compile(r"(?:\A|(?<=\n\n))([A-Z][^\n:]*:)(?=\n)")


def classify(text: str) -> np.ndarray:
    """``int8`` class ids (indices into :data:`CLASSES`), one per character of ``text``."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    out = np.full(len(text), CLASSES.index("other"), np.int8)
    for name, chars in (("space", " \t"), ("punctuation", string.punctuation),
                        ("letter", string.ascii_letters), ("newline", "\n")):
        hit = np.fromiter((ch in chars for ch in text), bool, len(text))
        out[hit] = CLASSES.index(name)
    for m in _SPEAKER.finditer(text):
        out[m.start(1):m.end(1)] = CLASSES.index("speaker")
    return out


def windows(ids, vocab: str, context: int, n: int):
    """``(x, classes)`` ``(n, context)``: ``n`` evenly spaced non-overlapping windows of the ids
    ``ids`` (:func:`gl.tasks.char_lm.data.eval_windows`) and the class of each character,
    classified in the whole text (so a speaker cut by a window edge is still a speaker)."""
    x, _ = cdata.eval_windows(ids, context)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(x):
        raise ValueError(f"n: expected an int in [1, {len(x)}] (windows of {context}), got {n!r}")
    pick = np.linspace(0, len(x) - 1, n).round().astype(int)
    cls = classify(cdata.decode(np.asarray(ids)[: len(x) * context], vocab))
    return x[pick], cls.reshape(len(x), context)[pick]


def gate_magnitudes(params, config, x, mode="recurrent") -> np.ndarray:
    """``|a_t|`` ``(n_layer, N, H)`` float64 of a GateLoop model on the windows ``x``
    ``(n, L)`` (each read from a zero state), averaged over each head's channels;
    ``N = n · L`` in the order of ``x.reshape(-1)``. ``mode``: :func:`gl.gate_loop`'s
    algorithm (the recurrent one compiles fastest on a CPU)."""
    if config.mixer not in cmodel.RECURRENT:
        raise ValueError(f"config.mixer: expected one of {list(cmodel.RECURRENT)} (models "
                         f"with gates), got {config.mixer!r}")
    mags = _head_means(config, mode)(params, jax.numpy.asarray(x))  # (layers, n, L, H)
    mags = np.asarray(mags, np.float64)
    return mags.reshape(mags.shape[0], -1, mags.shape[-1])


@functools.lru_cache(maxsize=8)
def _head_means(config, mode):
    """One compiled function per configuration and mode (the gates of a passage)."""
    def fn(params, x):
        _, gates = cmodel.apply(params, x, config, return_gates=True, mode=mode)
        return jax.numpy.stack([jax.numpy.abs(a).mean(-1) for a in gates])
    return jax.jit(fn)


def class_means(values, classes) -> dict:
    """``{class: mean of values[..., classes == class]}`` for every class present;
    ``values`` ``(..., N)``, ``classes`` ``(N,)`` class ids."""
    values, classes = np.asarray(values, np.float64), np.asarray(classes).reshape(-1)
    if values.shape[-1] != classes.shape[0]:
        raise ValueError(f"classes: expected {values.shape[-1]} labels (values' last axis), "
                         f"got {classes.shape[0]}")
    return {name: values[..., classes == i].mean(-1) for i, name in enumerate(CLASSES)
            if np.any(classes == i)}


def permutation_test(values, in_a, in_b, n_perm: int = 2000, seed: int = 0):
    """Is the mean of ``values`` over ``in_a`` smaller than over ``in_b``?

    ``values`` ``(..., N)`` (e.g. one row per layer and head), ``in_a``, ``in_b`` disjoint
    boolean masks ``(N,)``. Returns ``(diff, p_less, p_two)`` of the leading shape:
    ``diff = mean_a - mean_b``; ``p_less`` the one-sided p-value of ``diff`` this small,
    ``p_two`` the two-sided one of ``|diff|`` this large, both ``(1 + #{null as extreme}) /
    (1 + n_perm)`` over ``n_perm`` shufflings of the labels within ``in_a | in_b`` (the same
    shufflings for every row), drawn by ``numpy.random.default_rng(seed)``.
    """
    values = np.asarray(values, np.float64)
    a, b = np.asarray(in_a, bool).reshape(-1), np.asarray(in_b, bool).reshape(-1)
    if a.shape != b.shape or a.shape[0] != values.shape[-1]:
        raise ValueError(f"in_a, in_b: expected boolean masks of {values.shape[-1]} entries, "
                         f"got {a.shape} and {b.shape}")
    if np.any(a & b) or not a.any() or not b.any():
        raise ValueError(f"in_a, in_b: expected disjoint non-empty masks, got {a.sum()} and "
                         f"{b.sum()} entries with {np.sum(a & b)} shared")
    if isinstance(n_perm, bool) or not isinstance(n_perm, int) or n_perm < 1:
        raise ValueError(f"n_perm: expected an int >= 1, got {n_perm!r}")
    pooled = np.concatenate([values[..., a], values[..., b]], -1)
    na, n = int(a.sum()), int(a.sum() + b.sum())
    total = pooled.sum(-1)

    def diff_of(sum_a, tot):
        return sum_a / na - (tot - sum_a) / (n - na)

    diff = diff_of(pooled[..., :na].sum(-1), total)
    rng = np.random.default_rng(seed)
    low = np.zeros(diff.shape, np.int64)
    far = np.zeros(diff.shape, np.int64)
    eps = 1e-12 * (1 + np.abs(diff))  # ties count as extreme
    for start in range(0, n_perm, 200):
        m = min(200, n_perm - start)
        idx = np.argpartition(rng.random((m, n)), na - 1, axis=1)[:, :na]  # m random subsets
        null = diff_of(pooled[..., idx].sum(-1), total[..., None])  # (..., m)
        low += np.sum(null <= diff[..., None] + eps[..., None], -1)
        far += np.sum(np.abs(null) >= np.abs(diff)[..., None] - eps[..., None], -1)
    return diff, (1 + low) / (1 + n_perm), (1 + far) / (1 + n_perm)
