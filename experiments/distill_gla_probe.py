"""Distil the GLA probe of 2026-12-06 (one H100) into ``gl/assets/char_lm/gla_probe_gpu.json``.

    python experiments/distill_gla_probe.py RAW_DIR [--out gl/assets/char_lm/gla_probe_gpu.json]

``RAW_DIR`` is ``experiments/bench_logs/device_2026-12-06_h100_gla_probe.tgz`` unpacked: the
script that ran (``gla_probe.sh``), the gate as it was before the log-space fix
(``old_gated.py``) and, per run, ``metrics.jsonl`` and its log. The probe trained GLA at
nanoGPT's GPU scale twice at once, seed 1, with the gate ``σ(z)^{1/16}`` computed in log space
(``log-space``, today's :func:`gl.family.gla`) and as a power (``power``, the code the
family batch ran), evaluating every 50 iterations on 24 validation windows, each process
stopped by ``timeout 270``. Its curves say whether GLA diverges under the recipe, not its
best loss at the recipe's 240-window evaluation.
"""
from __future__ import annotations

import json
import os
import re
import sys

from gl.tasks.char_lm.ship import diverged_at

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from experiments.distill_cli import main as cli  # noqa: E402

#: the probe's runs: name in the JSON -> directory in the archive
RUNS = {"log-space": "new", "power": "old"}


def distill(root: str) -> dict:
    script = open(os.path.join(root, "gla_probe.sh")).read()
    args = re.search(r'ARGS="([^"]+)"', script)[1]
    first_line = open(os.path.join(root, "new.log")).readline().strip()  # "gla: N parameters"
    runs = {}
    for name, sub in RUNS.items():
        with open(os.path.join(root, sub, "metrics.jsonl")) as f:
            ms = [json.loads(line) for line in f if line.strip()]
        bad = diverged_at(ms)
        best = min((m for m in ms if bad is None or m["step"] < bad), key=lambda m: m["val_loss"])
        runs[name] = {"iters_reached": ms[-1]["step"], "diverged": bad is not None,
                      "best_val_loss": best["val_loss"], "best_step": best["step"],
                      "curve": [[m["step"], round(m["val_loss"], 5)] for m in ms]}
    # the device and JAX version were printed by the device call (nvidia-smi; the session's
    # first call printed jax.__version__ on the same image), not written to the archive
    return {"provenance": {
        "device": "NVIDIA H100 80GB HBM3", "date": "2026-12-06", "jax_version": "0.11.2",
        "command": "python3 -m gl.train " + args + " --out $OUT/{new,old}",
        "processes": 2, "stopped_by": "timeout 270 (each process)",
        "eval_windows": int(re.search(r"--eval-windows (\d+)", args)[1]),
        "n_params": int(first_line.split()[1].replace(",", "")),
        "raw": "experiments/bench_logs/device_2026-12-06_h100_gla_probe.tgz",
        "distilled_by": "experiments/distill_gla_probe.py"}, "runs": runs}


def main(argv=None):
    cli(distill, __doc__, "gla_probe_gpu.json", argv)


if __name__ == "__main__":
    main()
