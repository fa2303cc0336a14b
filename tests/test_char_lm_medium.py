"""The medium char-lm runs of issue 31 (nanoGPT's larger CPU anchor: 6 × 6 heads × 192,
context 128, batch 32, 2,500 iterations), shipped as metrics without checkpoints: each
run's summary agrees with its own curve, its configuration and its parameter count."""
from __future__ import annotations

import json
from importlib import resources

import jax

from gl.tasks.char_lm import model as cmodel

ROOT = resources.files("gl") / "assets" / "char_lm_medium"


def _runs():
    summary = json.loads((ROOT / "summary.json").read_text())
    out = []
    for entry in summary["runs"]:
        run = json.loads((ROOT / entry["name"] / "run.json").read_text())
        lines = (ROOT / entry["name"] / "metrics.jsonl").read_text().splitlines()
        out.append((entry, run, [json.loads(x) for x in lines if x.strip()]))
    return summary, out


def test_medium_runs_are_the_anchor_configuration():
    summary, runs = _runs()
    assert summary["nanogpt_best_val_loss"] == 1.525
    assert sorted(e["model"] for e, _, _ in runs) == ["gateloop", "transformer"]
    counts = []
    for entry, run, metrics in runs:
        config = cmodel.Config.from_json(json.dumps(run["config"]))
        assert (config.n_layer, config.n_head, config.d_model, config.context) == (6, 6, 192, 128)
        assert "--batch-size 32" in run["command"] and "--iters 2500" in run["command"]
        shapes = jax.eval_shape(lambda c=config: cmodel.init(jax.random.key(0), c))
        assert cmodel.n_params(shapes) == run["n_params"]
        counts.append(run["n_params"])
        for key in ("hardware", "date", "jax_version", "command"):
            assert run[key], key
    assert max(counts) / min(counts) < 1.05  # matched parameters


def test_medium_summaries_follow_from_the_curves():
    summary, runs = _runs()
    for entry, run, metrics in runs:
        assert {k: run[k] for k in entry} == entry  # summary entry == run.json less config
        assert metrics[-1]["step"] == run["iters"] == 2500
        assert run["best_val_loss"] == min(m["val_loss"] for m in metrics)
        assert run["val_loss_full"] == metrics[-1]["val_loss_full"]
        model = summary["models"][entry["model"]]
        assert model["best_val_loss_mean"] == run["best_val_loss"]  # one seed each
