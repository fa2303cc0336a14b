"""gl.report: the seed statistics every chapter quotes, against scipy and by hand."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gl import report


def test_pm_formats_mean_and_std():
    assert report.pm(0.2775, 0.0196) == "0.278 ± 0.020"  # rounds each number on its own
    assert report.pm(1.5, None) == "1.500" and report.pm(1.5) == "1.500"
    assert report.pm(1.46666, 0.00444, digits=4) == "1.4667 ± 0.0044"
    assert report.pm_of([0.299, 0.272, 0.261]) == "0.277 ± 0.020"


def test_welch_by_hand():
    """Two seeds against two: every number of the formula written out."""
    d, se, dof = report.welch([1.0, 3.0], [0.0, 0.0 + 2.0])
    assert d == 1.0 and se == pytest.approx(np.sqrt(2 / 2 + 2 / 2))
    assert dof == pytest.approx((1 + 1) ** 2 / (1 / 1 + 1 / 1))  # 2.0


@settings(max_examples=25, deadline=None, derandomize=True)
@given(x=st.lists(st.floats(-10, 10), min_size=2, max_size=8),
       y=st.lists(st.floats(-10, 10), min_size=2, max_size=8))
def test_welch_p_is_scipy_s_welch_test(x, y):
    if min(np.std(x), np.std(y)) < 1e-3:
        return  # scipy warns of lost precision (or gives NaN) there; no spread: tested below
    want = stats.ttest_ind(x, y, equal_var=False).pvalue
    assert report.welch_p(x, y) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_welch_without_spread():
    assert report.welch([1, 1], [1, 1]) == (0.0, 0.0, float("inf"))
    assert report.welch_p([1, 1], [1, 1]) == 1.0 and report.welch_p([2, 2], [1, 1]) == 0.0


@pytest.mark.parametrize("bad,msg", [([1.0], "at least 2 values"),
                                     ([1.0, float("nan")], "finite")])
def test_bad_samples_are_named(bad, msg):
    with pytest.raises(ValueError, match=msg):
        report.pm_of(bad)
    with pytest.raises(ValueError, match="y: expected"):
        report.welch([1.0, 2.0], bad)


def test_html_table_scrolls_and_checks_rows():
    out = report.html_table(["a", "b"], [(1, "<i>x</i>")], notes=["n1"]).data
    assert out.startswith('<div style="overflow-x:auto"><table>')
    assert "<th>a</th><th>b</th>" in out and "<td><i>x</i></td>" in out
    assert '<p style="font-size:smaller">n1</p>' in out
    with pytest.raises(ValueError, match=r"rows\[1\]: expected 2 cells .*got 3"):
        report.html_table(["a", "b"], [(1, 2), (1, 2, 3)])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(x=st.lists(st.floats(-10, 10), min_size=2, max_size=8),
       y=st.lists(st.floats(-10, 10), min_size=2, max_size=8),
       level=st.sampled_from([0.9, 0.95, 0.99]))
def test_welch_ci_is_scipy_s_interval(x, y, level):
    """The interval scipy's Welch test gives, and it holds 0 exactly when p > 1 - level."""
    if min(np.std(x), np.std(y)) < 1e-3:
        return
    want = stats.ttest_ind(x, y, equal_var=False).confidence_interval(level)
    lo, hi = report.welch_ci(x, y, level)
    assert (lo, hi) == pytest.approx((want.low, want.high), rel=1e-9, abs=1e-12)
    p = report.welch_p(x, y)
    if abs(p - (1 - level)) > 1e-9:
        assert (lo < 0 < hi) == (p > 1 - level)


def test_welch_ci_level_is_checked():
    with pytest.raises(ValueError, match="level: expected a number in \\(0, 1\\), got 95"):
        report.welch_ci([1, 2], [3, 4], 95)
