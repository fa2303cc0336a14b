"""gl.sharded (sequence parallelism) and data-parallel training on a 4-device CPU mesh.

The multi-device checks run in a subprocess (``tests/mesh_check.py``) because the host device
count (``XLA_FLAGS=--xla_force_host_platform_device_count=4``) must be set before JAX starts;
this process keeps its one device. Tolerances: float64 runs, relative error ≤ 1e-12 for ``y``,
the final state and every gradient (the observed errors are ~1e-16: only the summation order
differs); float32 training losses within 1e-5 relative.
"""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gl
from gl import sharded

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-12


def _run(part):
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, os.path.join(HERE, "mesh_check.py"), part], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("MESH_CHECK ")][-1]
    return json.loads(line[len("MESH_CHECK "):])


@pytest.fixture(scope="module")
def op():
    return _run("operator")


def test_four_host_devices(op):
    assert op["devices"] == 4


@pytest.mark.parametrize("i", range(9))
def test_matches_one_device_forward_state_gradient(op, i):
    case = op["cases"][i]
    assert case["y_shape"] == [2, case["L"], 2, 2], case
    assert case["y_err"] <= TOL and case["state_err"] <= TOL and case["grad_err"] <= TOL, case


def test_cases_cover_devices_combines_and_lengths(op):
    cases = op["cases"]
    assert {c["n"] for c in cases} == {1, 2, 4}
    assert {c["combine"] for c in cases if c["n"] == 4} >= {"allgather", "ppermute"}
    assert {c["combine"] for c in cases if c["pad"]} == {"allgather", "ppermute"}
    assert all(c["L"] % c["n"] for c in cases if c["pad"])


def test_bad_inputs_name_what_is_wrong(op):
    assert "divisible by the size 4 of mesh axis 'seq'" in op["uneven"]
    assert "L = 14" in op["uneven"] and "pad=True" in op["uneven"]
    assert "'time'" in op["bad_axis"] and "('seq',)" in op["bad_axis"]
    assert op["disagree"].startswith("shardings disagree: q has") and "k has" in op["disagree"]


def test_sharded_inputs_stay_sharded(op):
    assert op["agree_err"] < 1e-12
    assert op["agree_sharding"] == "P(None, 'seq', None, None)"


# chapter 11 runs the Memory Horizon comparison under nbval too; here each task's step is
# also checked for the all-reduce and for compiling once (about 20 s each, 2 cores)
def test_data_parallel_training_matches_one_device():
    out = _run("train")
    assert out["devices"] == 4
    # the Memory Horizon step itself sums gradients across the devices (fails if --mesh
    # were ignored: the losses alone would still agree)
    assert out["data4_all_reduce"] and not out["one_all_reduce"], out
    assert len(out["one"]) == len(out["data4"]) == 2
    # two epochs, one compilation each: the optimizer state is replicated like the
    # parameters, so the second epoch's inputs have the first one's shardings
    assert out["one_compiles"] == out["data4_compiles"] == 1, out
    for m1, m4 in zip(out["one"], out["data4"]):
        for key in ("train_loss", "test_loss"):
            assert abs(m1[key] - m4[key]) <= 1e-5 * abs(m1[key]), (key, m1[key], m4[key])


def test_data_parallel_char_lm_matches_one_device():
    """``python -m gl.train char-lm --mesh data=4``: the same windows and dropout masks, the
    batch split over four devices; training and validation losses within 1e-5 relative."""
    out = _run("train_lm")
    assert len(out["one"]) == len(out["data4"]) == 2
    # the batch is split: the step sums gradients across the devices
    assert out["data4_all_reduce"] and not out["one_all_reduce"], out
    assert out["one_compiles"] == out["data4_compiles"] == 1, out
    for m1, m4 in zip(out["one"], out["data4"]):
        for key in ("train_loss", "val_loss"):
            assert abs(m1[key] - m4[key]) <= 1e-5 * abs(m1[key]), (key, m1[key], m4[key])
    last1, last4 = out["one"][-1], out["data4"][-1]
    assert abs(last1["val_loss_full"] - last4["val_loss_full"]) <= 1e-5 * last1["val_loss_full"]


# In this process (one device): the checks that need no second device.

def _xs(length=8):
    r = np.random.default_rng(1)
    q, k, v = (jnp.asarray(r.normal(size=(1, length, 2, 2)), jnp.float32) for _ in range(3))
    return q, k, v, jnp.asarray(r.uniform(0.5, 1, (1, length, 2, 2)), jnp.float32)


