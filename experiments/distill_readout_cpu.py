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

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from experiments.distill_cli import main as cli  # noqa: E402

#: (read-out, seed) of each run
RUNS = [(r, s) for r in ("norm", "gate", "norm-gate") for s in (0, 1, 2)] + [("plain", 0)]


def script_command(script: str, **subs) -> str:
    """The ``python -m gl.train ... --out`` line of ``experiments/SCRIPT``, its shell
    variables ``$NAME`` written ``NAME`` (``subs`` maps others), with ``OUT/NAME`` appended."""
    text = open(os.path.join(os.path.dirname(__file__), script)).read()
    args = re.search(r"python (-m gl\.train char-lm .*?--out)", text.replace("\\\n", ""), re.S)[1]
    command = " ".join(args.split())
    for var in re.findall(r"\$([A-Z]+)", command):
        command = command.replace(f"${var}", subs.get(var, var))
    return "python " + command + " OUT/NAME"


def run_record(root: str, name: str, log: str, **labels) -> dict:
    """One run of ``root``: ``labels`` and its parameter count (the log's first line, or
    ``NAME/n_params.json`` where the log lost it), validation curve, best and last-step
    whole-split loss and wall time (from ``NAME/metrics.jsonl``)."""
    with open(os.path.join(root, name, "metrics.jsonl")) as f:
        ms = [json.loads(line) for line in f if line.strip()]
    first = open(os.path.join(root, log)).readline()
    counted = os.path.join(root, name, "n_params.json")  # where the log lost its count
    if os.path.exists(counted):
        first = f"gateloop: {json.load(open(counted))['n_params']:,} parameters"
    curve = [[m["step"], round(m["val_loss"], 5)] for m in ms]
    return {**labels, "n_params": int(first.split()[1].replace(",", "")),  # "gateloop: N parameters"
            "curve": curve, "best_val_loss": min(v for _, v in curve),
            "val_loss_full": round(ms[-1]["val_loss_full"], 5), "wall_s": ms[-1]["wall_s"]}


def distill(root: str) -> dict:
    runs = {f"gateloop-{r}-s{s}": run_record(root, f"gateloop-{r}-s{s}", f"{r}-s{s}.log",
                                             readout=r, seed=s) for r, s in RUNS}
    return {"provenance": {
        "device": "2 CPU cores (Intel Xeon @ 2.80GHz), JAX_PLATFORMS=cpu, two or three runs at a time",
        "date": "2026-12-06", "command": script_command("readout_cpu.sh"),
        "gl": "4f424fb (gate: 1fa998f)",
        "seeds": [0, 1, 2], "jax_version": "0.10.2",
        "raw": "experiments/bench_logs/readout_cpu_2026-12-06.tgz",
        "script": "experiments/readout_cpu.sh",
        "distilled_by": "experiments/distill_readout_cpu.py"}, "runs": runs}


def main(argv=None):
    cli(distill, __doc__, "readout_cpu.json", argv)


if __name__ == "__main__":
    main()
