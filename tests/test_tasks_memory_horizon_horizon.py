"""The horizon metrics (gl.tasks.memory_horizon.horizon) on synthetic models with known answers."""
import numpy as np
import pytest

from gl.tasks.memory_horizon import data as gdata
from gl.tasks.memory_horizon import horizon as hz


def _step_model(spans, S, rng, n_classes=50):
    """Perfect up to span S, right by chance (1 / n_classes) beyond."""
    return (spans <= S) | (rng.random(spans.shape) < 1 / n_classes)


@pytest.mark.parametrize("S", [25, 64, 127])
def test_step_model_scores_the_bound_and_has_horizon_S(S):
    ds = gdata.memory_horizon(977, n_samples=100)
    correct = _step_model(ds.spans, S, np.random.default_rng(S))
    bound = hz.span_share_bound(S, ds.spans)
    # the chance part is Binomial(n_far, 1/50): its std is below 0.0005 here; allow 5 std
    n_far = int((ds.spans > S).sum())
    tol = 5 * np.sqrt(0.02 * 0.98 / n_far) * n_far / ds.spans.size
    assert abs(correct.mean() - bound) < tol, (correct.mean(), bound, tol)
    assert hz.horizon(correct, ds.spans) == S
    iv = hz.horizon_interval(correct, ds.spans, seed=0, n_boot=200)
    assert iv["lo"] <= S <= iv["hi"] and iv["horizon"] == S


def test_bound_is_monotone_and_inverts():
    sp = gdata.memory_horizon(1, n_samples=50).spans
    b = hz.span_share_bound(np.arange(0, 1025), sp)
    assert np.all(np.diff(b) >= 0) and b[-1] == pytest.approx(1.0)
    assert b[0] > 1 / 50  # resets count as remembered
    S = hz.span_for_accuracy(0.25, sp)
    assert hz.span_share_bound(S, sp) >= 0.25 > hz.span_share_bound(S - 1, sp)
    assert hz.span_for_accuracy(1.01, sp) is None


def test_bootstrap_interval_covers_the_true_horizon_in_most_draws():
    # a smooth curve: p(s) = 1 / (1 + exp((s - 30.5) / 8)) crosses 0.5 between 30 and 31;
    # with 30 samples the point estimate alone hits 30 in only 4 of these 20 draws
    true_h, covered, draws = 30, 0, 20
    for d in range(draws):
        ds = gdata.memory_horizon(100 + d, n_samples=30)
        rng = np.random.default_rng(d)
        p = 1 / (1 + np.exp((ds.spans - 30.5) / 8))
        correct = rng.random(ds.spans.shape) < p
        iv = hz.horizon_interval(correct, ds.spans, seed=d, n_boot=300)
        assert iv["lo"] <= iv["horizon"] <= iv["hi"]
        covered += iv["lo"] <= true_h <= iv["hi"]
    assert covered >= 0.75 * draws, covered


def test_horizon_first_crossing_and_missing_spans():
    spans = np.array([[0, 1, 2, 3, 4, 6, 7]])
    ok = np.array([[0, 1, 1, 1, 1, 1, 0]], bool)  # span 5 has no tokens: skipped
    assert hz.horizon(ok, spans) == 6
    ok2 = np.array([[1, 1, 0, 1, 1, 1, 1]], bool)  # the first failure at span 2 stops it
    assert hz.horizon(ok2, spans) == 1
    assert hz.horizon(np.zeros_like(ok), spans) == 0


def test_accuracy_by_span_reports_empty_bins_as_missing():
    spans = np.array([[0, 1, 2, 30]])
    by = hz.accuracy_by_span(np.array([[1, 1, 0, 1]], bool), spans, bins=(0, 1, 10, 25, 50, 100))
    assert [b["count"] for b in by] == [1, 2, 0, 1, 0]
    assert by[1]["accuracy"] == 0.5 and by[2]["accuracy"] is None and by[4]["accuracy"] is None
    band = hz.seed_band([by, by])
    assert band[1]["mean"] == 0.5 and band[1]["std"] == 0.0 and band[2]["mean"] is None
    assert "nan" not in repr(band)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="correct, spans"):
        hz.horizon(np.ones((2, 3), bool), np.ones((2, 4), int))
    with pytest.raises(TypeError, match="seed"):
        hz.horizon_interval(np.ones((2, 3), bool), np.ones((2, 3), int), seed=None)
    with pytest.raises(ValueError, match="bins"):
        hz.accuracy_by_span(np.ones((1, 2), bool), np.ones((1, 2), int), bins=(5, 1))
