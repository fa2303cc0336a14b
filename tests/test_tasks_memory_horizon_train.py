"""gl.tasks (loop, checkpoint) and gl.tasks.memory_horizon (train, evaluate): training lowers the loss, checkpoints round-trip
without pickle, resume continues, and every shipped checkpoint reproduces its recorded accuracy."""
from __future__ import annotations

import json
import os
import zipfile

import jax
import numpy as np
import optax
import pytest

from gl.tasks import checkpoint
from gl.tasks.memory_horizon import data
from gl.tasks.memory_horizon import evaluate
from gl.tasks.memory_horizon import model
from gl.tasks.memory_horizon import train

SMALL = dict(n_layer=1, d_model=16, d_qk=8, d_v=8, n_head=8, d_channel_mixing=32)
TINY_ARGS = ["--n-layer", "1", "--d-model", "8", "--d-qk", "8", "--d-v", "8", "--n-head", "8",
             "--d-channel-mixing", "16", "--length", "32", "--samples", "40", "--batch-size", "8",
             "--warmup-steps", "4", "--eval-every", "1", "--checkpoint-every", "1", "--no-progress"]


# one compiled loss and gradient of the SMALL model on 8 samples of length 32, shared by the tests
GRAD = jax.jit(jax.value_and_grad(train.loss_fn), static_argnums=3)


def test_a_few_steps_lower_the_loss():
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    ds = data.memory_horizon(0, n_samples=8, length=32)
    tx, _ = train.make_optimizer(params, lr=0.01, warmup_steps=1, total_steps=100)
    state = tx.init(params)
    grad = GRAD
    first = None
    for _ in range(30):
        loss, g = grad(params, ds.inputs, ds.targets, c)
        first = float(loss) if first is None else first
        updates, state = tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
    last = float(grad(params, ds.inputs, ds.targets, c)[0])
    assert last < 0.8 * first, (first, last)


def test_separate_transition_lr_leaves_frozen_alpha_beta():
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    ds = data.memory_horizon(0, n_samples=8, length=32)  # GRAD's shapes: no new compile
    tx, _ = train.make_optimizer(params, lr=0.01, warmup_steps=1, total_steps=10, transition_lr=0.0,
                                 transition_weight_decay=0.0)
    new, state = params, tx.init(params)
    for _ in range(2):  # the schedule's learning rate is 0 at step 0 (warm-up)
        g = GRAD(new, ds.inputs, ds.targets, c)[1]
        updates, state = tx.update(g, state, new)
        new = optax.apply_updates(new, updates)
    np.testing.assert_array_equal(new["layers"][0]["alpha"]["w"], params["layers"][0]["alpha"]["w"])
    assert not np.array_equal(new["layers"][0]["q"]["w"], params["layers"][0]["q"]["w"])


def test_checkpoint_round_trip_without_pickle(tmp_path):
    c = model.Config(transition="fixed", **SMALL)
    params = model.init(jax.random.key(5), c)
    path = tmp_path / "c.npz"
    checkpoint.save(path, params, c, [{"epoch": 1, "test_accuracy": 0.5}], {"command": "x"})
    with np.load(path, allow_pickle=False) as z:
        assert "config" in z.files and z["metrics"].dtype.kind == "U"
    p2, c2, info = model.load_checkpoint(path)
    assert c2 == c and info["metrics"] == [{"epoch": 1, "test_accuracy": 0.5}] and info["meta"] == {"command": "x"}
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, p2)
    tokens = np.arange(24).reshape(2, 12) % c.vocab_in
    np.testing.assert_array_equal(model.apply(params, tokens, c), model.apply(p2, tokens, c2))


