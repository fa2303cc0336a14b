"""Distil the mLSTM norm check of 2026-12-06 (2 CPU cores) into
``gl/assets/char_lm/mlstm_norm_cpu.json``.

    python experiments/distill_mlstm_norm.py RAW_DIR [--out gl/assets/char_lm/mlstm_norm_cpu.json]

``RAW_DIR`` is ``experiments/bench_logs/mlstm_norm_cpu_2026-12-06.tgz`` unpacked: per run
(``mlstm``: without xLSTM's per-head norm, the code the GPU batch ran; ``mlstm-norm``: with
it, :func:`gl.family.matrix.head_norm`; ``gla``), ``metrics.jsonl`` and its log, from
``experiments/mlstm_norm_cpu.sh``. One seed each: a check of the diagnosis at a size where
the difference shows, not a measurement of mLSTM's loss at nanoGPT's scale.
"""
from __future__ import annotations

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from experiments.distill_cli import main as cli  # noqa: E402

#: name -> the gl it ran
RUNS = {"mlstm": "8ef8943, no head norm", "mlstm-norm": "f0c606d, with head_norm",
        "gla": "8ef8943"}


def distill(root: str) -> dict:
    script = open(os.path.join(os.path.dirname(__file__), "mlstm_norm_cpu.sh")).read()
    args = re.search(r"python (-m gl\.train char-lm .*?--out)", script.replace("\\\n", ""),
                     re.S)[1]
    runs = {}
    for name, code in RUNS.items():
        with open(os.path.join(root, name, "metrics.jsonl")) as f:
            ms = [json.loads(line) for line in f if line.strip()]
        first = open(os.path.join(root, name + ".log")).readline()  # "NAME: N parameters"
        runs[name] = {"gl": code, "n_params": int(first.split()[1].replace(",", "")),
                      "curve": [[m["step"], round(m["val_loss"], 5)] for m in ms],
                      "final_val_loss": round(ms[-1]["val_loss_full"], 5),
                      "wall_s": ms[-1]["wall_s"]}
    return {"provenance": {
        "device": "2 CPU cores (Intel Xeon @ 2.80GHz), JAX_PLATFORMS=cpu", "date": "2026-12-06",
        "command": "python " + " ".join(args.split()).replace("$MODEL", "MODEL") + " OUT/NAME",
        "seeds": [0], "jax_version": "0.10.2", "raw": "experiments/bench_logs/mlstm_norm_cpu_2026-12-06.tgz",
        "script": "experiments/mlstm_norm_cpu.sh",
        "distilled_by": "experiments/distill_mlstm_norm.py"}, "runs": runs}


def main(argv=None):
    cli(distill, __doc__, "mlstm_norm_cpu.json", argv)


if __name__ == "__main__":
    main()
