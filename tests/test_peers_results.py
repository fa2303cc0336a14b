"""The measured peer table (``gl/assets/bench/peers_h100.json``: ``benchmarks/peers.py`` runs on
one H100, one case or a few per device call, merged by ``benchmarks/merge_peers.py``) says only
what its rows hold: every row agrees within its own tolerance or is an exception that the book
names (a peer that refused to run, a peer that disagrees), the ratios are recomputed from the
milliseconds of the same case, the provenance names device, dates, versions and each run's
command, and every default case it did not reach is named in the book's text (chapter 9 and the
README). Each check is a function that lists problems; the mutation tests change a copy of the
file and expect the check to notice."""
from __future__ import annotations

import copy
import fnmatch
import json
import os
import pathlib
import re
import sys
import tomllib

import pytest

from gl import bench

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import merge_peers  # noqa: E402  (benchmarks/merge_peers.py)
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)
import peers  # noqa: E402  (benchmarks/peers.py, a script)

ROOT = pathlib.Path(__file__).parents[1]
REL = "assets/bench/peers_h100.json"
#: where the text claims the table: the chapter that shows it and the README
TEXTS = (ROOT / "notebooks" / "09_making_it_fast.ipynb", ROOT / "README.md")
GL_LIBS = ("gl", "xla", "torch")  # rows without a gl_speedup: gl's own, and the two copies


def shipped() -> dict:
    return bench.load_results("peers_h100")  # as chapter 9 reads it


def book_texts() -> dict[str, str]:
    """The chapter's cell sources and figure/table captions, and the README."""
    nb = json.loads(TEXTS[0].read_text())
    captions = [c["metadata"].get("mystnb", {}).get("figure", {}).get("caption", "")
                for c in nb["cells"]]
    return {TEXTS[0].name: "\n".join(["".join(c["source"]) for c in nb["cells"]] + captions),
            TEXTS[1].name: TEXTS[1].read_text()}


def _case(r):
    return (*merge_peers.case_of(r), r["pass"])


def _name(r):
    dtype = r.get("dtype", "float32")
    return f"{r['method']} {r['pass']} {tuple(r['shape'])}" + ("" if dtype == "float32" else f" {dtype}")


#: the rows that are known not to agree or not to run, each with the words of the book's text
#: that explain it (chapter 9 and the README must contain them)
EXCEPTIONS = {
    "fla.chunk_simple_gla fwd+bwd (16, 4096, 8, 64)": ("chunk_simple_gla", "Triton 3.7.1"),
    "fla.chunk_simple_gla fwd+bwd (8, 16384, 8, 128)": ("chunk_simple_gla", "Triton 3.7.1"),
    "fla.chunk_simple_gla fwd+bwd (16, 4096, 8, 64) bfloat16": ("chunk_simple_gla", "Triton 3.7.1"),
    "fla.chunk_simple_gla fwd+bwd (8, 16384, 8, 128) bfloat16": ("chunk_simple_gla", "Triton 3.7.1"),
    "accelerated_scan.warp fwd+bwd (8, 65536, 64)": ("accelerated_scan.warp", "disagree"),
}


def exceptions(res) -> list[str]:
    """The rows that did not run or do not agree."""
    return [_name(r) for r in res["rows"] if r["status"] != "ok" or r["agrees"] is False]


def agreement_problems(res) -> list[str]:
    out = []
    for r in res["rows"]:
        name = _name(r)
        if r["status"] != "ok":
            if name not in EXCEPTIONS or not r["status"].startswith("failed"):
                out.append(f"{name}: status {r['status']!r}")
            continue
        if r["tol"] is None:  # the two copies compute nothing to check
            if r["library"] not in ("xla", "torch") or r["agrees"] is not None:
                out.append(f"{name}: no tolerance")
            continue
        bf16_peer = r.get("dtype", "float32") == "bfloat16" and r["library"] != "gl"
        tol = (peers.TOL_BF16 if bf16_peer else peers.TOL)[r["pass"]]  # gl keeps float32's
        if r["tol"] != tol:
            out.append(f"{name}: tol {r['tol']} is not the script's {tol}")
        if r["agrees"] is not (0 <= r["max_rel_err"] <= r["tol"]):
            out.append(f"{name}: error {r['max_rel_err']} against tol {r['tol']}, "
                       f"agrees {r['agrees']}")
        elif not r["agrees"] and name not in EXCEPTIONS:
            out.append(f"{name}: disagrees ({r['max_rel_err']:.1e}), not a known exception")
    return out


