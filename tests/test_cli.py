"""The command lines a researcher types first: help is help (exit 0), and a run directory that
does not fit the flags is a one-line usage error, not a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

import gl.evaluate
import gl.train
from gl.tasks import TASKS


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_train_help_lists_the_tasks(flag, capsys):
    assert gl.train.main([flag]) is None
    out = capsys.readouterr().out
    assert all(task in out for task in TASKS) and "TASK --help" in out


def test_train_without_a_task_is_a_usage_error():
    with pytest.raises(SystemExit, match=r"error: TASK: expected one of .*got 'nope'"):
        gl.train.main(["nope"])


def test_a_refused_run_directory_is_a_usage_error(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit, match=r"memory-horizon: error: .* is not empty"):
        gl.train.main(["memory-horizon", "--out", str(tmp_path), "--epochs", "1"])
    with pytest.raises(SystemExit, match=r"error: --resume: .* no checkpoint"):
        gl.train.main(["memory-horizon", "--out", str(tmp_path / "new"), "--resume"])


def test_refusals_print_no_traceback(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("{}\n")
    r = subprocess.run([sys.executable, "-m", "gl.train", "memory-horizon", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]  # after the progress bar's first line
    assert last.startswith("python -m gl.train memory-horizon: error:"), r.stderr


def test_evaluate_help_names_both_tasks(capsys):
    with pytest.raises(SystemExit) as e:
        gl.evaluate.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "Memory Horizon" in out and "lm-gateloop-s0" in out and "--split" in out
    # the README sends readers here for the shipped names: every one is listed
    from gl.tasks.char_lm.evaluate import shipped
    from gl.tasks.memory_horizon.model import shipped_checkpoints
    assert all(name in out for name in [*shipped(), *shipped_checkpoints()]), out
    assert "long2k-data-s0" in out and "lm-medium-gateloop-s0" in out


def test_evaluate_unknown_name_lists_both_tasks_shipped_names(capsys):
    with pytest.raises(SystemExit) as e:
        gl.evaluate.main(["no-such-checkpoint"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "'data-s0'" in err and "'lm-gateloop-s0'" in err, err


def test_task_help_shows_defaults():
    """Each task's --help gives the default of every flag that has a help text."""
    from gl.tasks.char_lm.train import build_parser as lm_parser
    from gl.tasks.memory_horizon.train import build_parser as mh_parser
    assert "(default: gateloop)" in lm_parser().format_help()
    assert "(default: 1024)" in mh_parser().format_help()


def test_evaluate_finds_the_checkpoint_after_options(capsys):
    """Options may come before CHECKPOINT: ``--split val lm-gateloop-s0`` once read 'val' as
    the checkpoint. Every option of either task that takes a value is known to the
    pre-parser (a new option must be added to VALUE_OPTIONS; this test reads the parsers)."""
    import re

    from gl.tasks.char_lm import evaluate as lm_eval
    from gl.tasks.memory_horizon import evaluate as mh_eval

    res = gl.evaluate.main(["--split", "val", "--windows", "2", "lm-gateloop-s0"])
    assert res["windows"] == 2 and res["model"] == "gateloop"
    res = gl.evaluate.main(["--samples", "2", "--n-boot", "5", "data-s0"])
    capsys.readouterr()
    assert res["samples"] == 2 and res["checkpoint"].endswith("checkpoint.npz")
    for module in (lm_eval, mh_eval):
        with open(module.__file__) as f:
            options = set(re.findall(r'add_argument\("(--[a-z-]+)"', f.read()))
        assert options <= set(gl.evaluate.VALUE_OPTIONS), module.__name__


def test_evaluate_a_corrupt_or_foreign_checkpoint_is_a_usage_error(tmp_path, capsys):
    """Both tasks' evaluate commands report a checkpoint they cannot use in one line naming the
    file (exit 2, as argparse), as ``gl.tasks.char_lm.generate`` does; it was a traceback."""
    import jax

    from gl.tasks import checkpoint
    from gl.tasks.char_lm import evaluate as ceval
    from gl.tasks.memory_horizon import model as mh

    (tmp_path / "bad.npz").write_text("garbage")
    with pytest.raises(SystemExit) as e:
        gl.evaluate.main([str(tmp_path / "bad.npz")])
    assert e.value.code == 2 and "bad.npz: corrupt checkpoint" in capsys.readouterr().err
    c = mh.Config(n_layer=1, d_model=8, d_qk=4, d_v=4, n_head=2, d_channel_mixing=8)
    checkpoint.save(tmp_path / "m.npz", mh.init(jax.random.key(0), c), c, [], {})
    with pytest.raises(SystemExit) as e:
        ceval.main([str(tmp_path / "m.npz")])
    assert e.value.code == 2 and "m.npz: config:" in capsys.readouterr().err
