"""gl.results reads the distilled results; benchmarks/distill.py writes them and the README table.

Tolerances: the stored ratios are the stored (5-digit) milliseconds divided, rounded to 4
digits, so a ratio recomputed from the JSON agrees to a relative 1e-3.
"""
from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

from gl import results

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIELDS = {"shape", "method", "dtype", "device", "jax", "date", "command", "ms",
          "fraction_of_copy", "vs_listing", "max_rel_err", "note"}


def _distill():
    spec = importlib.util.spec_from_file_location("distill", ROOT / "benchmarks" / "distill.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_names_and_fields():
    assert {"h100_siso", "h100_multihead", "cpu_siso"} <= set(results.names())
    for name in results.names():
        res = results.load(name)
        assert res["name"] == name and res["cases"]
        for c in res["cases"]:
            assert set(c) == FIELDS, (name, set(c) ^ FIELDS)
            assert c["command"].startswith("python -m gl.bench"), c["command"]
            assert c["device"] and c["jax"] and c["date"][:4].isdigit()
            assert len(c["shape"]) == (3 if res["family"] == "siso" else 4)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"name: expected one of \[.*h100_siso.*\], got 'gpu'"):
        results.load("gpu")
    with pytest.raises(TypeError, match="name"):
        results.load(3)
    res = results.load("h100_siso")
    with pytest.raises(KeyError, match="method: expected one of"):
        results.case(res, (16, 4096, 640), "no such method")
    with pytest.raises(KeyError, match="shape: expected one of"):
        results.case(res, (1, 2, 3), "copy")


@pytest.mark.parametrize("name", ["h100_siso", "h100_multihead", "cpu_siso", "cpu_multihead"])
def test_ratios_follow_from_the_milliseconds(name):
    res = results.load(name)
    for s in results.shapes(res):
        copy = results.case(res, s, "copy")["ms"]
        listing = results.case(res, s, "paper_listing")["ms"]
        for m in results.methods(res, s):
            c = results.case(res, s, m)
            assert c["fraction_of_copy"] == pytest.approx(copy / c["ms"], rel=1e-3), (s, m)
            assert c["vs_listing"] == pytest.approx(listing / c["ms"], rel=1e-3), (s, m)


def test_distilled_from_the_raw_run():
    """The shipped files are what distill makes of the raw files they name (if present)."""
    distill = _distill()
    for name in results.names():
        res = results.load(name)
        raw = ROOT / res["provenance"]["source"]
        if not raw.exists():  # the raw runs may have moved to experiments/
            found = sorted((ROOT / "experiments").rglob(raw.name))
            if not found:
                pytest.skip(f"{raw} is not in the tree; the files carry their provenance")
            raw = found[0]
        run = name.rsplit("_", 1)[0]
        again = distill.distill(json.loads(raw.read_text()), run, res["provenance"]["source"])
        assert again[name] == res


def _raw(rows, command="python -m gl.bench --shapes 1,8,2 --json x.json", date="2026-01-01"):
    return {"provenance": dict(command=command, hardware="h", device_kind="d", jax="0.1",
                               date=date, timing="t", bytes_per_element="b", max_rel_err="e"),
            "rows": rows}


def _row(shape, method, ms, **kw):
    return dict(shape=list(shape), method=method, ms=ms, **kw)


def test_distill_on_a_small_run():
    distill = _distill()
    rows = [_row((1, 8, 2), "paper_listing", 2.0), _row((1, 8, 2), "fast", 0.5, vs_copy=0.2),
            _row((1, 8, 2), "copy", 0.1), _row((1, 8, 2, 4), "paper_listing (over batch)", 9.0),
            _row((1, 8, 2, 4), "copy", 3.0)]
    cmd = "python -m gl.bench --shapes 1,8,2 ; python -m gl.bench --shapes  --mh 1,8,2,4"
    out = distill.distill(_raw(rows, cmd, "day 1 / day 2"), "t", "src.json")
    assert set(out) == {"t_siso", "t_multihead"}
    fast = out["t_siso"]["cases"][1]
    assert (fast["fraction_of_copy"], fast["vs_listing"], fast["date"]) == (0.2, 4.0, "day 1")
    mh = out["t_multihead"]["cases"][0]
    assert (mh["method"], mh["note"], mh["date"]) == ("paper_listing", "over batch", "day 2")
    assert mh["command"] == "python -m gl.bench --shapes  --mh 1,8,2,4"
    # the bench's own ratio disagrees with its milliseconds: refused
    bad = [dict(r) for r in rows[:3]]
    bad[1]["vs_copy"] = 0.3
    with pytest.raises(ValueError, match="vs_copy 0.3 in the bench"):
        distill.distill(_raw(bad), "t", "src.json")
    with pytest.raises(ValueError, match="needs the rows 'copy' and 'paper_listing'"):
        distill.distill(_raw(rows[:2]), "t", "src.json")
    with pytest.raises(ValueError, match="listed by 0 of the commands"):
        distill.distill(_raw(rows[:3], "python -m gl.bench --shapes 9,9,9 ; python -m gl.bench",
                             "a / b"), "t", "src.json")


def test_readme_table_is_generated_from_the_results():
    text = (ROOT / "README.md").read_text()
    start, end = text.index(results.README_START), text.index(results.README_END)
    shown = text[start + len(results.README_START):end].strip()
    assert shown == results.readme_tables().strip(), (
        "README results tables differ from gl/assets/results: run "
        "python benchmarks/distill.py h100=... cpu=... (or update README_ROWS)")
    assert "nan" not in shown
    siso = results.load("h100_siso")
    best = results.case(siso, (16, 4096, 640), "pallas_siso[planar a]")
    assert f"{best['fraction_of_copy']:.2f} of copy, {best['vs_listing']:.2f}×" in shown


def test_rewrite_readme_needs_the_markers():
    distill = _distill()
    with pytest.raises(ValueError, match="markers"):
        distill.rewrite_readme("no markers here", "| table |\n")
    text = f"a\n{results.README_START}\nold\n{results.README_END}\nb\n"
    assert distill.rewrite_readme(text, "new\n") == (
        f"a\n{results.README_START}\nnew\n{results.README_END}\nb\n")


def test_missing_case_is_a_dash_with_a_footnote():
    res = json.loads(json.dumps(results.load("h100_siso")))
    res["cases"] = [c for c in res["cases"]
                    if not (c["method"] == "fwd+bwd[pallas]" and c["shape"][1] == 65536)]
    table = results.readme_tables(lambda n: res if n == "h100_siso" else results.load(n))
    assert "–[^missing]" in table and "[^missing]: not measured" in table