def ratio_problems(res) -> list[str]:
    out, rows = [], [r for r in res["rows"] if r["status"] == "ok"]
    for r in rows:
        name = _name(r)
        same = [s for s in rows if _case(s)[:4] == _case(r)[:4]]
        if {s["run"] for s in same} != {r["run"]}:
            out.append(f"{name}: its case's rows come from runs {sorted({s['run'] for s in same})}")
        best = min(s["ms"] for s in same
                   if s["pass"] == r["pass"] and s["library"] == "gl")
        want = None if r["library"] in GL_LIBS else r["ms"] / best
        got = r["gl_speedup"]
        if (want is None) != (got is None) or (want is not None and
                                               got != pytest.approx(want, rel=1e-9)):
            out.append(f"{name}: gl_speedup {got}, recomputed {want}")
        copies = [s["ms"] for s in same if s["method"] == "copy" and s["pass"] == "fwd"]
        want = copies[0] / r["ms"] if r["pass"] == "fwd" else None
        got = r["vs_copy"]
        if len(copies) != 1 or (want is None) != (got is None) or (
                want is not None and got != pytest.approx(want, rel=1e-9)):
            out.append(f"{name}: vs_copy {got}, recomputed {want}")
    return out


def provenance_problems(res) -> list[str]:
    p, out = res["provenance"], []
    if "H100" not in p["device_kind"] or "H100" not in (p["torch_device"] or ""):
        out.append(f"device: {p['device_kind']!r}, torch {p['torch_device']!r}")
    v = p["versions"]
    for dist in ("jax", "jaxlib", "torch", "triton", "fla-core", "accelerated-scan"):
        if not v.get(dist):
            out.append(f"versions: no {dist}")
    for i, run in enumerate(p["runs"]):
        if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", run["date"]):
            out.append(f"run {i}: date {run['date']!r}")
        rows = [r for r in res["rows"] if r["run"] == i]
        if not rows:
            out.append(f"run {i}: no rows")
        for fam, flag in (("multihead", "--mh"), ("siso", "--siso")):
            shapes = sorted({tuple(r["shape"]) for r in rows if r["family"] == fam})
            want = ";".join(",".join(map(str, s)) for s in shapes)
            if not run["command"].startswith("python benchmarks/peers.py") or \
                    f"{flag} {want} " not in run["command"] + " ":
                out.append(f"run {i}: command {run['command']!r} does not name its {fam} "
                           f"shapes {want!r}")
    if p["date"] != p["runs"][-1]["date"]:
        out.append(f"date {p['date']!r} is not the last run's")
    return out


not_run = merge_peers.not_run


def completeness_problems(res, text) -> list[str]:
    """An incomplete run must say so, and the text must name each peer and shape it missed."""
    missing, out = not_run(res), set()
    if res["provenance"]["complete"] is not (not missing):
        out.add(f"complete is {res['provenance']['complete']} with {len(missing)} cases "
                "not run")
    for family, gate, shape in missing:
        for peer in peer_maps.peers_for(family, gate):
            word = peer.attr if peer.dist == peer_maps.FLA else peer.dist
            if word not in text:
                out.add(f"{family} gate {gate!r} not run; the text does not name {word}")
        if str(shape) not in text:
            out.add(f"shape {shape} not run; the text does not name it")
    if missing and "complete" not in text:
        out.add("the text does not say the run is incomplete")
    return sorted(out)


def test_packaged_with_gl():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["gl"]
    assert any(fnmatch.fnmatch(REL, g) for g in globs)
    assert (ROOT / "gl" / REL).is_file()


def test_every_row_agrees_within_its_tolerance_or_is_a_named_exception():
    res = shipped()
    assert agreement_problems(res) == []
    assert sorted(exceptions(res)) == sorted(EXCEPTIONS)
    for name, text in book_texts().items():
        for row, words in EXCEPTIONS.items():
            assert all(w in text for w in words), (name, row, words)
    # every gl row agrees, in every case
    assert all(r["agrees"] for r in res["rows"] if r["library"] == "gl")


def test_ratios_are_the_milliseconds():
    assert ratio_problems(shipped()) == []


def test_provenance_names_device_date_versions_command():
    res = shipped()
    assert provenance_problems(res) == []
    p = res["provenance"]
    assert p["versions"]["fla-core"] == "0.6.0" and p["date"].startswith("2026-12-06")  # the last run's


