"""What the distil scripts of one archive share (``experiments/distill_*.py``): the command line
(``RAW_DIR``, the archive unpacked, in; one JSON file of ``gl/assets/char_lm/`` out, with sorted
keys and a final newline) and, for the CPU checks of chapters 10 and 12, one run's record and the
provenance of a check."""
from __future__ import annotations

import argparse
import json
import os
import re

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gl", "assets", "char_lm")


def main(distill, doc: str, name: str, argv=None):
    """Parse ``RAW_DIR [--out PATH]`` (``PATH`` defaults to ``ASSETS/name``) and write
    ``distill(RAW_DIR)`` there; ``doc``'s first line is the usage's description."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("raw")
    p.add_argument("--out", default=os.path.join(ASSETS, name))
    args = p.parse_args(argv)
    with open(args.out, "w") as f:
        json.dump(distill(args.raw), f, indent=1, sort_keys=True)
        f.write("\n")


def script_command(script: str) -> str:
    """The ``python -m gl.train ... --out`` line of ``experiments/SCRIPT``, its shell
    variables ``$NAME`` written ``NAME``, with ``OUT/NAME`` appended."""
    text = open(os.path.join(os.path.dirname(__file__), script)).read()
    args = re.search(r"python (-m gl\.train char-lm .*?--out)", text.replace("\\\n", ""), re.S)[1]
    return "python " + re.sub(r"\$([A-Z]+)", r"\1", " ".join(args.split())) + " OUT/NAME"


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


def cpu_provenance(check: str, date: str, gl: str, at_a_time: str = "three runs") -> dict:
    """The provenance of a CPU check of chapter 10 or 12 run by ``experiments/CHECK.sh`` on
    ``date`` (seeds 0-2, JAX 0.10.2, ``gl`` at commit ``gl``), its archive
    ``experiments/bench_logs/CHECK_DATE.tgz`` and distiller ``experiments/distill_CHECK.py``."""
    return {"device": f"2 CPU cores (Intel Xeon @ 2.80GHz), JAX_PLATFORMS=cpu, {at_a_time} at a time",
            "date": date, "command": script_command(f"{check}.sh"), "gl": gl,
            "seeds": [0, 1, 2], "jax_version": "0.10.2",
            "raw": f"experiments/bench_logs/{check}_{date}.tgz",
            "script": f"experiments/{check}.sh", "distilled_by": f"experiments/distill_{check}.py"}
