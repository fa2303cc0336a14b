"""gl.tasks.char_lm.train / evaluate / ship: the CLIs, resume, and the shipped checkpoints."""
from __future__ import annotations

import json

import pytest

import gl.evaluate
import gl.train
from gl.tasks import checkpoint
from gl.tasks.char_lm import evaluate, ship

TINY = ["--n-layer", "1", "--n-head", "2", "--d-model", "16", "--d-qk", "8", "--context", "8",
        "--batch-size", "4", "--warmup", "1", "--eval-windows", "8", "--no-progress"]


def resumed_equals(tmp_path, args, full):
    """A run stopped after its first epoch and resumed ends where the uninterrupted one ends."""
    from gl.tasks.char_lm import train

    real = train.make_epoch

    def stop_second(*a, **k):
        epoch, calls = real(*a, **k), []

        def wrapped(*b):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return epoch(*b)
        return wrapped

    part = tmp_path / "part"
    train.make_epoch = stop_second
    try:
        with pytest.raises(KeyboardInterrupt):
            gl.train.main(args + ["--out", str(part)])
    finally:
        train.make_epoch = real
    assert len((part / "metrics.jsonl").read_text().splitlines()) == 1
    resumed = gl.train.main(args + ["--out", str(part), "--resume"])
    return resumed["step"] == 4 and resumed["val_loss_full"] == pytest.approx(full["val_loss_full"], abs=1e-5)


def test_train_resume_and_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["char-lm", "--model", "gateloop", "--iters", "4", "--eval-interval", "2", *TINY]
    full = gl.train.main(args + ["--out", str(out)])
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [2, 4] and "val_loss_full" in lines[-1]
    assert abs(full["val_loss_full"] - lines[-1]["val_loss_full"]) == 0
    assert resumed_equals(tmp_path, args, full)
    capsys.readouterr()
    res = gl.evaluate.main([str(out / "checkpoint.npz"), "--split", "val"])
    assert res["model"] == "gateloop" and res["characters"] == (111_540 - 1) // 8 * 8
    assert abs(res["loss"] - full["val_loss_full"]) < 1e-4
    res = gl.evaluate.main([str(out / "checkpoint.npz"), "--windows", str(evaluate.CHECK_WINDOWS)])
    assert abs(res["loss"] - full["check_loss"]) < 1e-4
    assert json.loads(capsys.readouterr().out.split("}\n")[0] + "}")["split"] == "val"


@pytest.mark.parametrize("argv, match", [
    (["--model", "lstm"], r"invalid choice: 'lstm' \(choose from .*gateloop.*transformer"),
    (["--lr", "0"], r"--lr: expected a finite number > 0"),
    (["--iters", "10", "--eval-interval", "3"], "multiple of --eval-interval"),
    (["--d-qk", "6"], "d_qk"),
    (["--dropout", "1"], "--dropout: expected"),
    (["--scan-impl", "cuda"], "invalid choice: 'cuda'"),
])
def test_bad_flags(tmp_path, capsys, argv, match):
    with pytest.raises(SystemExit):
        gl.train.main(["char-lm", "--out", str(tmp_path / "x"), *argv])
    import re
    assert re.search(match, capsys.readouterr().err)


def test_shipped_checkpoints_reevaluate(capsys):
    """Every shipped checkpoint's loss on the first CHECK_WINDOWS validation windows is the
    one recorded at the end of its training, within 0.01 (the whole split: slow test below)."""
    names = evaluate.shipped()
    assert {n.rsplit("-s", 1)[0] for n in names} == {
        "lm-gateloop", "lm-fixed", "lm-transformer",  # small, float32
        "lm-medium-gateloop", "lm-medium-transformer"}  # medium, bfloat16
    for name, path in names.items():
        s = ship.run_summary(path.rsplit("/", 1)[0])
        res = gl.evaluate.main([name, "--split", "val", "--windows", str(evaluate.CHECK_WINDOWS)])
        assert abs(res["loss"] - s["check_loss"]) < 0.01, name


@pytest.mark.slow
def test_shipped_checkpoints_whole_val_split():
    summary = json.loads((evaluate.shipped_root() / "summary.json").read_text())
    for run in summary["runs"]:
        res = gl.evaluate.main([run["name"], "--split", "val"])
        assert abs(res["loss"] - run["val_loss_full"]) < 0.01, run["name"]


def test_evaluate_dispatch_keeps_memory_horizon_names():
    from gl.tasks.memory_horizon import model as mh

    assert not set(evaluate.shipped()) & set(mh.shipped_checkpoints())
    assert gl.evaluate.task_of("fixed-s0") == "memory-horizon"
    assert gl.evaluate.task_of("lm-fixed-s0") == "char-lm"


def test_iters_note_compares_with_nanogpt_of_the_same_size():
    from gl.tasks.char_lm import model as cmodel
    from gl.tasks.char_lm.train import iters_note

    def cfg(n_layer, d_model, context):
        return cmodel.Config(vocab="ab", n_layer=n_layer, n_head=2, d_model=d_model,
                             d_qk=d_model // 2, context=context)

    assert iters_note(cfg(4, 128, 64), 2000) == ""
    assert iters_note(cfg(6, 192, 128), 2500) == ""  # the medium runs were flagged wrongly
    assert iters_note(cfg(6, 384, 256), 5000) == ""  # and so were the GPU runs
    assert iters_note(cfg(4, 128, 64), 500) == "trained 500 iterations, not nanoGPT's 2000"
    assert "no nanoGPT run" in iters_note(cfg(2, 32, 16), 100)


def test_accum_takes_the_same_steps_in_micro_batches(tmp_path):
    """``--accum N``: a batch of 8 in 2 or 4 micro-batches gives the same updates as one batch
    of 8 (no dropout: the same windows; float32 sums in another order: 1e-5), and an evaluation
    batch of 3 the same validation loss as 128; a non-divisor is refused."""
    args = ["char-lm", "--model", "gateloop", "--iters", "4", "--eval-interval", "2", *TINY,
            "--batch-size", "8"]
    one = gl.train.main(args + ["--out", str(tmp_path / "a1")])
    for n in (2, 4):
        got = gl.train.main(args + ["--accum", str(n), "--eval-batch", "3",
                                    "--out", str(tmp_path / f"a{n}")])
        assert got["val_loss_full"] == pytest.approx(one["val_loss_full"], abs=1e-5)
        meta = checkpoint.load(tmp_path / f"a{n}" / "checkpoint.npz")[2]["meta"]
        assert meta["accum"] == n and meta["eval_batch"] == 3  # recorded with the run
        assert got["train_loss"] == pytest.approx(one["train_loss"], abs=1e-5)
    with pytest.raises(SystemExit):
        gl.train.main(args + ["--accum", "3", "--out", str(tmp_path / "a3")])


def test_evaluate_refuses_another_vocabulary(tmp_path, capsys):
    """A char-lm checkpoint trained on other text is a usage error naming both vocabularies."""
    import jax

    from gl.tasks.char_lm import model as cmodel
    config = cmodel.Config(vocab="ab", mixer="gateloop", n_layer=1, n_head=1, d_model=8,
                           d_qk=4, d_ff=16, context=8)
    path = tmp_path / "checkpoint.npz"
    checkpoint.save(str(path), cmodel.init(jax.random.key(0), config), config, [],
                    {"task": "char-lm"})
    with pytest.raises(SystemExit):
        evaluate.main([str(path)])
    assert "its vocabulary (2 symbols) is not tiny Shakespeare's (65)" in capsys.readouterr().err
