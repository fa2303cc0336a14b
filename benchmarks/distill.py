"""Distill benchmark runs into the small JSON files the book and the README read.

    python benchmarks/distill.py h100=gl/assets/bench/gpu.json cpu=gl/assets/bench/cpu.json

Each ``NAME=PATH`` is one run of ``python -m gl.bench --json PATH`` (several merged with
``--merge`` are fine: their commands are joined by `` ; `` and their dates by `` / ``, and
each case is matched to the command that lists its shape). It writes
``gl/assets/results/{NAME}_siso.json`` and ``{NAME}_multihead.json`` (see :mod:`gl.results`
for the fields) and rewrites the tables between the markers of ``README.md``. Only reading
and arithmetic: nothing is timed here. ``fraction_of_copy`` and ``vs_listing`` are computed
from the rounded milliseconds that are written, and checked against the bench's own ratios.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAMILY = {3: ("siso", "B, L, D"), 4: ("multihead", "B, L, H, d")}
LISTING, COPY = "paper_listing", "copy"


def _sig(x, digits=5):
    return float(f"{x:.{digits}g}")


def _shapes_of(command: str) -> set:
    """The shapes a ``python -m gl.bench`` command lists after ``--shapes`` and ``--mh``."""
    words, out = command.split(), set()
    for flag in ("--shapes", "--mh"):
        if flag in words:
            i = words.index(flag) + 1
            if i < len(words) and not words[i].startswith("--"):
                out |= {tuple(int(n) for n in s.split(",")) for s in words[i].split(";") if s}
    return out


def _parts(prov: dict) -> list[tuple[str, str, set]]:
    """``(command, date, shapes)`` of each run merged into one bench file."""
    cmds = [c.strip() for c in prov["command"].split(" ; ")]
    dates = [d.strip() for d in str(prov["date"]).split(" / ")]
    if len(dates) != len(cmds):
        raise ValueError(f"provenance: expected one date per command ({len(cmds)}), "
                         f"got {len(dates)}: {prov['date']!r}")
    return [(c, d, _shapes_of(c)) for c, d in zip(cmds, dates)]


def _dtype(method: str) -> str:
    return "bfloat16" if "bf16 planar" in method else "float32"


def distill(raw: dict, name: str, source: str) -> dict:
    """``{file name: distilled results}`` of one raw bench file (pure: no files touched)."""
    prov, parts = raw["provenance"], _parts(raw["provenance"])
    jax_versions = str(prov["jax"]).split(" / ")
    out = {}
    for row in raw["rows"]:
        shape = tuple(row["shape"])
        if len(shape) not in FAMILY:
            raise ValueError(f"rows: expected shapes of 3 or 4 dims, got {shape}")
        fam, dims = FAMILY[len(shape)]
        hits = [i for i, (_, _, s) in enumerate(parts) if shape in s]
        if len(parts) == 1:
            hits = [0]
        if len(hits) != 1:
            raise ValueError(f"{source}: shape {shape} is listed by {len(hits)} of the "
                             f"commands {[c for c, _, _ in parts]}; expected exactly one")
        command, date, _ = parts[hits[0]]
        method, _, note = row["method"].partition(" (")
        res = out.setdefault(f"{name}_{fam}", {
            "name": f"{name}_{fam}", "family": fam, "dims": dims,
            "provenance": {
                "hardware": prov["hardware"], "device": prov["device_kind"],
                "jax": jax_versions[min(hits[0], len(jax_versions) - 1)], "date": date,
                "command": command, "source": source,
                "distilled_by": "python benchmarks/distill.py",
                "timing": prov["timing"], "bytes_per_element": prov["bytes_per_element"],
                "max_rel_err": prov["max_rel_err"],
                "dtype": "float32: float32 q, k, v and y, complex64 a (or its two float32 "
                         "planes, '[planar a]'); bfloat16: the five planes in bfloat16, "
                         "float32 state"},
            "cases": []})
        p = res["provenance"]
        res["cases"].append({
            "shape": list(shape), "method": method, "note": note.rstrip(")") or None,
            "dtype": _dtype(method), "device": p["device"], "jax": p["jax"],
            "date": p["date"], "command": p["command"], "ms": _sig(row["ms"]),
            "max_rel_err": None if row.get("max_rel_err") is None
            else _sig(row["max_rel_err"], 3),
            "_bench": (row.get("vs_copy"), row.get("vs_paper"))})
    for res in out.values():
        for c in res["cases"]:
            same = [d for d in res["cases"] if d["shape"] == c["shape"]]
            ms = {d["method"]: d["ms"] for d in same}
            if COPY not in ms or LISTING not in ms:
                raise ValueError(f"{source}: shape {tuple(c['shape'])} needs the rows "
                                 f"'{COPY}' and '{LISTING}' of the same run; got {list(ms)}")
            c["fraction_of_copy"] = _sig(ms[COPY] / c["ms"], 4)
            c["vs_listing"] = _sig(ms[LISTING] / c["ms"], 4)
            for mine, theirs, what in zip((c["fraction_of_copy"], c["vs_listing"]),
                                          c.pop("_bench"), ("vs_copy", "vs_paper")):
                if theirs is not None and abs(mine / theirs - 1) > 1e-3:
                    raise ValueError(f"{source}: {c['method']} at {tuple(c['shape'])}: "
                                     f"{what} {theirs} in the bench, {mine} from its ms")
    return out


def dumps(res: dict) -> str:
    """``res`` as JSON with one case per line (small diffs when a run is redone)."""
    head = json.dumps({k: v for k, v in res.items() if k != "cases"}, indent=1,
                      ensure_ascii=False)
    cases = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in res["cases"])
    return f'{head[:-2]},\n "cases": [\n{cases}\n ]\n}}\n'


def rewrite_readme(text: str, tables: str) -> str:
    """``text`` with the part between the results markers replaced by ``tables``."""
    from gl.results import README_END, README_START
    if text.count(README_START) != 1 or text.count(README_END) != 1:
        raise ValueError(f"README: expected the markers {README_START!r} and {README_END!r} "
                         "once each")
    head, rest = text.split(README_START)
    _, tail = rest.split(README_END)
    return f"{head}{README_START}\n{tables}{README_END}{tail}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="NAME=PATH of a python -m gl.bench JSON file")
    ap.add_argument("--out", default=str(ROOT / "gl" / "assets" / "results"))
    ap.add_argument("--readme", default=str(ROOT / "README.md"),
                    help="README to rewrite between the markers ('' to skip)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from gl import results

    written = {}
    for run in args.runs:
        name, sep, path = run.partition("=")
        if not sep or not name.isidentifier():
            ap.error(f"runs: expected NAME=PATH with NAME like h100, got {run!r}")
        p = pathlib.Path(path)
        try:
            source = str(p.resolve().relative_to(ROOT))
        except ValueError:
            source = str(p)
        written |= distill(json.loads(p.read_text()), name, source)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for fname, res in written.items():
        (out / f"{fname}.json").write_text(dumps(res))
        print(f"{out / fname}.json: {len(res['cases'])} cases")
    if args.readme:
        readme = pathlib.Path(args.readme)
        load = lambda n: written[n] if n in written else json.loads((out / f"{n}.json").read_text())
        readme.write_text(rewrite_readme(readme.read_text(), results.readme_tables(load)))
        print(f"{readme}: tables rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