def test_one_device_mesh_equals_gate_loop():
    q, k, v, a = _xs()
    y, s = jax.jit(lambda *x: sharded.gate_loop_sharded(  # jitted: eager shard_map is slow
        *x, mesh=sharded.local_mesh(1), axis="seq", return_state=True))(q, k, v, a)
    y0, s0 = gl.gate_loop(q, k, v, a, return_state=True)
    np.testing.assert_allclose(y, y0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s, s0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw, match", [
    (dict(axis="time"), "axis: expected one of the mesh axes"),
    (dict(combine="tree"), "combine: expected one of"),
    (dict(mode="fast"), "mode"),
])
def test_bad_arguments(kw, match):
    args = {"mesh": sharded.local_mesh(1), "axis": "seq", **kw}
    with pytest.raises(ValueError, match=match):
        sharded.gate_loop_sharded(*_xs(), **args)


@pytest.mark.parametrize("flag", ["return_state", "pad"])
def test_flags_must_be_bools(flag):
    with pytest.raises(TypeError, match=f"^{flag}: expected a bool"):
        sharded.gate_loop_sharded(*_xs(), mesh=sharded.local_mesh(1), axis="seq",
                                  **{flag: "no"})


def test_mesh_must_be_a_mesh():
    with pytest.raises(TypeError, match="mesh: expected a jax.sharding.Mesh"):
        sharded.gate_loop_sharded(*_xs(), mesh=jax.devices(), axis="seq")


def test_cost_model():
    assert sharded.aggregate_bytes(2, 3, 4, 5, 8) == 2 * 3 * 4 * 6 * 8
    assert sharded.rounds(4, "allgather") == 1 and sharded.rounds(4, "ppermute") == 3
    assert sharded.rounds(8, "ppermute") == 4 and sharded.rounds(1, "ppermute") == 0


def test_parse_mesh_errors():
    from gl.tasks import loop
    with pytest.raises(ValueError, match="--mesh: expected NAME=SIZE"):
        loop.parse_mesh("data")
    with pytest.raises(ValueError, match="needs 64 devices"):
        loop.parse_mesh("data=64")
    assert loop.parse_mesh("data=1").shape == {"data": 1}


@pytest.mark.parametrize("task", ["memory-horizon", "char-lm"])
def test_train_mesh_flag_is_checked(task, capsys):
    import importlib
    train = importlib.import_module(f"gl.tasks.{task.replace('-', '_')}.train")
    for mesh, msg in (("data=64", "needs 64 devices"), ("seq=1", "expected an axis 'data'"),
                      ("data", "expected NAME=SIZE")):
        with pytest.raises(SystemExit):
            train.main([task, "--out", "unused", "--mesh", mesh])
        assert msg in capsys.readouterr().err


def test_batch_split_names_the_argument_at_fault():
    """Checked before any device is touched: a stand-in with a mesh's two fields will do."""
    import types

    from gl.tasks import loop
    two = types.SimpleNamespace(axis_names=("data",), shape={"data": 2})
    with pytest.raises(ValueError, match="batch_size: expected a multiple of the 2 devices"):
        loop.batch_split(two, 3)
    with pytest.raises(ValueError, match="mesh: expected an axis 'seq'"):
        loop.batch_split(two, 4, axis="seq")
    x = jnp.ones(3)
    assert loop.batch_split(None, 3)(x) is x


@pytest.mark.parametrize("h0", [None, 0.5])
def test_empty_sequence_returns_h0(h0):
    """L = 0 (a bare IndexError before): an empty output and h0 (zeros if None) as the state,
    as gl.gate_loop gives."""
    q, k, v, a = (x[:, :0] for x in _xs())
    h = None if h0 is None else jnp.full((1, 2, 2, 2), h0, jnp.float32)
    y, s = sharded.gate_loop_sharded(q, k, v, a, h0=h, mesh=sharded.local_mesh(1),
                                     axis="seq", return_state=True)
    y0, s0 = gl.gate_loop(q, k, v, a, h0=h, return_state=True)
    assert y.shape == y0.shape == (1, 0, 2, 2) and y.dtype == y0.dtype
    np.testing.assert_array_equal(s, s0)
    assert float(jnp.abs(s).max()) == (0.0 if h0 is None else h0)


def test_complex_h0_with_real_inputs_gives_complex_output():
    q, k, v, a = _xs()
    h0 = jnp.full((1, 2, 2, 2), 1 + 2j, jnp.complex64)
    y, s = jax.jit(lambda *x: sharded.gate_loop_sharded(
        *x, h0=h0, mesh=sharded.local_mesh(1), axis="seq", return_state=True))(q, k, v, a)
    y0, s0 = gl.gate_loop(q, k, v, a, h0=h0, return_state=True)
    assert y.dtype == y0.dtype == jnp.complex64
    np.testing.assert_allclose(y, y0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s, s0, rtol=1e-5, atol=1e-5)
