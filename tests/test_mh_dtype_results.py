"""gl/assets/bench/mh_dtype_h100.json (chapter 9: what bfloat16 inputs cost gl's multi-head
forward) is experiments/distill_mh_dtype.py of its raw device output, and says what the
chapter says: bfloat16 adds less than the cast alone, which runs near the copy's rate."""
from __future__ import annotations

import json
import pathlib
import tarfile

from conftest import script_module

ROOT = pathlib.Path(__file__).parents[1]


def test_distilled_from_raw(tmp_path):
    mod = script_module("experiments/distill_mh_dtype.py")
    with tarfile.open(ROOT / "experiments/bench_logs/profile_mh_dtype_2026-12-06_h100.tgz") as t:
        t.extractall(tmp_path, filter="data")
    shipped = json.loads((ROOT / "gl/assets/bench/mh_dtype_h100.json").read_text())
    assert mod.distill(str(tmp_path), "2026-12-06") == shipped
    for s in shipped["shapes"]:
        ms = s["ms"]
        assert 0 < s["bf16_extra_ms"] < ms["cast"] and s["cast_rate_of_copy"] > 0.9
        assert abs(ms["fwd[float32, rounded]"] / ms["fwd[float32]"] - 1) < 0.02  # values don't matter
        assert s["y_rel_err"] == 0.0  # the bfloat16 call computes what float32 does on its values
