"""How far a Memory Horizon model remembers: accuracy by span, the 50 % horizon, the bound.

Three measures, all from a boolean ``correct`` ``(N, L)`` (prediction == target) and the
required ``spans`` ``(N, L)`` of the set (:mod:`gl.tasks.memory_horizon.data`):

* :func:`accuracy_by_span`: per-token accuracy in span bins (Figure 7's bins,
  :data:`SPAN_BINS` by default). A bin without tokens has
  ``accuracy`` ``None`` (missing), never ``nan``. :func:`seed_band` averages such curves
  over checkpoints (mean, sample std, min, max per bin, over the checkpoints that have it).
* :func:`horizon`: the **50 % horizon**, the largest span ``S`` such that the accuracy at
  every span ``1 .. S`` (each span on its own, spans without tokens skipped) is at least
  ``threshold`` (0.5); ``0`` when span 1 already falls below. :func:`horizon_interval`
  adds a percentile bootstrap interval over the test *samples* (rows resampled with
  replacement, an explicit ``seed``).
* :func:`span_share_bound`: the accuracy of an ideal model that is perfect up to span ``S``
  and at chance (``1 / n_classes``) beyond, over the set's own span distribution:
  ``share(span <= S) + share(span > S) / n_classes``. Reset tokens (span 0) count as
  remembered. :func:`span_for_accuracy` inverts it: the smallest ``S`` whose bound reaches
  an accuracy: the span a step-shaped model (perfect up to it, at chance beyond) needs to
  reach that accuracy. It is not a lower bound on every model's 50 % horizon: a model
  partly right at longer spans can reach the accuracy with a shorter horizon.
"""
from __future__ import annotations

import numpy as np

#: the bins of required span of the paper's Fig. 7, ``[lo, hi)`` (spans reach ``length + 1``)
SPAN_BINS = (0, 1, 10, 25, 50, 100, 200, 400, 1025)

__all__ = ["SPAN_BINS", "accuracy_by_span", "seed_band", "span_counts", "horizon", "horizon_interval",
           "span_share_bound", "span_for_accuracy"]


def _check_pair(correct, spans):
    correct, spans = np.asarray(correct), np.asarray(spans)
    if correct.shape != spans.shape or correct.ndim != 2:
        raise ValueError(f"correct, spans: expected equal 2-d shapes (N, L), got "
                         f"{correct.shape} and {spans.shape}")
    if spans.size and spans.min() < 0:
        raise ValueError(f"spans: expected non-negative spans, got min {spans.min()}")
    return correct.astype(bool), spans.astype(np.int64)


def accuracy_by_span(correct, spans, bins=None) -> list[dict]:
    """``[{"lo", "hi", "count", "accuracy"}]`` per bin ``[lo, hi)``; ``accuracy`` ``None`` if empty."""
    if bins is None:
        bins = SPAN_BINS
    correct, spans = _check_pair(correct, spans)
    bins = [int(b) for b in bins]
    if len(bins) < 2 or any(b >= c for b, c in zip(bins, bins[1:])):
        raise ValueError(f"bins: expected at least 2 increasing edges, got {bins}")
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        m = (spans >= lo) & (spans < hi)
        n = int(m.sum())
        out.append({"lo": lo, "hi": hi, "count": n,
                    "accuracy": float(correct[m].mean()) if n else None})
    return out


def seed_band(curves: list[list[dict]]) -> list[dict]:
    """Mean, sample std (``None`` below 2 values), min, max per bin over several curves.

    ``curves`` are :func:`accuracy_by_span` outputs with the same bins; a bin missing in
    one curve is left out of that bin's statistics; ``n`` says how many entered.
    """
    if not curves:
        raise ValueError("curves: expected at least one curve, got none")
    edges = [[(b["lo"], b["hi"]) for b in c] for c in curves]
    if any(e != edges[0] for e in edges):
        raise ValueError("curves: expected the same bins in every curve")
    out = []
    for i, (lo, hi) in enumerate(edges[0]):
        v = np.array([c[i]["accuracy"] for c in curves if c[i]["accuracy"] is not None])
        out.append({"lo": lo, "hi": hi, "n": int(v.size),
                    "mean": float(v.mean()) if v.size else None,
                    "std": float(v.std(ddof=1)) if v.size > 1 else None,
                    "min": float(v.min()) if v.size else None,
                    "max": float(v.max()) if v.size else None})
    return out


