"""Checkers for chapter 10, "A language model"."""
from __future__ import annotations

import numpy as np

from ._common import call, expect_shape, first_index

__all__ = ["check_top_k", "check_speaker_mask"]


def _top_k(logits, k):
    """nanoGPT's rule: logits below the ``k``-th largest of their row become ``-inf``."""
    kth = np.sort(logits, axis=-1)[..., -k][..., None]
    return np.where(logits < kth, -np.inf, logits)


def check_top_k(fn, seed=0):
    """Check ``fn(logits, k) -> filtered``: every logit below the ``k``-th largest of its row
    set to ``-inf``, the others unchanged (what :func:`gl.tasks.char_lm.generate.sample_logits`
    does before sampling).

    ``logits``: float ``(B, V)`` with distinct entries; cases ``k = 1``, ``k = V`` (nothing
    removed) and values in between, on ``V = 65`` (the Shakespeare vocabulary).
    Raises ``AssertionError`` naming the case, the row and the entry that differ.
    """
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((4, 65))
    for k in (1, 2, 10, 64, 65):
        want = _top_k(logits, k)
        got = call(fn, (logits, k), f"k = {k}", convert=lambda out: np.asarray(out, dtype=np.float64))
        expect_shape(got, want.shape, f"k = {k}")
        kept = np.isfinite(got).sum(axis=-1)
        if np.any(kept != k):
            row = int(np.argmax(kept != k))
            raise AssertionError(f"k = {k}: row {row} keeps {kept[row]} logits, expected {k}"
                                 " (keep the k largest, remove the rest with -inf)")
        idx = first_index(~((got == want) | (np.isneginf(got) & np.isneginf(want))))
        if idx is not None:
            b, v = idx
            raise AssertionError(f"k = {k}: row {b}, entry {v} is {got[b, v]}, expected "
                                 f"{want[b, v]} (kept logits are unchanged)")
    print("check_top_k: k = 1, 2, 10, 64 and 65 agree with nanoGPT's rule")


_SPEAKER_CASES = (
    ("first line", "First Citizen:\nBefore we proceed any further, hear me speak.\n"),
    ("after a blank line", "Speak, speak.\n\nAll:\nResolved. resolved.\n"),
    ("a name of several words", "to me.\n\nKING RICHARD III:\nNo, my lord.\n"),
    ("a name with a comma", "ho!\n\nSenators, &C:\nWell.\n"),
    ("a line ending in ':' inside a speech", "BRUTUS:\nCome:\nHalf all Cominius' honours\n"),
    ("two blank lines", "Go.\n\n\nROMEO:\nI will.\n"),
    ("no speaker", "a plain line\nand another:\nthe end\n"),
)


def check_speaker_mask(fn, n_random=20, seed=0):
    """Check ``fn(text) -> mask``: a boolean array, one entry per character of ``text``, true
    on the characters of every speaker name and its colon (a line ``NAME:`` at the start of
    the text or after a blank line), as :func:`gl.tasks.char_lm.gates_text.classify` marks
    ``"speaker"``. Cases: the edge cases above, then ``n_random`` random stretches of tiny
    Shakespeare. Raises ``AssertionError`` naming the case and the first wrong character.
    """
    from gl.tasks.char_lm import data, gates_text

    corpus = data.text()
    rng = np.random.default_rng(seed)
    cases = list(_SPEAKER_CASES)
    for start in rng.integers(0, len(corpus) - 400, n_random):
        cases.append((f"corpus[{start}:{start + 400}]", corpus[start:start + 400]))
    speaker = gates_text.CLASSES.index("speaker")
    for name, text in cases:
        want = gates_text.classify(text) == speaker
        got = call(fn, (text,), name, convert=np.asarray)
        if got.shape != want.shape:
            raise AssertionError(f"{name}: expected {want.shape[0]} entries (one per "
                                 f"character), got shape {got.shape}")
        bad = np.flatnonzero(got.astype(bool) != want)
        if bad.size:
            j = int(bad[0])
            line = text[text.rfind("\n", 0, j) + 1:].split("\n")[0]
            raise AssertionError(f"{name}: character {j} ({text[j]!r} in line {line!r}) is "
                                 f"{'' if want[j] else 'not '}part of a speaker name, "
                                 f"your mask says {bool(got[j])}")
    print(f"check_speaker_mask: {len(_SPEAKER_CASES)} edge cases and {n_random} stretches "
          "of the text agree")
