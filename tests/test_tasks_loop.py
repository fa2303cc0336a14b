"""gl.tasks.loop.fit on a tiny least-squares task: the run directory is never lost silently
(``--resume`` needs a checkpoint, a rerun needs ``overwrite``), resume reads one atomic file
and checks its epochs, and a checkpoint of another config or run is refused by field name."""
from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gl.tasks import checkpoint
from gl.tasks import loop


@dataclass(frozen=True)
class Tiny:
    dim: int = 3
    kind: str = "a"

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


X = jax.random.normal(jax.random.key(1), (16, 3))
Y = X @ jnp.array([1.0, -2.0, 0.5])
META = {"lr": 0.1, "seed": 0}


def _loss(p, x, y):
    return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)


def run(out, epochs=3, *, config=Tiny(), meta=META, stop_after=None, **kw):
    """``fit`` for ``epochs`` with a checkpoint and an evaluation every epoch; with
    ``stop_after``, a KeyboardInterrupt in the epoch after that many epochs of this call."""
    params = {"w": jnp.zeros(config.dim), "b": jnp.zeros(())}
    tx = optax.adam(meta["lr"])
    fn, calls = loop.make_epoch(_loss, tx, 4), []

    def epoch(*a):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append(1)
        return fn(*a)

    ck = loop.Checkpoints(str(out), config)
    return loop.fit(ck, params, tx, epoch, X, Y, epochs=epochs, key=jax.random.key(0),
                    evaluate=lambda p, final: {"mse": float(_loss(p, X, Y))}, meta=meta,
                    steps_per_epoch=4, eval_every=1, checkpoint_every=1, **kw)


def epochs_in(out):
    return [json.loads(s)["epoch"] for s in open(out / "metrics.jsonl")]


def test_resume_without_checkpoint_names_the_directory_and_keeps_metrics(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}.*no checkpoint"):
        run(tmp_path / "empty", resume=True)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metrics.jsonl").write_text('{"epoch": 1}\n')
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "old")):
        run(tmp_path / "old", resume=True)
    assert (tmp_path / "old" / "metrics.jsonl").read_text() == '{"epoch": 1}\n'


def test_rerun_in_a_nonempty_directory_refuses_unless_overwrite(tmp_path):
    run(tmp_path, epochs=2)
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(FileExistsError, match=f"{tmp_path}.*metrics.jsonl.*overwrite"):
        run(tmp_path, epochs=2)
    assert (tmp_path / "metrics.jsonl").read_text() == before
    with pytest.raises(ValueError, match="resume.*overwrite"):
        run(tmp_path, epochs=2, resume=True, overwrite=True)
    run(tmp_path, epochs=3, overwrite=True)
    assert epochs_in(tmp_path) == [1, 2, 3]


def test_resume_reads_one_atomic_file_and_never_duplicates_epochs(tmp_path):
    """A crash between two writes used to leave a checkpoint of epoch 2 beside a training state
    of epoch 1; resume then trained epoch 2 again on top of epoch-2 parameters."""
    full, one, two = tmp_path / "full", tmp_path / "one", tmp_path / "two"
    run(full)
    for d, n in ((one, 1), (two, 2)):
        with pytest.raises(KeyboardInterrupt):
            run(d, stop_after=n)
    # two's resume file is replaced by the one of epoch 1, its export stays at epoch 2
    shutil.copy(one / "train_state.npz", two / "train_state.npz")
    with pytest.warns(UserWarning, match="epoch 2.*epoch 1"):
        run(two, resume=True)
    assert epochs_in(two) == [1, 2, 3]
    p_full, _, i_full = checkpoint.load(full / "checkpoint.npz")
    p_two, _, i_two = checkpoint.load(two / "checkpoint.npz")
    assert [m["epoch"] for m in i_two["metrics"]] == [1, 2, 3]
    jax.tree_util.tree_map(np.testing.assert_array_equal, p_full, p_two)
    assert [m["mse"] for m in i_full["metrics"]] == [m["mse"] for m in i_two["metrics"]]


def test_resume_checks_config_and_run_settings_by_field(tmp_path):
    run(tmp_path, epochs=1)
    with pytest.raises(ValueError, match="kind: checkpoint has 'a', this run has 'b'"):
        run(tmp_path, config=Tiny(kind="b"), resume=True)
    with pytest.raises(ValueError, match="dim: checkpoint has 3, this run has 4"):
        run(tmp_path, config=Tiny(dim=4), resume=True)
    with pytest.raises(ValueError, match="lr: checkpoint has 0.1, this run has 0.2"):
        run(tmp_path, meta={**META, "lr": 0.2}, resume=True)


def test_resume_refusals_are_usage_errors(tmp_path):
    """Another config, other settings and a corrupt ``train_state.npz`` are all ``RunRefused``
    (``python -m gl.train`` prints one line, no traceback); a config mismatch used to escape as a
    bare ``CheckpointError`` with a traceback. It still is a ``CheckpointError`` naming the file."""
    run(tmp_path, epochs=1)
    with pytest.raises(loop.RunRefused, match="--resume: .*train_state.npz.*kind: checkpoint has 'a'") as e:
        run(tmp_path, config=Tiny(kind="b"), resume=True)
    assert isinstance(e.value, checkpoint.CheckpointError)
    with pytest.raises(loop.RunRefused, match="lr: checkpoint has 0.1"):
        run(tmp_path, meta={**META, "lr": 0.2}, resume=True)
    (tmp_path / "train_state.npz").write_text("garbage")
    with pytest.raises(loop.RunRefused, match="--resume: .*train_state.npz: corrupt checkpoint"):
        run(tmp_path, resume=True)


def test_flag_types_check_kind_finiteness_and_both_ends():
    import argparse

    beta = loop.flag(float, 0, 1, hi_open=True)
    assert beta("0") == 0.0 and beta("0.999") == 0.999
    for bad in ("1", "-0.0001", "nan", "inf", "-inf", "x", ""):
        with pytest.raises(argparse.ArgumentTypeError, match=r"a finite number >= 0 and < 1"):
            beta(bad)
    count = loop.flag(int, 1)
    assert count("7") == 7
    for bad in ("0", "2.5", "1e3"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected an int >= 1, got"):
            count(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="> 0"):
        loop.flag(float, 0, lo_open=True)("0")
    with pytest.raises(TypeError, match="kind"):
        loop.flag(complex)


def test_lr_schedule_warms_up_then_decays_to_zero():
    """``lr_schedule(peak, warmup, total)``, the rate :func:`loop.adamw` trains with: 0 at
    step 0, ``peak`` at the warm-up's end, half the peak halfway through the cosine, 0 at
    ``total`` (chapter 12 reads the rate at a run's best step from it)."""
    s = loop.lr_schedule(1e-3, 100, 5000)
    assert float(s(0)) == 0.0 and float(s(5000)) == 0.0
    assert np.isclose(float(s(100)), 1e-3) and np.isclose(float(s(2550)), 5e-4)
    assert np.isclose(float(s(50)), 5e-4)  # linear warm-up
