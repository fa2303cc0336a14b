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
