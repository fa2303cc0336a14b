"""The measured peer table (``gl/assets/bench/peers_h100.json``, ``benchmarks/peers.py`` on one
H100) says only what its rows hold: every row agrees within its own tolerance, the ratios are
recomputed from the milliseconds, the provenance names device, date, versions and command, and
the run is marked incomplete, with every case it did not reach named in the book's text
(chapter 9 and the README). Each check is a function that lists problems; the last test
mutates a copy of the file and expects every check to notice."""
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
    """The chapter's cell sources, and the README."""
    nb = json.loads(TEXTS[0].read_text())
    return {TEXTS[0].name: "\n".join("".join(c["source"]) for c in nb["cells"]),
            TEXTS[1].name: TEXTS[1].read_text()}


def _case(r):
    return r["family"], r["gate"], tuple(r["shape"]), r["pass"]


def agreement_problems(res) -> list[str]:
    out = []
    for r in res["rows"]:
        name = f"{r['method']} {r['pass']}"
        if r["status"] != "ok":
            out.append(f"{name}: status {r['status']!r}")
        if r["tol"] is None:  # the two copies compute nothing to check
            if r["library"] not in ("xla", "torch") or r["agrees"] is not None:
                out.append(f"{name}: no tolerance")
            continue
        if r["tol"] != peers.TOL[r["pass"]]:
            out.append(f"{name}: tol {r['tol']} is not the script's {peers.TOL[r['pass']]}")
        if not (r["agrees"] is True and 0 <= r["max_rel_err"] <= r["tol"]):
            out.append(f"{name}: error {r['max_rel_err']} against tol {r['tol']}, "
                       f"agrees {r['agrees']}")
    return out


def ratio_problems(res) -> list[str]:
    out, rows = [], res["rows"]
    for r in rows:
        name = f"{r['method']} {r['pass']}"
        same = [s for s in rows if _case(s)[:3] == _case(r)[:3]]
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
    if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", p["date"]):
        out.append(f"date: {p['date']!r}")
    v = p["versions"]
    for dist in ("jax", "jaxlib", "torch", "triton", "fla-core"):
        if not v.get(dist):
            out.append(f"versions: no {dist}")
    shapes = {tuple(r["shape"]) for r in res["rows"]}
    mh = ";".join(",".join(map(str, s)) for s in sorted(shapes))
    if not p["command"].startswith("python benchmarks/peers.py") or f"--mh {mh}" not in \
            p["command"]:
        out.append(f"command: {p['command']!r} does not name the shapes {mh}")
    return out


def not_run(res) -> list[tuple]:
    """The cases of the script's default GPU run (shape, family, gate) that have no row."""
    ran = {(f, g, s) for f, g, s, _ in map(_case, res["rows"])}
    wanted = [("multihead", g, s) for s in peers.GPU_MH for g in peer_maps.GATES["multihead"]]
    wanted += [("siso", g, s) for s in peers.GPU_SISO for g in peer_maps.GATES["siso"]]
    return [c for c in wanted if c not in ran]


def completeness_problems(res, text) -> list[str]:
    """An incomplete run must say so, and the text must name each peer and shape it missed."""
    missing, out = not_run(res), set()
    if res["provenance"]["complete"] is not (not missing):
        out.add(f"complete is {res['provenance']['complete']} with {len(missing)} cases "
                "not run")
    ran_shapes = {tuple(r["shape"]) for r in res["rows"]}
    for family, gate, shape in missing:
        for peer in peer_maps.peers_for(family, gate):
            word = peer.attr if peer.dist == peer_maps.FLA else peer.dist
            if word not in text:
                out.add(f"{family} gate {gate!r} not run; the text does not name {word}")
        if family == "multihead" and shape not in ran_shapes and str(shape) not in text:
            out.add(f"shape {shape} not run; the text does not name it")
    if missing and "complete" not in text:
        out.add("the text does not say the run is incomplete")
    return sorted(out)


def test_packaged_with_gl():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["gl"]
    assert any(fnmatch.fnmatch(REL, g) for g in globs)
    assert (ROOT / "gl" / REL).is_file()


def test_every_row_agrees_within_its_tolerance():
    res = shipped()
    assert agreement_problems(res) == []
    assert len([r for r in res["rows"] if r["agrees"]]) == 8  # gl 2, fla 2 methods; 2 passes


def test_ratios_are_the_milliseconds():
    assert ratio_problems(shipped()) == []


def test_provenance_names_device_date_versions_command():
    res = shipped()
    assert provenance_problems(res) == []
    p = res["provenance"]
    assert p["versions"]["fla-core"] == "0.6.0" and p["date"].startswith("2026-12-05")


def test_incomplete_and_the_text_names_what_was_not_run():
    res = shipped()
    assert res["provenance"]["complete"] is False
    assert ("multihead", "head", (16, 4096, 8, 64)) in not_run(res)
    for name, text in book_texts().items():
        assert completeness_problems(res, text) == [], name


def _set(res, method, pas, key, value):
    for r in res["rows"]:
        if r["method"] == method and r["pass"] == pas:
            r[key] = value


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
    "claims complete": (lambda d: completeness_problems(d, book_texts()[TEXTS[0].name]),
                        lambda d: d["provenance"].update(complete=True)),
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
    for text in book_texts().values():
        text = text.replace("(8, 16384, 8, 128)", "a larger shape")
        assert completeness_problems(shipped(), text) == [
            "shape (8, 16384, 8, 128) not run; the text does not name it"]
