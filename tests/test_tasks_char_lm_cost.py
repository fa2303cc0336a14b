"""gl.tasks.char_lm.cost: the generation-cost measurement and its shipped result."""
from __future__ import annotations

import json

import pytest

from gl.tasks.char_lm import cost, data, evaluate, model

VOCAB = data.corpus().vocab


def test_state_bytes_formula():
    g = model.Config(VOCAB, mixer="gateloop")
    t = model.Config(VOCAB, mixer="transformer")
    assert cost.state_bytes(g, 0) == cost.state_bytes(g, 4096) == 4 * 4 * 16 * 32 * 8
    assert cost.state_bytes(t, 4096) == 2 * 4 * 4096 * 128 * 4
    assert cost.state_bytes(t, 0) == 0
    with pytest.raises(ValueError, match="context: expected an int >= 0"):
        cost.state_bytes(t, -1)


def test_the_command_writes_a_checked_json(tmp_path):
    out = tmp_path / "cost.json"
    cost.main(["--out", str(out), "--contexts", "0", "5", "--repeats", "2", "--inner", "2"])
    got = json.loads(out.read_text())
    assert got["contexts"] == [0, 5]
    for m in cost.MODELS:
        r = got["models"][m]
        assert len(r["ms_per_char"]) == 2 and all(t > 0 for t in r["ms_per_char"])
        assert len(r["ms_repeats"][0]) == 2
    assert got["models"]["transformer"]["state_bytes"] == [0, 2 * 4 * 5 * 128 * 4]
    assert got["models"]["transformer"]["config"]["context"] == 6  # position table
    assert "--contexts 0 5" in got["provenance"]["command"]
    with pytest.raises(SystemExit):
        cost.main(["--out", str(out), "--contexts", "5", "0"])


def test_shipped_result_has_constant_state_and_a_linear_cache():
    got = json.loads((evaluate.shipped_root() / "generation_cost.json").read_text())
    ctx = got["contexts"]
    assert ctx[0] == 0 and ctx[-1] == 4096
    g, t = got["models"]["gateloop"], got["models"]["transformer"]
    assert len(set(g["state_bytes"])) == 1
    assert t["state_bytes"] == [2 * 4 * L * 128 * 4 for L in ctx]
    for key in ("command", "hardware", "date", "jax_version"):
        assert got["provenance"][key]
