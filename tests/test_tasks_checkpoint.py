"""gl.tasks.checkpoint: a corrupt, truncated or pickled file is refused with its name, the
training state travels in the same file as the parameters and its epochs are checked, a
parameter tree of the wrong structure is named, and every shipped checkpoint still loads."""
from __future__ import annotations

import json

import jax
import numpy as np
import optax
import pytest

from gl.tasks import checkpoint
from gl.tasks.memory_horizon import model

SMALL = dict(n_layer=1, d_model=8, d_qk=8, d_v=8, n_head=8, d_channel_mixing=16)


@pytest.fixture
def saved(tmp_path):
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    path = tmp_path / "c.npz"
    checkpoint.save(path, params, c, [{"epoch": 1}], {"epoch": 1})
    return path, params, c


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_file_is_named(saved, damage):
    path = saved[0]
    raw = path.read_bytes()
    mid = len(raw) // 2  # inside an entry's compressed data: a bad CRC or a bad stream
    flipped = raw[:mid] + bytes(b ^ 0xFF for b in raw[mid:mid + 64]) + raw[mid + 64:]
    path.write_bytes({"truncate": raw[:mid], "flip": flipped, "garbage": b"not a zip" * 50,
                      "empty": b""}[damage])
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*corrupt"):
        model.load_checkpoint(path)


def test_a_shipped_name_given_as_a_path_says_how_to_load_it(tmp_path):
    """``load_checkpoint("data-s0")``: no such file, and the message says where the names'
    paths come from; a missing path in a folder is named the same way."""
    for path in ("data-s0", str(tmp_path / "nothing.npz")):
        with pytest.raises(FileNotFoundError, match="no such checkpoint file .*shipped"):
            model.load_checkpoint(path)
    model.load_checkpoint(model.shipped_checkpoints()["data-s0"])  # the way that works


def test_missing_entry_is_named(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, **{"param/w": np.zeros(3, np.float32), "metrics": np.array([""])})
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*'config'"):
        checkpoint.load(path)


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, config=np.array([{"a": 1}], dtype=object), metrics=np.array([""]),
             meta=np.array("{}"))
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*pickle"):
        checkpoint.load(path)
    with pytest.raises(TypeError, match="layers/0/w.*object"):
        checkpoint.save(tmp_path / "d.npz", {"layers": [{"w": np.array([None])}]},
                        model.Config(**SMALL))


def test_structure_is_checked_by_parameter_name(saved):
    path, params, c = saved
    like = jax.eval_shape(lambda: model.init(jax.random.key(0), model.Config(**{**SMALL, "n_layer": 2})))
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*missing.*layers/1/"):
        checkpoint.check_like(path, params, like)
    like = jax.eval_shape(lambda: model.init(jax.random.key(0), model.Config(**{**SMALL, "d_model": 16})))
    with pytest.raises(checkpoint.CheckpointError, match=r"embed: expected shape \(6, 16\), got \(6, 8\)"):
        checkpoint.check_like(path, params, like)
    checkpoint.check_like(path, params, jax.eval_shape(lambda: model.init(jax.random.key(0), c)))


def test_state_round_trip_and_epoch_check(tmp_path):
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    opt = optax.adam(0.1).init(params)
    path = tmp_path / "s.npz"
    state = checkpoint.TrainState(opt, step=8, epoch=2, key=np.array([0, 7], np.uint32))
    checkpoint.save(path, params, c, [{"epoch": 1}, {"epoch": 2}], {"epoch": 2}, state=state)
    run = checkpoint.load_run(path, type(c), params, opt)
    assert (run.step, run.epoch, run.config) == (8, 2, c)
    jax.tree_util.tree_map(np.testing.assert_array_equal, (params, opt), (run.params, run.opt_state))
    with pytest.raises(ValueError, match="meta epoch 3.*state epoch 2"):
        checkpoint.save(path, params, c, [], {"epoch": 3}, state=state)
    # a file whose entries disagree (a hand-mixed one) is refused on load
    with np.load(path) as z:
        entries = dict(z)
    entries["meta"] = np.array(json.dumps({"epoch": 1}))
    np.savez(path, **entries)
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*epoch 1.*epoch 2"):
        checkpoint.load_run(path, type(c), params, opt)
    checkpoint.save(tmp_path / "plain.npz", params, c, [], {"epoch": 2})
    with pytest.raises(checkpoint.CheckpointError, match="plain.npz.*no training state"):
        checkpoint.load_run(tmp_path / "plain.npz", type(c), params, opt)


def test_every_shipped_checkpoint_loads_and_matches_its_config():
    shipped = checkpoint.shipped()
    assert shipped
    for name, path in shipped.items():
        params, c, info = model.load_checkpoint(path)
        checkpoint.check_like(path, params, jax.eval_shape(lambda: model.init(jax.random.key(0), c)))
        # trained to the end of its schedule (300 epochs, or 1,000 for chapter 7's long-*)
        assert info["meta"]["epoch"] == info["metrics"][-1]["epoch"] == info["meta"]["epochs"], name


