"""The distilled device results the book shows are reproduced from the raw device output kept
in experiments/bench_logs (experiments/distill_device.py), and say what was not finished."""
from __future__ import annotations

import importlib.util
import json
import pathlib
import tarfile

ROOT = pathlib.Path(__file__).parents[1]
RAW = ROOT / "experiments" / "bench_logs" / "device_2026-12-05_h200_lm_mh.tgz"
_spec = importlib.util.spec_from_file_location("distill_device",
                                               ROOT / "experiments" / "distill_device.py")
distill_device = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(distill_device)


def test_distilled_json_reproduces_from_raw(tmp_path):
    with tarfile.open(RAW) as t:
        t.extractall(tmp_path / "raw", filter="data")
    (tmp_path / "assets" / "char_lm").mkdir(parents=True)
    (tmp_path / "assets" / "checkpoints").mkdir()
    distill_device.main([str(tmp_path / "raw"), "--date", "2026-12-05", "--jax", "0.11.2",
                         "--assets", str(tmp_path / "assets")])
    for rel in ("char_lm/gpu_runs.json", "checkpoints/study_gpu.json"):
        got = json.loads((tmp_path / "assets" / rel).read_text())
        assert got == json.loads((ROOT / "gl" / "assets" / rel).read_text()), rel


def test_stopped_runs_are_marked():
    lm = json.loads((ROOT / "gl/assets/char_lm/gpu_runs.json").read_text())
    assert "H200" in lm["provenance"]["device"]
    for run in lm["runs"].values():
        assert run["status"] == "stopped" and run["iters_reached"] < 5000
        assert "--iters 5000" in run["command"] and "--dropout 0.2" in run["command"]
        assert round(run["best_val_loss"], 5) == min(c[1] for c in run["curve"])