def test_cli_writes_metrics_and_resume_matches_uninterrupted(tmp_path):
    full = tmp_path / "full"
    train.main(["memory-horizon", "--out", str(full), "--epochs", "3", *TINY_ARGS])
    lines = [json.loads(s) for s in open(full / "metrics.jsonl")]
    assert [m["epoch"] for m in lines] == [1, 2, 3] and "check_accuracy" in lines[-1]
    # an interrupted run of the same 3-epoch schedule, stopped after epoch 2, then resumed
    p_full, _, _ = checkpoint.load(full / "checkpoint.npz")
    stop = tmp_path / "stop"
    args = train.build_parser().parse_args(["memory-horizon", "--out", str(stop), "--epochs", "3", *TINY_ARGS])
    args.argv, calls = [], []
    orig = train.make_train_epoch

    def stopping(*a, **k):  # raise after two epochs, leaving the epoch-2 checkpoint behind
        fn = orig(*a, **k)

        def epoch(*x):
            if len(calls) == 2:
                raise KeyboardInterrupt
            calls.append(1)
            return fn(*x)
        return epoch

    train.make_train_epoch = stopping
    try:
        with pytest.raises(KeyboardInterrupt):
            train.train(args)
    finally:
        train.make_train_epoch = orig
    train.main(["memory-horizon", "--out", str(stop), "--epochs", "3", "--resume", *TINY_ARGS])
    p_res, _, info = checkpoint.load(stop / "checkpoint.npz")
    assert [m["epoch"] for m in info["metrics"]] == [1, 2, 3]
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), p_full, p_res)


def test_evaluate_cli(tmp_path, capsys):
    """The thin CLIs: ``python -m gl.train TASK ...`` and ``python -m gl.evaluate CHECKPOINT ...``
    (a path, or the name of a shipped checkpoint) keep today's flags."""
    import gl.evaluate
    import gl.train

    out = tmp_path / "run"
    gl.train.main(["memory-horizon", "--out", str(out), "--epochs", "1", *TINY_ARGS, "--warmup-steps", "2"])
    capsys.readouterr()
    res = gl.evaluate.main([str(out / "checkpoint.npz"), "--seed", "3", "--samples", "4"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["accuracy"] == res["accuracy"] and 0 <= res["accuracy"] <= 1
    counts = sum(b["count"] for b in res["by_span"])
    assert counts == res["n_tokens"] == 4 * 1024
    shipped = gl.evaluate.main(["data-s0", "--samples", "2"])
    assert shipped["transition"] == "data" and shipped["checkpoint"].endswith("data-s0/checkpoint.npz")
    with pytest.raises(SystemExit, match="TASK: expected one of \\['char-lm', 'memory-horizon'\\], got 'lm'"):
        gl.train.main(["lm", "--out", str(out)])


SHIPPED = model.shipped_checkpoints()


def test_shipped_checkpoints_present_and_small():
    expected = {"data-s0", "data-s1", "data-s2", "fixed-s0", "fixed-s1", "fixed-s2", "real-s0", "stable-exp-s0",
                "long-data-s0", "long-data-s1", "long-data-s2",
                "long-fixed-s0", "long-fixed-s1", "long-fixed-s2",
                "long2k-data-s0", "long2k-data-s1", "long2k-data-s2",
                "long2k-fixed-s0", "long2k-fixed-s1", "long2k-fixed-s2"}
    assert expected <= set(SHIPPED)
    for path in SHIPPED.values():
        assert os.path.getsize(path) < 2 * 2**20
        assert zipfile.is_zipfile(path)


# chapter 7 re-evaluates every 300-epoch checkpoint the same way under nbval; here one per
# transition and budget is fast, the rest run in make test-all
FAST_SHIPPED = ("data-s0", "fixed-s0", "long-data-s0", "long-fixed-s0", "long2k-data-s0")


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST_SHIPPED else pytest.mark.slow)
                                  for n in sorted(SHIPPED)])
def test_shipped_checkpoint_reproduces_recorded_accuracy(name):
    params, config, info = model.load_checkpoint(SHIPPED[name])
    meta, final = info["meta"], info["metrics"][-1]
    # NAME is TRANSITION-sSEED (Table 3's 300 epochs), long-TRANSITION-sSEED (1,000 epochs)
    # or long2k-TRANSITION-sSEED (2,000 epochs)
    variant, seed = name.rsplit("-s", 1)
    budget = next((b for b in ("long2k-", "long-") if variant.startswith(b)), "")
    assert config.transition == variant.removeprefix(budget) and meta["seed"] == int(seed)
    assert meta["epochs"] == {"": 300, "long-": 1000, "long2k-": 2000}[budget]
    ds = data.memory_horizon(meta["check_seed"], n_samples=meta["check_samples"], length=meta["length"])
    acc = evaluate.report(params, config, ds)["accuracy"]
    # GPU (training) vs CPU (here) float noise can flip near-tied argmaxes: 0.2 % of 32768 tokens
    assert abs(acc - final["check_accuracy"]) <= 2e-3, (acc, final["check_accuracy"])