def test_training_state_of_an_older_gl_is_named(tmp_path):
    """Before issue 24, train_state.npz held only the optimizer leaves, step, epoch and key."""
    path = tmp_path / "train_state.npz"
    np.savez(path, **{"opt/0000": np.zeros(3), "step": np.array(4), "epoch": np.array(1),
                      "key": np.zeros(2, np.uint32)})
    with pytest.raises(checkpoint.CheckpointError, match="train_state.npz: no training state.*older gl"):
        checkpoint.load_run(path, model.Config, {}, ())


def test_no_pickle_anywhere_in_gl():
    """Every ``np.load`` in the package passes ``allow_pickle=False``; nothing imports pickle."""
    import pathlib
    import re

    root = pathlib.Path(checkpoint.__file__).parents[1]
    for f in root.rglob("*.py"):
        src = f.read_text()
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b", src, re.M), f
        for call in re.findall(r"np\.load\([^)]*\)", src):
            assert "allow_pickle=False" in call, (f, call)
        assert "allow_pickle=True" not in src, f


def test_bfloat16_storage_round_trips_within_bf16_rounding(tmp_path, saved):
    """``param_dtype="bfloat16"`` stores each parameter's bfloat16 bits (half the bytes): loaded
    back, every value is its float32 original rounded to 8 significand bits (relative error
    at most 2^-8), exactly what ``astype(bfloat16)`` gives, in half the parameter bytes. Resuming needs float32, so a training state with bfloat16 is refused."""
    _, params, c = saved
    path = tmp_path / "h.npz"
    checkpoint.save(path, params, c, [{"epoch": 1}], {"epoch": 1}, param_dtype="bfloat16")
    with np.load(path, allow_pickle=False) as z:
        assert not [k for k in z.files if k.startswith("param/")]
        assert {z[k].dtype for k in z.files if k.startswith("param_bf16/")} == {np.dtype(np.uint16)}
    back, _, info = checkpoint.load(path, model.Config)
    assert info["meta"] == {"epoch": 1}
    want, got = checkpoint.flatten(params), checkpoint.flatten(back)
    assert set(want) == set(got)
    for name, w in want.items():
        w = np.asarray(w, np.float32)
        assert got[name].dtype == np.float32, name
        np.testing.assert_array_equal(got[name], w.astype(jax.numpy.bfloat16).astype(np.float32))
        assert np.all(np.abs(got[name] - w) <= 2.0 ** -8 * np.abs(w)), name
    def param_bytes(p):
        with np.load(p, allow_pickle=False) as z:
            return sum(z[k].nbytes for k in z.files if k.startswith("param"))
    assert 2 * param_bytes(path) == param_bytes(saved[0])
    state = checkpoint.TrainState(opt_state=(), step=1, epoch=1, key=np.zeros(2, np.uint32))
    with pytest.raises(ValueError, match="param_dtype.*float32"):
        checkpoint.save(tmp_path / "s.npz", params, c, state=state, param_dtype="bfloat16")
    with pytest.raises(ValueError, match="param_dtype: expected one of .*'float16'"):
        checkpoint.save(tmp_path / "s.npz", params, c, param_dtype="float16")


def test_bf16_bits_round_to_nearest_even_and_widen_exactly():
    x = np.array([1.0, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, -2.5, 0.0, np.inf, 1e-40], np.float32)
    bits = checkpoint.to_bf16_bits(x)
    back = checkpoint.from_bf16_bits(bits)
    # 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0); 1 + 3·2^-8 rounds up
    np.testing.assert_array_equal(back, [1.0, 1.0, 1.0 + 2.0**-6, -2.5, 0.0, np.inf,
                                         np.float32(1e-40).astype(jax.numpy.bfloat16)])
    np.testing.assert_array_equal(checkpoint.to_bf16_bits(back), bits)


def test_a_parameter_stored_twice_or_with_wrong_bits_is_named(tmp_path):
    base = {"config": np.array("{}"), "metrics": np.array([""]), "meta": np.array("{}")}
    path = tmp_path / "twice.npz"
    np.savez(path, **base, **{"param/w": np.zeros(2, np.float32),
                              "param_bf16/w": np.zeros(2, np.uint16)})
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*w stored twice"):
        checkpoint.load(path)
    path = tmp_path / "bits.npz"
    np.savez(path, **base, **{"param_bf16/w": np.zeros(2, np.float32)})
    with pytest.raises(checkpoint.CheckpointError, match=f"{path}.*w: expected bfloat16 bits"):
        checkpoint.load(path)
