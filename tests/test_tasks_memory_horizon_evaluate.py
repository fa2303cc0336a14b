"""``python -m gl.evaluate NAME --seed S``: accuracy, horizon with interval, accuracy by span."""
import json
import pathlib
import shutil

import pytest

import gl.evaluate
from gl.tasks.memory_horizon import model


def test_shipped_name_prints_accuracy_horizon_and_by_span(capsys):
    res = gl.evaluate.main(["data-s0", "--seed", "977", "--samples", "3", "--n-boot", "50"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(res))
    h = printed["horizon"]
    assert h["lo"] <= h["horizon"] <= h["hi"] and h["n_boot"] == 50 and h["seed"] == 0
    assert 0 <= printed["accuracy"] <= 1
    assert sum(b["count"] for b in printed["by_span"]) == printed["n_tokens"] == 3 * 1024
    assert "nan" not in json.dumps(printed).lower()


def test_run_directory_is_accepted(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model.shipped_checkpoints()["fixed-s0"], run / "checkpoint.npz")
    res = gl.evaluate.main([str(run), "--seed", "5", "--samples", "2", "--n-boot", "20"])
    assert res["transition"] == "fixed" and res["checkpoint"].endswith("checkpoint.npz")
    with pytest.raises(SystemExit):
        gl.evaluate.main([str(tmp_path), "--samples", "1"])
    assert "holds no checkpoint.npz" in capsys.readouterr().err


def test_unknown_name_lists_the_shipped_ones(capsys):
    with pytest.raises(SystemExit) as e:
        gl.evaluate.main(["data-s99"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "data-s99" in err and "'data-s0'" in err and "'fixed-s4'" in err


def test_training_data_seed_is_refused(capsys):
    path = model.shipped_checkpoints()["data-s0"]
    data_seed = model.load_checkpoint(path)[2]["meta"]["data_seed"]
    with pytest.raises(SystemExit) as e:
        gl.evaluate.main(["data-s0", "--seed", str(data_seed), "--samples", "1"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "training data seed" in err and "--seed" in err


FRESH = json.loads((pathlib.Path(model.shipped_checkpoints()["data-s0"]).parents[1]
                    / "fresh_eval.json").read_text())


def test_fresh_eval_covers_every_shipped_checkpoint_with_provenance():
    """``gl/assets/checkpoints/fresh_eval.json`` (``experiments/fresh_eval.py``), read by chapter 7."""
    assert set(FRESH["runs"]) == set(model.shipped_checkpoints())
    assert (FRESH["seed"], FRESH["samples"]) == (977, 200)
    assert {"command", "each", "hardware", "jax_version", "date"} <= set(FRESH["provenance"])
    for name, r in FRESH["runs"].items():
        assert name.removeprefix("long2k-").removeprefix("long-").startswith(r["transition"])
        assert r["n_tokens"] == 200 * 1024
        assert r["horizon"]["lo"] <= r["horizon"]["horizon"] <= r["horizon"]["hi"]


@pytest.mark.parametrize("budget,epochs", [("long", 1000), ("long2k", 2000)])
def test_the_shipped_long_runs_are_the_gpu_study_s_runs(budget, epochs):
    """``long-data-sS`` / ``long-fixed-sS`` are the study's ``long-sS`` / ``long-fixed-sS``
    (1,000 epochs), ``long2k-data-sS`` / ``long2k-fixed-sS`` its ``long2k-sS`` /
    ``long2k-fixed-sS`` (2,000 epochs; ``study_gpu.json``), evaluated there on the GPU that
    trained them and here on a CPU, on the same fresh set: the same accuracy up to float
    noise flipping near-tied argmaxes (0.002, 410 of 204,800 tokens), the same horizon
    within a token."""
    study = json.loads((pathlib.Path(model.shipped_checkpoints()["data-s0"]).parents[1]
                        / "study_gpu.json").read_text())["runs"]
    long_names = sorted(n for n in FRESH["runs"] if n.startswith(budget + "-"))
    assert long_names == [f"{budget}-{t}-s{s}" for t in ("data", "fixed") for s in range(3)]
    for name in long_names:
        gpu = study[name.replace(f"{budget}-data", budget)]
        assert gpu["status"] == "done" and gpu["epochs_reached"] == epochs
        cpu = FRESH["runs"][name]
        assert abs(cpu["accuracy"] - gpu["fresh_accuracy"]) < 2e-3, name
        assert abs(cpu["horizon"]["horizon"] - gpu["horizon"]["horizon"]) <= 1, name


@pytest.mark.slow
def test_fresh_eval_is_reproduced_by_the_cli(capsys):
    """One entry recomputed with the command the file names (10-17 s; make test-all): accuracy to 1e-6."""
    res = gl.evaluate.main(["fixed-s4", "--seed", "977", "--samples", "200"])
    capsys.readouterr()
    want = FRESH["runs"]["fixed-s4"]
    assert res["accuracy"] == pytest.approx(want["accuracy"], abs=1e-6)
    assert res["horizon"] == want["horizon"]
