"""``python -m gl.bench``: the CPU run produces the results schema; the shipped files load;
the jobs under benchmarks/ (goals) compute from rows."""
from __future__ import annotations

import json
import os
import sys

import pytest

from gl import bench

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import goals as bench_goals  # noqa: E402  (benchmarks/goals.py, a script)

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
    assert {"paper_listing", "copy", "numba_reference", "gate_loop[parallel, xla]", "gate_loop[auto]",
            "fwd+bwd[parallel, autodiff]", "fwd+bwd[parallel, xla]"} <= methods, methods
    for r in res["rows"]:
        if r["max_rel_err"] is not None:  # every checked method agrees with the complex128 loop
            assert r["max_rel_err"] < 1e-5, r
    base = next(r for r in res["rows"] if r["method"] == "paper_listing")
    assert base["vs_paper"] == pytest.approx(1.0)


def test_goals_from_rows():
    """The goal table is computed from ratios of rows of one run; missing rows give no goal."""
    row = lambda shape, method, ms, err=None: dict(shape=list(shape), method=method, ms=ms, max_rel_err=err,
                                                   compile_s=3.0)
    s, mh = (2, 8, 4), (1, 8, 2, 4)
    rows = [row(s, "paper_listing", 3.0), row(s, "copy", 1.0), row(s, "pallas_siso[planar a]", 1.0, 1e-7),
            row(s, "pallas_siso[bf16 planar]", 0.7, 5e-3), row(s, "fwd+bwd[parallel, autodiff]", 9.0),
            row(s, "fwd+bwd[parallel, pallas]", 3.0, 1e-7), row(mh, "gate_loop[parallel, xla] (over batch)", 50.0),
            row(mh, "gate_loop[attention, xla] (over batch×heads)", 16.0), row(mh, "gate_loop[chunked, xla]", 4.0, 1e-7)]
    g = {(x["goal"], tuple(x["shape"])): x for x in bench_goals.goals(dict(rows=rows, provenance={"backend": "gpu"}))}
    assert g["1 SISO forward vs listing", s]["measured"] == pytest.approx(3.0) and g["1 SISO forward vs listing", s]["met"]
    assert g["1 SISO forward, fraction of copy", s]["met"]
    assert g["2 custom VJP vs autodiff", s]["measured"] == pytest.approx(3.0)
    assert not g["4 bf16 vs fp32 throughput", s]["met"]  # 1/0.7 = 1.43 < 1.6
    assert g["3 chunked vs associative scan", mh]["measured"] == pytest.approx(12.5)
    assert not g["3 chunked vs surrogate attention", mh]["met"]  # 16 / 4 = 4 < 5
    assert ("5 CPU Numba vs JAX associative scan", s) not in g  # a GPU run has no CPU goal


@pytest.mark.parametrize("kind", ["cpu", "gpu"])
def test_load_results_shipped(kind):
    res = bench.load_results(kind)
    check_schema(res)
    assert {r["method"] for r in res["rows"]} >= {"paper_listing", "copy"}


def test_load_results_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        bench.load_results("tpu")


def test_planar_baselines():
    """The baselines the bench and the probes in experiments/ share: the listing on planar a agrees with
    the complex128 loop (float32 tolerance 1e-5), the copy touches every plane."""
    import jax
    import numpy as np

    import gl

    q, k, v, a = bench.siso_inputs(jax.random.key(0), 2, 33, 4)
    ar, ai = np.real(a), np.imag(a)
    ref = gl.gate_loop_reference(*(np.asarray(x)[..., None] for x in (q, k, v, a)), dtype=np.complex128)[..., 0]
    assert bench.rel_err(np.asarray(bench.listing_planar(q, k, v, ar, ai), np.float64), ref.real) < 1e-5
    planes = [q, k, v, ar, ai]
    base = np.asarray(bench.copy_planar(*planes))
    for i in range(5):  # every plane is read: a change in any one moves the output
        moved = np.asarray(bench.copy_planar(*(x + 1 if j == i else x for j, x in enumerate(planes))))
        np.testing.assert_allclose(moved - base, 1.0, rtol=1e-5)


@pytest.mark.parametrize("argv0, shown", [("/x/gl/bench.py", "python -m gl.bench"),
                                          ("experiments/mh_bwd_bench.py", "experiments/mh_bwd_bench.py"),
                                          ("benchmarks/head_gates.py", "benchmarks/head_gates.py")])
def test_provenance_names_the_script_that_ran(monkeypatch, argv0, shown):
    """Only gl.bench itself is shown as ``python -m gl.bench``; another script whose name ends in
    ``bench.py`` keeps its own path (a shipped mh_bwd run once read ``python -m gl.bench``)."""
    monkeypatch.setattr(sys, "argv", [argv0, "--shape", "2,256,2,64"])
    assert bench.provenance(3)["command"] == f"{shown} --shape 2,256,2,64"


@pytest.mark.parametrize("argv, says", [
    (["--shapes", "1,64"], "argument --shapes: expected shapes B,L,D of 3 ints >= 1"),
    (["--shapes", "a,b,c"], "argument --shapes: expected shapes B,L,D of 3 ints >= 1"),
    (["--shapes", "1,0,8"], "argument --shapes: expected shapes B,L,D of 3 ints >= 1"),
    (["--mh", "1,64,2"], "argument --mh: expected shapes B,L,H,d of 4 ints >= 1"),
    (["--repeats", "-1"], "argument --repeats: expected an int >= 1, got '-1'"),
    (["--repeats", "0"], "argument --repeats: expected an int >= 1, got '0'"),
    (["--repeats", "two"], "argument --repeats: expected an int >= 1, got 'two'"),
])
def test_bad_flags_are_usage_errors(capsys, argv, says):
    """Malformed --shapes/--mh used to raise raw TypeError/ValueError tracebacks, --repeats -1 to
    crash after compiling everything and --repeats 0 to mean the default: now each is a usage
    error saying what is expected (the parser only: no benchmark runs)."""
    with pytest.raises(SystemExit) as e:
        bench.parser().parse_args(argv)
    assert e.value.code == 2 and says in capsys.readouterr().err


def test_flags_parse():
    args = bench.parser().parse_args(["--shapes", "1,64,8;2,32,4", "--mh", "1,128,2,8",
                                      "--repeats", "3"])
    assert args.shapes == [(1, 64, 8), (2, 32, 4)] and args.mh == [(1, 128, 2, 8)]
    assert args.repeats == 3
    assert bench.parser().parse_args(["--shapes", ""]).shapes == []  # none: multi-head only
    text = " ".join(bench.parser().format_help().split())
    assert "batch, sequence length, channels" in text and "timing rounds per method" in text
