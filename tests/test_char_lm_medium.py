"""The medium char-lm runs of issue 31 (a larger CPU size of our choosing, at which nanoGPT's
code was also run: 6 × 6 heads × 192, context 128, batch 32, 2,500 iterations), shipped as
checkpoints with bfloat16 parameters: each is the anchor configuration, within 8 MB, its
summary agrees with its own curve, and a rerun of the first training (2026-12-05) gave the
same curve."""
from __future__ import annotations

import json
import os
from importlib import resources

import jax
import pytest

import gl.evaluate
from gl.tasks.char_lm import evaluate as ceval
from gl.tasks.char_lm import model as cmodel
from gl.tasks.char_lm import ship

ROOT = resources.files("gl") / "assets" / "char_lm_medium"


def _runs():
    summary = json.loads((ROOT / "summary.json").read_text())
    out = []
    for entry in summary["runs"]:
        path = ceval.shipped("medium")[entry["name"]]
        lines = (ROOT / entry["name"] / "metrics.jsonl").read_text().splitlines()
        out.append((entry, path, [json.loads(x) for x in lines if x.strip()]))
    return summary, out


def test_medium_runs_are_the_anchor_configuration_in_bfloat16():
    summary, runs = _runs()
    assert summary["nanogpt_best_val_loss"] == 1.525
    assert sorted(e["name"] for e, _, _ in runs) == ["lm-medium-gateloop-s0",
                                                     "lm-medium-transformer-s0"]
    counts = []
    for entry, path, _ in runs:
        params, config, info = cmodel.load_checkpoint(path)
        assert (config.n_layer, config.n_head, config.d_model, config.context) == (6, 6, 192, 128)
        assert "--batch-size 32" in entry["command"] and "--iters 2500" in entry["command"]
        shapes = jax.eval_shape(lambda c=config: cmodel.init(jax.random.key(0), c))
        assert cmodel.n_params(shapes) == cmodel.n_params(params) == entry["n_params"]
        counts.append(entry["n_params"])
        assert info["meta"]["param_storage"].startswith("bfloat16")
        assert os.path.getsize(path) < 8e6  # the limit per checkpoint
        for key in ("hardware", "date", "jax_version", "command"):
            assert entry[key], key
    assert max(counts) / min(counts) < 1.05  # matched parameters


def test_medium_summaries_follow_from_the_curves():
    summary, runs = _runs()
    for entry, path, metrics in runs:
        assert ship.run_summary(os.path.dirname(path)) == {k: v for k, v in entry.items()
                                                          if k != "name"}
        assert metrics[-1]["step"] == entry["iters"] == 2500
        assert entry["best_val_loss"] == min(m["val_loss"] for m in metrics)
        assert entry["val_loss_full"] == metrics[-1]["val_loss_full"]
        model = summary["models"][entry["model"]]
        assert model["best_val_loss_mean"] == entry["best_val_loss"]  # one seed each


def test_the_rerun_reproduced_the_first_training():
    """The same command on the same 2-core CPU two days apart: the same losses at every
    evaluation (XLA on a CPU is deterministic for a fixed program and thread count)."""
    first = json.loads((ROOT / "first_run_2026-12-05.json").read_text())["runs"]
    _, runs = _runs()
    for entry, _, metrics in runs:
        old = first[entry["model"]]
        assert old["command"].split("--out")[0] == entry["command"].split("--out")[0]
        assert [[m["step"], m["val_loss"]] for m in metrics] == [c[:2] for c in old["curve"]]
        assert old["val_loss_full"] == entry["val_loss_full"]


@pytest.mark.slow
def test_medium_checkpoints_whole_val_split():
    summary = json.loads((ROOT / "summary.json").read_text())
    for run in summary["runs"]:
        res = gl.evaluate.main([run["name"], "--split", "val"])
        assert abs(res["loss"] - run["val_loss_full"]) < 0.01, run["name"]
