"""The chapter 8 checker accepts a correct segmented scan and rejects wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

from gl.exercises import check_segmented_scan


def segmented(a, x, h0, segments):
    L = a.shape[0]
    Ls = L // segments
    A, S = [], []
    for s in range(segments):  # summaries from a zero state
        A.append(np.prod(a[s * Ls:(s + 1) * Ls], axis=0))
        h = np.zeros_like(h0)
        for n in range(s * Ls, (s + 1) * Ls):
            h = a[n] * h + x[n]
        S.append(h)
    out, h_start = np.empty_like(a), h0
    for s in range(segments):
        h = h_start
        for n in range(s * Ls, (s + 1) * Ls):
            h = a[n] * h + x[n]
            out[n] = h
        h_start = A[s] * h_start + S[s]
    return out


def test_correct(capsys):
    check_segmented_scan(segmented, seed=0)
    assert "agree" in capsys.readouterr().out


def test_forgets_initial_state():
    def wrong(a, x, h0, segments):
        return segmented(a, x, np.zeros_like(h0), segments)

    with pytest.raises(AssertionError, match="h0"):
        check_segmented_scan(wrong, seed=0)


def test_segments_restart_from_zero():
    def wrong(a, x, h0, segments):  # every segment but the first starts from zero
        L, out = a.shape[0], []
        Ls = L // segments
        for s in range(segments):
            h = h0 if s == 0 else np.zeros_like(h0)
            for n in range(s * Ls, (s + 1) * Ls):
                h = a[n] * h + x[n]
                out.append(h)
        return np.array(out)

    with pytest.raises(AssertionError, match="segments=2.*segment 1"):
        check_segmented_scan(wrong, seed=0)


def test_crash_and_shape_are_reported():
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        check_segmented_scan(lambda a, x, h0, s: 1 / 0, seed=0)
    with pytest.raises(AssertionError, match="shape"):
        check_segmented_scan(lambda a, x, h0, s: a[:-1], seed=0)
