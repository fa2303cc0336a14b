"""gl.timing, the timing harness of ``python -m gl.bench`` and of the scripts under benchmarks/:
the rounds and bursts, the error measures, and the names gl.bench re-exports for those scripts."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from gl import bench, timing


def test_bench_reexports_the_harness():
    for name in ("burst_ms", "prepare", "time_rounds", "rel_err", "grad_err"):
        assert getattr(bench, name) is getattr(timing, name), name


def test_prepare_and_rounds():
    """Every method is timed once per round (a burst of n calls); times are positive."""
    x = jnp.arange(8.0)
    f, out, first_s, n = timing.prepare(lambda x: x * 2, (x,), target_ms=1.0)
    np.testing.assert_array_equal(out, 2 * x)
    assert first_s > 0 and 1 <= n <= 50
    samples = timing.time_rounds({"double": (f, (x,), n), "again": (f, (x,), 1)}, 3)
    assert {k: len(v) for k, v in samples.items()} == {"double": 3, "again": 3}
    assert all(t > 0 for ts in samples.values() for t in ts)


def test_error_measures():
    ref = np.array([3.0, 4.0])
    assert timing.rel_err(ref, ref) == 0 and timing.rel_err([3.0, 5.0], ref) == pytest.approx(0.2)
    assert timing.grad_err((jnp.asarray([3.0]), jnp.asarray([5.0])),
                           (jnp.asarray([3.0]), jnp.asarray([4.0]))) == pytest.approx(0.2)
