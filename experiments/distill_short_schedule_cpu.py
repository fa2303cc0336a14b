"""Distil chapter 10's shorter schedule (exercise ex-ch10-full; 2 CPU cores, 2026-12-07)
into ``gl/assets/char_lm/short_schedule_cpu.json``.

    python experiments/distill_short_schedule_cpu.py RAW_DIR [--out PATH]

``RAW_DIR`` is ``experiments/bench_logs/short_schedule_cpu_2026-12-07.tgz`` unpacked: per run
``MODEL-sSEED/metrics.jsonl`` and ``MODEL-sSEED.log``, from
``experiments/short_schedule_cpu.sh`` (each model at nanoGPT's CPU configuration for 500
iterations, seeds 0-2, three processes at a time).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from experiments.distill_cli import cpu_provenance, run_record  # noqa: E402
from experiments.distill_cli import main as cli  # noqa: E402

MODELS = ("gateloop", "fixed", "transformer")


def distill(root: str) -> dict:
    runs = {f"{m}-s{s}": run_record(root, f"{m}-s{s}", f"{m}-s{s}.log", model=m, seed=s)
            for m in MODELS for s in (0, 1, 2)}
    return {"provenance": cpu_provenance("short_schedule_cpu", "2026-12-07", "3071fd4"), "runs": runs}


def main(argv=None):
    cli(distill, __doc__, "short_schedule_cpu.json", argv)


if __name__ == "__main__":
    main()
