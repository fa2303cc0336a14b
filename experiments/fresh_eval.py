"""Evaluate every shipped Memory Horizon checkpoint on one fresh test set; write the result.

    python experiments/fresh_eval.py [--seed 977] [--samples 200]

Runs ``python -m gl.evaluate NAME --seed SEED --samples N`` (:func:`gl.tasks.memory_horizon.evaluate.main`)
for each name of ``gl.tasks.memory_horizon.model.shipped_checkpoints()`` and writes
``gl/assets/checkpoints/fresh_eval.json``: per checkpoint its accuracy, accuracy after the first
reset, loss, accuracy by span and 50 % horizon with its bootstrap interval, and the provenance
(command, hardware, date, JAX version). Chapter 7 reads it; the GPU study's runs were evaluated
the same way, on the same data seed (``study_gpu.json``). About 10 s per checkpoint on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import platform
import sys
from importlib import resources

import jax

from gl.tasks.memory_horizon import evaluate, model

OUT = resources.files("gl") / "assets" / "checkpoints" / "fresh_eval.json"  # beside the checkpoints
KEEP = ("accuracy", "accuracy_after_first_reset", "loss", "n_tokens", "by_span", "horizon")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=977)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    runs = {}
    for name in sorted(model.shipped_checkpoints()):
        with contextlib.redirect_stdout(io.StringIO()):
            r = evaluate.main([name, "--seed", str(args.seed), "--samples", str(args.samples)])
        runs[name] = {k: r[k] for k in ("transition",) + KEEP}
        print(f"{name:16s} accuracy {r['accuracy']:.3f}, horizon {r['horizon']['horizon']}", flush=True)
    prov = dict(command="python experiments/fresh_eval.py " + " ".join(sys.argv[1:] if argv is None else argv),
                each="python -m gl.evaluate NAME --seed %d --samples %d" % (args.seed, args.samples),
                hardware=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                backend=jax.default_backend(), jax_version=jax.__version__,
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    with open(args.out, "w") as f:
        json.dump({"provenance": prov, "seed": args.seed, "samples": args.samples, "runs": runs}, f, indent=1)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
