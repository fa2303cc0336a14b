"""gl.tasks.char_lm.ship: the metrics-only mode keeps every number of the checkpoint mode."""
from __future__ import annotations

import json
import os

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
