"""The study knobs of ``python -m gl.train memory-horizon`` and experiments/memory_horizon_study.py."""
import json
import os
import sys

import pytest

from gl.tasks.memory_horizon import model
from gl.tasks.memory_horizon import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--n-layer", "1", "--d-model", "8", "--d-qk", "8", "--d-v", "8", "--n-head", "8",
        "--d-channel-mixing", "16", "--length", "32", "--samples", "40", "--batch-size", "8",
        "--warmup-steps", "2", "--eval-every", "1", "--checkpoint-every", "1", "--no-progress"]


def _run(tmp_path, name, *extra):
    out = tmp_path / name
    train.main(["memory-horizon", "--out", str(out), "--epochs", "2", *TINY, *extra])
    return model.load_checkpoint(out / "checkpoint.npz")


def test_curriculum_trains_each_stage_on_its_resets(tmp_path):
    _, _, cur = _run(tmp_path, "cur", "--curriculum", "8,3")
    _, _, r8 = _run(tmp_path, "r8", "--resets-per-sample", "8")
    _, _, r3 = _run(tmp_path, "r3")
    assert cur["meta"]["train_resets"] == [8, 3] and r3["meta"]["train_resets"] == [3]
    loss = lambda info, e: info["metrics"][e]["test_loss"]
    assert loss(cur, 0) == loss(r8, 0) != loss(r3, 0)  # stage 1: 8 resets
    assert loss(cur, 1) != loss(r8, 1)  # stage 2: other data


def test_magnitude_and_phase_pick_the_gate(tmp_path):
    _, config, _ = _run(tmp_path, "se", "--magnitude", "stable-exp", "--phase", "off")
    assert config.transition == "stable-exp-real"


@pytest.mark.parametrize("args,words", [
    (["--transition", "fixed", "--phase", "off"], "--magnitude/--phase: expected --transition data"),
    (["--curriculum", "8,x"], "argument --curriculum: expected comma-separated ints"),
    (["--curriculum", "8,3", "--resets-per-sample", "5"], "drop --resets-per-sample"),
    (["--curriculum", "3,3,3"], "--curriculum: expected at most --epochs 2 stages"),
    (["--resets-per-sample", "40"], "expected at most --length 32 resets"),
    (["--magnitude", "relu"], "argument --magnitude: invalid choice"),
])
def test_study_knobs_are_checked(tmp_path, capsys, args, words):
    with pytest.raises(SystemExit) as e:
        train.main(["memory-horizon", "--out", str(tmp_path / "r"), "--epochs", "2", *TINY,
                    *args])
    assert e.value.code == 2 and words in capsys.readouterr().err


def _study(monkeypatch=None):
    """experiments/memory_horizon_study.py as a module; with ``monkeypatch``, the processes it
    starts can import ``gl`` from this checkout."""
    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    try:
        import memory_horizon_study as study
    finally:
        sys.path.pop(0)
    if monkeypatch is not None:
        env_pp = os.environ.get("PYTHONPATH")
        monkeypatch.setenv("PYTHONPATH", ROOT + (os.pathsep + env_pp if env_pp else ""))
    return study


TINY_FLAGS = " ".join(TINY[:-1] + ["--epochs", "1"])  # --no-progress: the study adds it


# end to end (30 s); the command construction is checked fast above; make test-all runs it
@pytest.mark.slow
def test_study_script_runs_two_seeds_and_distils_them(tmp_path, monkeypatch):
    study = _study(monkeypatch)
    res = study.main(["--out", str(tmp_path), "--config", f"tiny={TINY_FLAGS}",
                      "--seeds", "0", "1", "--jobs", "2", "--eval-samples", "2"])
    assert [r["seed"] for r in res] == [0, 1]
    for r in res:
        assert r["returncode"] == 0, r.get("error")
        saved = json.loads((tmp_path / f"tiny-s{r['seed']}.json").read_text())
        assert saved == json.loads(json.dumps(r))
        h = saved["horizon"]
        assert h["lo"] <= h["horizon"] <= h["hi"] and 0 <= r["accuracy"] <= 1
        assert r["steps"] == 4 and r["device"] and r["jax_version"]
        assert "gl.train memory-horizon" in r["train_command"]
    assert res[0]["accuracy"] != res[1]["accuracy"] or res[0]["by_span"] != res[1]["by_span"]
    assert "--overwrite" in res[0]["train_command"] and "--resume" not in res[0]["train_command"]
    with pytest.raises(SystemExit):
        study.main(["--out", str(tmp_path), "--config", "bad=--seed 3"])


def test_study_resume_continues_runs_that_have_a_training_state(tmp_path, monkeypatch):
    """``--resume``: ``gl.train ... --resume`` where ``train_state.npz`` is there, else a fresh run."""
    study = _study()
    seen = []

    class Done:
        returncode = 1  # stop after the training command: no evaluation

    def fake_run(cmd, **kw):
        seen.append(cmd)
        return Done()

    monkeypatch.setattr(study.subprocess, "run", fake_run)
    (tmp_path / "a-s0").mkdir()
    (tmp_path / "a-s0" / "train_state.npz").write_bytes(b"")
    study.main(["--out", str(tmp_path), "--config", "a=--epochs 9", "--seeds", "0", "1",
                "--resume"])
    study.main(["--out", str(tmp_path), "--config", "a=--epochs 9", "--seeds", "0"])
    flags = [("--resume" in c, "--overwrite" in c) for c in seen]
    assert flags == [(True, False), (False, True), (False, True)]


@pytest.mark.slow
def test_study_resume_end_to_end(tmp_path, monkeypatch):
    """A finished tiny run resumed through the study ends where it ended (about 20 s)."""
    study = _study(monkeypatch)
    args = ["--out", str(tmp_path), "--config", f"tiny={TINY_FLAGS}", "--eval-samples", "2"]
    first = study.main(args)
    again = study.main(args + ["--resume"])
    assert again[0]["returncode"] == 0, again[0].get("error")
    assert "--resume" in again[0]["train_command"]
    assert (again[0]["steps"], again[0]["accuracy"]) == (4, first[0]["accuracy"])