def test_complete_and_says_so():
    """Every float32 case of the script's default GPU run has rows; the bfloat16 cases are extra."""
    res = shipped()
    assert res["provenance"]["complete"] is True and not_run(res) == []
    for name, text in book_texts().items():
        assert completeness_problems(res, text) == [], name
    dtypes = {merge_peers.case_of(r)[3] for r in res["rows"]}
    assert dtypes == {"float32", "bfloat16"}


def _drop_case(res, shape):
    """The table as if the case ``("multihead", "key", shape)`` in float32 had not run."""
    res["rows"] = [r for r in res["rows"] if merge_peers.case_of(r) != (
        "multihead", "key", shape, "float32")]
    res["provenance"]["complete"] = False


def _set(res, method, pas, key, value):
    for r in res["rows"]:
        if r["method"] == method and r["pass"] == pas:
            r[key] = value


def _first(res, method, pas):
    return next(r for r in res["rows"] if r["method"] == method and r["pass"] == pas)


MUTATIONS = {
    "a row disagrees": (agreement_problems,
                        lambda d: _set(d, "fla.chunk_gla", "fwd", "max_rel_err", 3e-3)),
    "a looser tolerance": (agreement_problems,
                           lambda d: _set(d, "fla.chunk_gla", "fwd", "tol", 5e-3)),
    "a speed-up off by 5 %": (ratio_problems, lambda d: _set(
        d, "fla.chunk_gla", "fwd+bwd", "gl_speedup", 0.379 * 1.05)),
    "a gl row's time changed": (ratio_problems,
                                lambda d: _set(d, "gate_loop[auto]", "fwd", "ms", 1.5)),
    "vs_copy off": (ratio_problems,
                    lambda d: _set(d, "fla.fused_recurrent_gla", "fwd", "vs_copy", 0.03)),
    "no device": (provenance_problems,
                  lambda d: d["provenance"].update(device_kind="NVIDIA H200")),
    "no fla version": (provenance_problems,
                       lambda d: d["provenance"]["versions"].update({"fla-core": None})),
    "claims incomplete": (lambda d: completeness_problems(d, book_texts()[TEXTS[0].name]),
                          lambda d: d["provenance"].update(complete=False)),
    "a case missing, claimed complete": (
        lambda d: completeness_problems(d, book_texts()[TEXTS[0].name]),
        lambda d: _drop_case(d, (16, 4096, 8, 64)) or d["provenance"].update(complete=True)),
    "an unknown disagreement": (agreement_problems, lambda d: _first(
        d, "accelerated_scan.scalar", "fwd+bwd").update(max_rel_err=0.5, agrees=False)),
    "a failure nobody explained": (agreement_problems, lambda d: _first(
        d, "fla.chunk_hgrn", "fwd").update(status="failed: RuntimeError")),
    "a case from two runs": (ratio_problems,
                             lambda d: _first(d, "fla.chunk_hgrn", "fwd").update(run=0)),
    "a run's command without its shape": (provenance_problems, lambda d: d["provenance"][
        "runs"][1].update(command="python benchmarks/peers.py --mh '' --siso ''")),
}


@pytest.mark.parametrize("what", list(MUTATIONS))
def test_checks_catch_a_mutated_copy(tmp_path, what):
    check, mutate = MUTATIONS[what]
    res = copy.deepcopy(shipped())
    assert check(res) == []
    mutate(res)
    path = tmp_path / "peers_h100.json"  # through a file, as the shipped one is read
    path.write_text(json.dumps(res))
    assert check(json.loads(path.read_text())) != [], what


def test_text_check_catches_an_unnamed_case():
    res = copy.deepcopy(shipped())
    _drop_case(res, (8, 16384, 8, 128))
    for text in book_texts().values():
        text = text.replace("(8, 16384, 8, 128)", "a larger shape")
        assert "shape (8, 16384, 8, 128) not run; the text does not name it" in \
            completeness_problems(res, text)


def test_readme_table_is_generated_from_the_file():
    text = TEXTS[1].read_text()
    a = text.index(merge_peers.README_START)
    b = text.index(merge_peers.README_END) + len(merge_peers.README_END)
    assert text[a:b] == merge_peers.readme_block(shipped()), \
        "run benchmarks/merge_peers.py ... --readme README.md"


