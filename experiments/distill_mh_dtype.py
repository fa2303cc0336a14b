"""Distil ``experiments/profile_mh_dtype.py``'s device output (its ``mh_dtype_*.json``, in
``experiments/bench_logs/profile_mh_dtype_2026-12-06_h100.tgz``) into
``gl/assets/bench/mh_dtype_h100.json``, which chapter 9 reads:

    python experiments/distill_mh_dtype.py RAW_DIR 2026-12-06 [--out PATH]

Per shape: the medians (ms) of gl's multi-head forward with float32 and with bfloat16
inputs, of the cast of the bfloat16 inputs alone and of a float32 copy of the same inputs,
and the derived numbers the chapter states: what bfloat16 adds to the forward, as a fraction
of the cast alone, and the cast's bandwidth as a fraction of the copy's (the cast moves
6 bytes per element, 2 read and 4 written; the copy 8).
"""
from __future__ import annotations

import argparse
import glob
import json
import os


def distill(raw, date):
    shapes = []
    for path in sorted(glob.glob(os.path.join(raw, "mh_dtype_*.json"))):
        r = json.load(open(path))
        ms = {k: v["ms"] for k, v in r["rows"].items()}
        extra = ms["fwd[bfloat16]"] - ms["fwd[float32]"]
        shapes.append({"shape": r["shape"], "impl": r["impl"], "repeats": r["repeats"], "ms": ms,
                       "bf16_extra_ms": round(extra, 4),
                       "bf16_extra_of_cast": round(extra / ms["cast"], 3),
                       "cast_rate_of_copy": round((6 / ms["cast"]) / (8 / ms["copy[float32]"]), 3),
                       "y_rel_err": r["y_rel_err"], "command": r["command"].replace("/root/out/", "$OUT/")})
        prov = {"device": r["device"], "jax_version": r["jax"]}
    shapes.sort(key=lambda s: s["shape"][1])
    return {"provenance": {**prov, "date": date, "script": "experiments/profile_mh_dtype.py",
                           "raw": "experiments/bench_logs/profile_mh_dtype_2026-12-06_h100.tgz",
                           "distilled_by": "experiments/distill_mh_dtype.py"},
            "shapes": shapes}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw")
    p.add_argument("date")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "gl", "assets",
                                                 "bench", "mh_dtype_h100.json"))
    args = p.parse_args(argv)
    with open(args.out, "w") as f:
        json.dump(distill(args.raw, args.date), f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
