"""gl.tasks.memory_horizon.gates_analysis: reset statistic, channel magnitudes and effective horizon."""
import numpy as np
import pytest

from gl.tasks.memory_horizon import gates_analysis as ga


def test_reset_statistic_known_values():
    inputs = np.array([[0, 5, 1, 2]], np.int32)
    gates = np.zeros((1, 4, 2, 1), np.complex64)
    gates[0, :, :, 0] = np.array([[0.8, 0.6], [0.1, 0.3], [1.0, 1.0], [0.9, 0.7]]) * 1j
    at, rest = ga.reset_statistic(gates, inputs, 5)
    assert abs(at - 0.2) < 1e-6
    assert abs(rest - (0.7 + 1.0 + 0.8) / 3) < 1e-6


def test_reset_statistic_no_reset_is_nan_and_shape_checked():
    at, rest = ga.reset_statistic(np.ones((3, 2, 1)), np.zeros(3, np.int32), 5)
    assert np.isnan(at) and rest == 1.0
    with pytest.raises(ValueError, match="gates"):
        ga.reset_statistic(np.ones((4, 2, 1)), np.zeros(3, np.int32), 5)
    with pytest.raises(TypeError, match="inputs"):
        ga.reset_statistic(np.ones((3, 2, 1)), np.zeros(3), 5)


def test_channel_magnitudes_excludes_resets():
    inputs = np.array([5, 0, 1], np.int32)
    gates = np.array([[[0.0], [0.0]], [[0.5], [1.0]], [[0.7], [0.0]]])
    np.testing.assert_allclose(ga.channel_magnitudes(gates, inputs, 5), [0.6, 0.5], atol=1e-12)
    with pytest.raises(ValueError, match="inputs"):
        ga.channel_magnitudes(gates, np.full(3, 5, np.int32), 5)


def test_effective_horizon():
    m = np.array([0.0, np.exp(-1.0), np.exp(-0.01), 1.0])
    np.testing.assert_allclose(ga.effective_horizon(m), [0.0, 1.0, 100.0, np.inf], rtol=1e-9)
    with pytest.raises(ValueError, match="mean_magnitude"):
        ga.effective_horizon([1.5])


def test_reset_contrast_finds_a_planted_drop_and_not_a_missing_one():
    from gl.tasks.memory_horizon import gates_analysis as ga
    from gl.tasks.memory_horizon import data as gdata

    ds = gdata.memory_horizon(5, n_samples=16, length=256)
    R = gdata.reset_id()
    rng = np.random.default_rng(0)
    mag = rng.uniform(0.6, 1.0, ds.inputs.shape + (4, 1))
    planted = np.where((ds.inputs == R)[..., None, None], 0.4 * mag, mag)
    out = ga.reset_contrast(planted, ds.inputs, R, seed=1, n_boot=300, n_perm=300)
    assert out["lo"] <= 0.4 <= out["hi"] and out["p"] < 0.01, out
    assert out["n_reset"] == 16 * 3
    none = ga.reset_contrast(mag, ds.inputs, R, seed=1, n_boot=300, n_perm=300)
    assert none["lo"] <= 1.0 <= none["hi"] and none["p"] > 0.01, none
    with pytest.raises(ValueError, match="reset tokens and other tokens"):
        ga.reset_contrast(mag, np.zeros_like(ds.inputs), R, seed=0)


def test_geometric_channel_magnitude_is_the_decay_rate():
    """A channel alternating |a| = 0.1, 0.9 decays a write by 0.09 per two steps: the geometric
    mean 0.3 per step, not the arithmetic 0.5 (which overstates the horizon)."""
    gates = np.array([0.1, 0.9] * 4, np.complex64).reshape(8, 1, 1)
    inputs = np.zeros(8, np.int32)
    geo = ga.channel_magnitudes(gates, inputs, 5, geometric=True)
    np.testing.assert_allclose(geo, [0.3], rtol=1e-6)
    np.testing.assert_allclose(ga.channel_magnitudes(gates, inputs, 5), [0.5], rtol=1e-6)
    assert ga.effective_horizon(geo)[0] < ga.effective_horizon(0.5)
