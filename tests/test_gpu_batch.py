"""experiments/gpu_batch.py: jobs run at most N at once, stop at the deadline, and are recorded."""
from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

_spec = importlib.util.spec_from_file_location(
    "gpu_batch", pathlib.Path(__file__).parents[1] / "experiments" / "gpu_batch.py")
gpu_batch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_batch)


def test_deadline_stops_and_min_left_holds_back(tmp_path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# comment\n\nquick\techo hi\nfail\texit 3\nslow\tsleep 30\n"
                    "wait\tsleep 1.5\nlate\techo never\n")
    # quick and fail end at once; slow and wait then hold both slots until 1.5 s, when
    # fewer than min_left = 2 s remain before the deadline: late never starts
    s = gpu_batch.run(gpu_batch.read_jobs(jobs), str(tmp_path / "out"), n_jobs=2,
                      deadline=3.0, min_left=2.0, poll=0.1)
    r = s["jobs"]
    assert r["quick"]["status"] == "done" and r["quick"]["returncode"] == 0
    assert r["fail"]["status"] == "failed" and r["fail"]["returncode"] == 3
    assert r["slow"]["status"] == "stopped" and r["slow"]["wall_s"] < 15
    assert r["wait"]["status"] == "done"
    assert r["late"]["status"] == "not started"
    assert s["elapsed_s"] < 15
    assert (tmp_path / "out" / "quick.log").read_text() == "hi\n"
    assert json.loads((tmp_path / "out" / "batch.json").read_text())["jobs"] == r


def test_bad_jobs_file(tmp_path):
    bad = tmp_path / "jobs.txt"
    bad.write_text("no-tab-here\n")
    with pytest.raises(SystemExit, match="expected NAME<TAB>COMMAND"):
        gpu_batch.read_jobs(bad)
    bad.write_text("a\techo 1\na\techo 2\n")
    with pytest.raises(SystemExit, match="unique"):
        gpu_batch.read_jobs(bad)
