"""gl.tasks.char_lm.ship: the metrics-only and bfloat16 modes keep every number of the
checkpoint mode."""
from __future__ import annotations

import json
import os

import pytest

from gl.tasks import checkpoint
from gl.tasks.char_lm import evaluate, ship


def test_metrics_only_matches_checkpoint_mode(tmp_path, capsys):
    src = os.path.dirname(evaluate.shipped()["lm-gateloop-s0"])
    full = ship.main([src, "--dest", str(tmp_path / "full")])
    slim = ship.main([src, "--dest", str(tmp_path / "slim"), "--metrics-only",
                      "--anchor", str(ship.NANOGPT_GPU)])
    capsys.readouterr()
    assert sorted(os.listdir(tmp_path / "slim" / "lm-gateloop-s0")) == ["metrics.jsonl", "run.json"]
    assert slim["runs"] == full["runs"] and slim["models"] == full["models"]
    assert slim["nanogpt_best_val_loss"] == 1.4697 and full["nanogpt_best_val_loss"] == 1.886
    run = json.loads((tmp_path / "slim" / "lm-gateloop-s0" / "run.json").read_text())
    assert run["config"]["mixer"] == "gateloop" and len(run["config"]["vocab"]) == 65


def test_a_diverged_run_is_marked_and_left_out_of_the_means():
    """A run whose losses became NaN (as every GLA run of the family batch on an H100) has
    ``diverged_at``; its best is that of the evaluations before, and the per-model mean and
    standard deviation leave it out (they once crashed on the NaN)."""
    nan = float("nan")
    metrics = [{"step": 250, "train_loss": 2.1, "val_loss": 1.7},
               {"step": 500, "train_loss": nan, "val_loss": nan}]
    assert ship.diverged_at(metrics) == 500 and ship.diverged_at(metrics[:1]) is None
    runs = [{"model": "gla", "seed": s, "n_params": 10, "iters": 5000, "val_loss_full": v,
             "best_val_loss": v, "wall_s": 1.0, "steady_chars_per_s": 5, "diverged_at": d}
            for s, (v, d) in enumerate([(1.5, None), (1.6, None), (None, 250)])]
    entry = ship.summarize(runs)["gla"]
    assert entry["seeds"] == [0, 1] and entry["diverged_seeds"] == [2]
    assert entry["best_val_loss_mean"] == 1.55


def test_an_unfinished_checkpoint_is_named_and_skipped(tmp_path, monkeypatch, capsys):
    """A run killed while saving its last checkpoint (RetNet seed 2 on an H100) has a
    metrics.jsonl that finished and a checkpoint that did not: ship names it and goes on
    with the other runs, where it once crashed on the missing final evaluation."""
    info = {"meta": {"batch_size": 2, "seed": 2}, "metrics": [{"step": 4000, "val_loss": 1.7}]}
    monkeypatch.setattr(ship.checkpoint, "load", lambda path: (None, {"context": 8}, info))
    run = tmp_path / "retnet-s2"
    run.mkdir()
    out = ship.main([str(run), "--dest", str(tmp_path / "dest"), "--metrics-only"])
    assert out["runs"] == [] and not (tmp_path / "dest" / "lm-retnet-s2").exists()
    assert "ends at step 4000, before the final evaluation" in capsys.readouterr().err


def test_bf16_shipping_halves_the_file_and_keeps_the_numbers(tmp_path, capsys):
    """``--bf16 --prefix lm-medium-``: the shipped file stores bfloat16 parameters (about half
    the bytes), says so in its provenance, keeps every recorded number, and its loss on the
    check windows moves by less than 2e-3 (measured: 1.3e-4 for GateLoop, -2.0e-4 for the fixed
model and the transformer, small size, seed 0; the issue allows 0.01)."""
    import gl.evaluate

    src = os.path.dirname(evaluate.shipped()["lm-gateloop-s0"])
    full = ship.main([src, "--dest", str(tmp_path / "full")])
    half = ship.main([src, "--dest", str(tmp_path / "half"), "--bf16", "--prefix", "lm-medium-"])
    capsys.readouterr()
    assert [r["name"] for r in half["runs"]] == ["lm-medium-gateloop-s0"]
    assert [{**r, "name": 0} for r in half["runs"]] == [{**r, "name": 0} for r in full["runs"]]
    f32 = tmp_path / "full" / "lm-gateloop-s0" / "checkpoint.npz"
    b16 = tmp_path / "half" / "lm-medium-gateloop-s0" / "checkpoint.npz"
    assert b16.stat().st_size < 0.6 * f32.stat().st_size
    _, _, info = checkpoint.load(b16)
    assert info["meta"]["param_storage"].startswith("bfloat16")
    res = gl.evaluate.main([str(b16), "--windows", str(evaluate.CHECK_WINDOWS)])
    capsys.readouterr()
    shift = res["loss"] - full["runs"][0]["check_loss"]
    assert abs(shift) < 2e-3, shift
    with pytest.raises(SystemExit):
        ship.main([src, "--dest", str(tmp_path / "x"), "--bf16", "--metrics-only"])


def test_shipped_sizes_are_named():
    small, medium = evaluate.shipped("small"), evaluate.shipped("medium")
    assert not set(small) & set(medium) and {**small, **medium} == evaluate.shipped()
    assert all(n.startswith("lm-medium-") for n in medium)
    with pytest.raises(ValueError, match="size: expected one of .*'large'"):
        evaluate.shipped("large")


def test_a_name_shipped_twice_is_refused(tmp_path, monkeypatch):
    """A medium run shipped without ``--prefix lm-medium-`` would be ``lm-gateloop-s0`` in
    both folders; ``gl.evaluate lm-gateloop-s0`` would then score whichever came last."""
    for folder in ("char_lm", "char_lm_medium"):
        d = tmp_path / "assets" / folder / "lm-gateloop-s0"
        d.mkdir(parents=True)
        (d / "checkpoint.npz").write_bytes(b"")
    monkeypatch.setattr(checkpoint.resources, "files", lambda _: tmp_path)
    with pytest.raises(ValueError, match=r"\['lm-gateloop-s0'\] in both char_lm and char_lm_medium"):
        evaluate.shipped()


def test_nanogpt_anchors_have_one_source():
    """nanoGPT's CPU numbers live in ``nanogpt_cpu.json`` (with where they come from); the
    constants the summaries carry are the same numbers."""
    anchors = json.loads((evaluate.shipped_root() / "nanogpt_cpu.json").read_text())
    assert "issue 31" in anchors["source"] and "cannot reproduce" in anchors["source"]
    assert ship.NANOGPT_SMALL == anchors["small"]["best_val_loss"] == 1.886
    assert ship.NANOGPT_GPU == anchors["published"]["gpu_baby_gpt"]
    summary = json.loads((evaluate.shipped_root() / "summary.json").read_text())
    medium = json.loads((evaluate.shipped_root().parent / "char_lm_medium" / "summary.json")
                        .read_text())
    assert summary["nanogpt_best_val_loss"] == ship.NANOGPT_SMALL
    assert medium["nanogpt_best_val_loss"] == anchors["medium"]["val_loss"]["2500"]