def span_counts(correct, spans):
    """Per sample and span: ``(hits, totals)``, both ``(N, max_span + 1)`` int64."""
    correct, spans = _check_pair(correct, spans)
    n, width = spans.shape[0], int(spans.max()) + 1 if spans.size else 1
    flat = spans + width * np.arange(n)[:, None]
    totals = np.bincount(flat.ravel(), minlength=n * width).reshape(n, width)
    hits = np.bincount(flat.ravel(), weights=correct.ravel().astype(np.float64),
                       minlength=n * width).reshape(n, width).round().astype(np.int64)
    return hits, totals


def _horizon_from(hits, totals, threshold):
    """The 50 % horizon from per-span hits and totals ``(..., S + 1)`` (index = span)."""
    hits, totals = np.asarray(hits, float), np.asarray(totals, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = hits / totals
    below = (totals > 0) & (acc < threshold)
    below[..., 0] = False  # span 0 (resets) is not a memory span
    width = totals.shape[-1]
    first = np.where(below.any(-1), below.argmax(-1), width)  # first span below threshold
    # the horizon is the largest span with tokens before the first one below threshold
    has = totals > 0
    has[..., 0] = False
    idx = np.arange(width)
    last_ok = np.where(has & (idx < first[..., None]), idx, 0).max(-1)
    return last_ok.astype(np.int64)


def horizon(correct, spans, threshold=0.5) -> int:
    """The largest span ``S`` with accuracy ``>= threshold`` at every span ``1 .. S``.

    Spans without tokens are skipped; ``0`` when the first span with tokens is below.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold: expected a number in (0, 1], got {threshold}")
    hits, totals = span_counts(correct, spans)
    return int(_horizon_from(hits.sum(0), totals.sum(0), threshold))


def horizon_interval(correct, spans, *, seed, n_boot=1000, level=0.95, threshold=0.5) -> dict:
    """:func:`horizon` with a percentile bootstrap interval over the samples (rows).

    Args:
      seed: an int seed for ``np.random.default_rng`` (required: the interval is
        reproducible).
      n_boot: bootstrap draws; level: the interval's coverage.

    Returns ``{"horizon", "lo", "hi", "level", "n_boot", "seed"}``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot: expected an int >= 1, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level: expected a number in (0, 1), got {level}")
    hits, totals = span_counts(correct, spans)
    h = int(_horizon_from(hits.sum(0), totals.sum(0), threshold))
    rng = np.random.default_rng(int(seed))
    n = hits.shape[0]
    w = rng.multinomial(n, np.full(n, 1.0 / n), size=int(n_boot)).astype(float)  # (B, N)
    boot = _horizon_from(w @ hits, w @ totals, threshold)
    q = (1 - level) / 2
    lo, hi = np.quantile(boot, [q, 1 - q], method="inverted_cdf")
    return {"horizon": h, "lo": int(lo), "hi": int(hi), "level": float(level),
            "n_boot": int(n_boot), "seed": int(seed)}


def span_share_bound(S, spans, n_classes=50):
    """Accuracy of a model perfect up to span ``S`` and at chance beyond, over ``spans``.

    ``S`` may be an int or an array of ints (the result has its shape).
    """
    spans = np.asarray(spans).ravel()
    if spans.size == 0:
        raise ValueError("spans: expected at least one span, got none")
    if n_classes < 1:
        raise ValueError(f"n_classes: expected an int >= 1, got {n_classes}")
    S_arr = np.asarray(S)
    if S_arr.size and S_arr.min() < 0:
        raise ValueError(f"S: expected spans >= 0, got min {S_arr.min()}")
    srt = np.sort(spans)
    share = np.searchsorted(srt, S_arr, side="right") / spans.size  # share(span <= S)
    out = share + (1 - share) / n_classes
    return float(out) if out.ndim == 0 else out


def span_for_accuracy(accuracy, spans, n_classes=50) -> int:
    """The smallest ``S`` whose :func:`span_share_bound` reaches ``accuracy`` (``None`` if none)."""
    cand = np.arange(int(np.max(spans)) + 1)
    b = span_share_bound(cand, spans, n_classes)
    ok = np.flatnonzero(b >= accuracy)
    return int(cand[ok[0]]) if ok.size else None
