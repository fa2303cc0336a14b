"""Distil the read-out check of 2026-12-06 (2 CPU cores) into
``gl/assets/char_lm/readout_cpu.json``.

    python experiments/distill_readout_cpu.py RAW_DIR [--out gl/assets/char_lm/readout_cpu.json]

``RAW_DIR`` is ``experiments/bench_logs/readout_cpu_2026-12-06.tgz`` unpacked: per run
``gateloop-READOUT-sSEED/metrics.jsonl`` and ``READOUT-sSEED.log``, from
``experiments/readout_cpu.sh`` (GateLoop at nanoGPT's CPU configuration with
``--readout norm``, ``gate`` or ``norm-gate``, seeds 0-2; the ``plain`` runs are the shipped ones,
``gl/assets/char_lm/summary.json``, the same command without the flag, and
``gateloop-plain-s0`` reruns the shipped seed 0 with this code: how far a rerun moves).
The ``gate`` runs' logs lost their first line, the parameter count (the script was edited
while they ran, and bash, reading on from its old offset, re-ran the redirection): their
``n_params.json``, counted from each run's ``checkpoint.npz`` afterwards, holds it.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from experiments.distill_cli import cpu_provenance, run_record  # noqa: E402
from experiments.distill_cli import main as cli  # noqa: E402

#: (read-out, seed) of each run
RUNS = [(r, s) for r in ("norm", "gate", "norm-gate") for s in (0, 1, 2)] + [("plain", 0)]


def distill(root: str) -> dict:
    runs = {f"gateloop-{r}-s{s}": run_record(root, f"gateloop-{r}-s{s}", f"{r}-s{s}.log",
                                             readout=r, seed=s) for r, s in RUNS}
    return {"provenance": cpu_provenance("readout_cpu", "2026-12-06", "4f424fb (gate: 1fa998f)",
                                         "two or three runs"), "runs": runs}


def main(argv=None):
    cli(distill, __doc__, "readout_cpu.json", argv)


if __name__ == "__main__":
    main()