BAD_FLAGS = [("--batch-size", "0"), ("--batch-size", "-3"), ("--lr", "nan"), ("--lr", "inf"),
             ("--lr", "0"), ("--epochs", "0"), ("--b1", "1"), ("--b2", "-0.1"),
             ("--weight-decay", "-1"), ("--transition-lr", "nan"), ("--test-fraction", "1"),
             ("--seed", "-1"), ("--data-seed", "2.5"), ("--warmup-steps", "-1"),
             ("--eval-every", "0"), ("--checkpoint-every", "0"), ("--samples", "0"),
             ("--length", "0"), ("--max-output", "0"), ("--n-layer", "0"), ("--d-model", "x")]


@pytest.mark.parametrize("flag,value", BAD_FLAGS)
def test_cli_numeric_flags_are_checked_by_argparse(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        train.main(["memory-horizon", "--out", str(tmp_path / "r"), "--epochs", "1", *TINY_ARGS,
                    flag, value])
    assert e.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args,words", [
    (["--d-qk", "12"], "d_qk: expected a multiple of n_head"),
    (["--batch-size", "64"], "--batch-size: expected at most"),
    (["--resume", "--overwrite"], "not allowed with argument"),
])
def test_cli_cross_flag_errors_are_usage_errors(tmp_path, capsys, args, words):
    with pytest.raises(SystemExit) as e:
        train.main(["memory-horizon", "--out", str(tmp_path / "r"), "--epochs", "1", *TINY_ARGS, *args])
    assert e.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("flag,value", [("--samples", "0"), ("--batch-size", "0"), ("--seed", "-2")])
def test_evaluate_cli_flags_are_checked(capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        evaluate.main(["data-s0", flag, value])
    assert e.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


def test_cli_resume_and_rerun_protect_the_run_directory(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match=f"{out}.*no checkpoint"):
        train.main(["memory-horizon", "--out", str(out), "--epochs", "1", "--resume", *TINY_ARGS])
    train.main(["memory-horizon", "--out", str(out), "--epochs", "1", *TINY_ARGS])
    with pytest.raises(FileExistsError, match="checkpoint.npz.*metrics.jsonl.*--overwrite"):
        train.main(["memory-horizon", "--out", str(out), "--epochs", "1", *TINY_ARGS])
    with pytest.raises(ValueError, match="n_layer: checkpoint has 1, this run has 2"):
        train.main(["memory-horizon", "--out", str(out), "--epochs", "1", "--resume", *TINY_ARGS,
                    "--n-layer", "2"])
    with pytest.raises(ValueError, match="lr: checkpoint has 0.0025, this run has 0.001"):
        train.main(["memory-horizon", "--out", str(out), "--epochs", "1", "--resume", *TINY_ARGS,
                    "--lr", "0.001"])


def test_evaluate_cli_checks_structure_against_config(tmp_path, capsys):
    """A checkpoint that does not fit its config, or a corrupt one, is a usage error naming the
    file (exit 2, as argparse), not a traceback."""
    c = model.Config(**SMALL)
    params = model.init(jax.random.key(0), c)
    del params["layers"][0]["q"]
    checkpoint.save(tmp_path / "c.npz", params, c)
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(tmp_path / "c.npz"), "--samples", "1"])
    assert e.value.code == 2
    assert "c.npz: parameters do not match the config: missing ['layers/0/q/w'" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_text("garbage")
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(tmp_path / "bad.npz")])
    assert e.value.code == 2 and "bad.npz: corrupt checkpoint" in capsys.readouterr().err
