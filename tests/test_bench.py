"""``python -m gl.bench``: the CPU run produces the results schema; the shipped files load."""
from __future__ import annotations

import importlib.resources
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


def test_goals_from_rows():
    """The goal table is computed from ratios of rows of one run; missing rows give no goal."""
    row = lambda shape, method, ms, err=None: dict(shape=list(shape), method=method, ms=ms, max_rel_err=err,
                                                   compile_s=3.0)
    s, mh = (2, 8, 4), (1, 8, 2, 4)
    rows = [row(s, "paper_listing", 3.0), row(s, "copy", 1.0), row(s, "pallas_siso[planar a]", 1.0, 1e-7),
            row(s, "pallas_siso[bf16 planar]", 0.7, 5e-3), row(s, "fwd+bwd[parallel]", 9.0),
            row(s, "fwd+bwd[pallas]", 3.0, 1e-7), row(mh, "gate_loop[parallel] (over batch)", 50.0),
            row(mh, "gate_loop[attention] (over batch×heads)", 16.0), row(mh, "gate_loop[chunked]", 4.0, 1e-7)]
    g = {(x["goal"], tuple(x["shape"])): x for x in bench.goals(dict(rows=rows, provenance={"backend": "gpu"}))}
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
    """The baselines the bench and the probes in tools/ share: the listing on planar a agrees with
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


def test_read_ncu():
    """Both report forms (``--section`` tables and ``--metrics`` lists), kernels in order, units
    to ms and MB, thousands separators; non-kernel lines (warnings, ``==PROF==``) ignored."""
    text = """==PROF== Profiling "gl_a": 0%....50%....100% - 3 passes
== {"cfg": 1}
  gl_a (8, 1, 64)x(64, 1, 1), Context 1, Stream 14, Device 0, CC 9.0
    Warning: Data collection happened without fixed GPU frequencies. Profiling results may be inconsistent.
    dram__bytes_read.sum                                     Gbyte         1.21
    gpu__time_duration.sum                                      us       515.65
    Elapsed Cycles                cycle    1,124,088
    Grid Size                                 384
  wrapped_slice (4, 1, 1)x(128, 1, 1), Context 1, Stream 14, Device 0, CC 9.0
    dram__bytes_read.sum             Kbyte         5.63
    gpu__time_duration.sum              ms         1.02
"""
    (a, ma), (b, mb) = bench.read_ncu(text)
    assert (a, b) == ("gl_a", "wrapped_slice")
    assert ma == {"dram__bytes_read.sum": 1210.0, "gpu__time_duration.sum": pytest.approx(0.51565),
                  "Elapsed Cycles": 1124088.0, "Grid Size": 384.0}
    assert mb == {"dram__bytes_read.sum": pytest.approx(0.00563), "gpu__time_duration.sum": 1.02}
    logs = importlib.resources.files("gl") / "assets" / "bench"
    shipped = dict(bench.read_ncu((logs / "ncu_mh_re_y_h100.txt").read_text()))
    assert shipped["gl_mh_summary"]["Grid Size"] == 384 and shipped["gl_mh_outputs"]["Registers Per Thread"] == 255