def test_merge_refuses_mixed_devices_and_a_case_measured_twice():
    res = shipped()
    one = {"provenance": dict(res["provenance"], command="python benchmarks/peers.py",
                              date="2026-12-05 17:00 UTC"),
           "rows": [r for r in res["rows"] if r["run"] == 1]}
    with pytest.raises(ValueError, match="case .* measured by runs 0 and 1"):
        merge_peers.merge([one, copy.deepcopy(one)])
    other = copy.deepcopy(one)
    other["provenance"]["device_kind"] = "NVIDIA H200"
    with pytest.raises(ValueError, match="one kind of device"):
        merge_peers.merge([one, other])
    merged = merge_peers.merge([one])
    assert merged["provenance"]["runs"][0]["date"] == "2026-12-05 17:00 UTC"
    # the table's dtype is its rows', not the last run's (once it said bfloat16 for all)
    assert "multi-head inputs float32 (" in merged["provenance"]["dtype"]
    assert {r["run"] for r in merged["rows"]} == {0}
    assert merged["provenance"]["complete"] is False


#: the raw runs, in the order they ran (experiments/GPU_COMMANDS.md): twelve on 2026-12-05, the
#: two bfloat16 cases at (8, 16384, 8, 128) on 2026-12-06
RAWS = [ROOT / "experiments" / "bench_logs" / f"peers_{d}_h100{s}_runs.tgz"
        for d, s in (("2026-12-05", ""), ("2026-12-06", "_bf16"))]
RUNS = ["peers_mh.json", "peers_mh_a_head.json", "peers_siso_b_real.json",
        "peers_siso_b_complex.json", "peers_siso_a_real.json", "peers_siso_c_real.json",
        "peers_mh_b_head.json", "peers_siso_a_complex.json", "peers_siso_c_complex.json",
        "peers_mh_b_key.json", "peers_mh_a_key_bf16.json", "peers_mh_a_head_bf16.json",
        "peers_mh_b_key_bf16.json", "peers_mh_b_head_bf16.json"]


def test_shipped_table_is_the_merge_of_the_raw_runs(tmp_path):
    import tarfile
    for raw in RAWS:
        with tarfile.open(raw) as t:
            t.extractall(tmp_path, filter="data")
    out = tmp_path / "merged.json"
    merge_peers.main([str(tmp_path / f) for f in RUNS] + ["--json", str(out)])
    assert json.loads(out.read_text()) == shipped()


def test_fastest_peers_skips_bare_scans_disagreeing_and_failed_rows():
    from gl.results import fastest_peers
    res = copy.deepcopy(shipped())
    got = {(e["case"][:3], e["pass"]): e for e in fastest_peers(res)}
    long = ("siso", "real", (8, 65536, 64))
    assert got[long, "fwd"]["peer"]["method"] == "accelerated_scan.scalar"  # not [scan only]
    assert got[("multihead", "head", (16, 4096, 8, 64)), "fwd+bwd"]["peer"] is None  # refused
    # make the disagreeing warp backward the fastest: it must still not be chosen
    _first(res, "accelerated_scan.warp", "fwd+bwd")["ms"] = 0.01
    got = {(e["case"][:3], e["pass"]): e for e in fastest_peers(res)}
    assert got[long, "fwd+bwd"]["peer"]["method"] == "accelerated_scan.scalar"


def test_the_warp_probe_finds_the_disagreement_in_the_peer_alone():
    """``experiments/acc_scan_check.py`` on the H100 (``gl/assets/bench/acc_scan_check_h100.json``):
    accelerated-scan's own gradients against a float64 loop, without gl. ``warp``'s forward agrees at every length
    and its backward only up to 4096 steps; ``scalar`` agrees everywhere. So the peer table's
    disagreeing ``warp`` row is the peer's backward, not gl's mapping, as chapter 9 says."""
    probe = bench.load_results("acc_scan_check_h100")
    assert "H100" in probe["provenance"]["device"] and probe["provenance"]["command"].startswith(
        "python3 experiments/acc_scan_check.py")
    rows = {(r["T"], r["kernel"]): r for r in probe["rows"]}
    assert sorted({t for t, _ in rows}) == [2048, 4096, 8192, 16384, 32768, 65536]
    for (T, kernel), r in rows.items():
        assert r["y"] < 1e-6, (T, kernel)
        wrong = kernel == "warp" and T >= 8192
        for grad in ("d_gates", "d_tokens"):
            assert (r[grad] > 0.1) if wrong else (r[grad] < 1e-6), (T, kernel, grad)
    for name, text in book_texts().items():
        assert "acc_scan_check" in text and "8192" in text.replace(",", ""), name
