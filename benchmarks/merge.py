"""Merge several ``python -m gl.bench --json`` runs on one machine into one results file.

``python benchmarks/merge.py A.json B.json --json OUT.json`` (e.g. the SISO and the multi-head
shapes run as two commands): rows concatenated, provenance joined, goals recomputed
(``benchmarks/goals.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from goals import goals  # noqa: E402


def merge(results: list[dict]) -> dict:
    """One results dict from several runs on the same machine (e.g. the SISO and the multi-head
    shapes run as two commands): rows concatenated, provenance joined, goals recomputed."""
    kinds = {r["provenance"]["device_kind"] for r in results}
    if len(kinds) != 1:
        raise ValueError(f"results: expected runs on one kind of device, got {sorted(kinds)}")
    prov = dict(results[0]["provenance"])
    prov["command"] = " ; ".join(r["provenance"]["command"] for r in results)
    prov["date"] = " / ".join(r["provenance"]["date"] for r in results)
    prov["repeats"] = [r["provenance"]["repeats"] for r in results]
    res = dict(provenance=prov, rows=[row for r in results for row in r["rows"]])
    res["goals"] = goals(res)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="JSON files written by python -m gl.bench --json")
    p.add_argument("--json", required=True, help="write the merged results here")
    args = p.parse_args(argv)
    res = merge([json.load(open(f)) for f in args.results])
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
