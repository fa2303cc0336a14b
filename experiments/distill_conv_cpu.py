"""Distil the short-convolution check of 2026-12-07 (2 CPU cores) into
``gl/assets/char_lm/conv_cpu.json``.

    python experiments/distill_conv_cpu.py RAW_DIR [--out gl/assets/char_lm/conv_cpu.json]

``RAW_DIR`` is ``experiments/bench_logs/conv_cpu_2026-12-07.tgz`` unpacked: per run
``gateloop-READOUT-c4-sSEED/metrics.jsonl``, ``.../conv.npz`` (the trained filters, one
``(4, 128)`` array per layer, ``layer0`` … ``layer3``) and ``READOUT-c4-sSEED.log``, from
``experiments/conv_cpu.sh`` (GateLoop at nanoGPT's CPU configuration with ``--conv 4`` and
the ``plain`` or ``gate`` read-out, seeds 0-2, three processes at a time). The runs without
the filter are ``gl/assets/char_lm/summary.json`` (plain) and ``readout_cpu.json`` (gate).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from experiments.distill_cli import cpu_provenance, run_record  # noqa: E402
from experiments.distill_cli import main as cli  # noqa: E402

#: (read-out, seed) of each run, all with a filter of width 4
RUNS = [(r, s) for r in ("plain", "gate") for s in (0, 1, 2)]


def filter_taps(path: str) -> list:
    """Per layer, the mean |w_j| over the channels of each tap ``j`` (oldest first) of the
    trained filter: how far it moved from the identity it started as (``[0, 0, 0, 1]``)."""
    with np.load(path) as z:
        return [[round(float(x), 4) for x in np.abs(z[f"layer{i}"]).mean(1)]
                for i in range(len(z.files))]


def distill(root: str) -> dict:
    runs = {}
    for r, s in RUNS:
        name = f"gateloop-{r}-c4-s{s}"
        runs[name] = run_record(root, name, f"{r}-c4-s{s}.log", readout=r, conv=4, seed=s)
        runs[name]["filter_abs_mean"] = filter_taps(os.path.join(root, name, "conv.npz"))
    return {"provenance": cpu_provenance("conv_cpu", "2026-12-07", "ff8f292"), "runs": runs}


def main(argv=None):
    cli(distill, __doc__, "conv_cpu.json", argv)


if __name__ == "__main__":
    main()
