"""``python -m gl.bench``: the CPU run produces the results schema; the shipped files load."""
from __future__ import annotations

import json

import pytest

from gl import bench

ROW_KEYS = {"shape", "method", "ms", "gbps", "vs_paper", "vs_copy", "max_rel_err"}
PROV_KEYS = {"command", "hardware", "jax", "date", "device_kind"}


def check_schema(res):
    assert PROV_KEYS <= set(res["provenance"]), res["provenance"].keys()
    assert res["rows"], "no rows"
    for row in res["rows"]:
        assert ROW_KEYS <= set(row), row
        assert row["ms"] > 0 and row["gbps"] > 0, row


def test_cpu_bench_tiny_shape(tmp_path):
    out = tmp_path / "cpu.json"
    res = bench.main(["--shapes", "1,64,8", "--repeats", "1", "--json", str(out)])
    check_schema(res)
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    methods = {r["method"] for r in res["rows"]}
    assert {"paper_listing", "copy", "numba_reference", "gate_loop[parallel]"} <= methods, methods
    for r in res["rows"]:
        if r["max_rel_err"] is not None:  # every checked method agrees with the complex128 loop
            assert r["max_rel_err"] < 1e-5, r
    base = next(r for r in res["rows"] if r["method"] == "paper_listing")
    assert base["vs_paper"] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_load_results_shipped(kind):
    res = bench.load_results(kind)
    check_schema(res)
    assert {r["method"] for r in res["rows"]} >= {"paper_listing", "copy"}


def test_load_results_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        bench.load_results("tpu")
