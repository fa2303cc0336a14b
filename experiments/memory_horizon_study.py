"""Memory Horizon study: configurations × seeds as concurrent training processes, distilled.

    python experiments/memory_horizon_study.py --out runs/study --seeds 0 1 2 \\
        --config base="" --config long="--epochs 900" \\
        --config wide="--d-model 128 --d-qk 128 --d-v 128 --n-head 128" \\
        --config curriculum="--curriculum 24,12,6,3" \\
        --config stable-exp="--magnitude stable-exp" --config fixed="--transition fixed" \\
        --jobs 4 --eval-seed 977 --eval-samples 200

Each configuration is a name and the extra flags of ``python -m gl.train memory-horizon``
(issue 28's knobs: budget, width, depth, heads, span distribution and curriculum, magnitude
activation and phase). Every (configuration, seed) runs as its own process in
``OUT/<name>-s<seed>`` (``--jobs`` at a time, on one device; set
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` on a GPU so they share it), then
``python -m gl.evaluate RUN --seed EVAL_SEED`` measures it on a fresh test set. The
distilled result is ``OUT/<name>-s<seed>.json``: config name and flags, seed, accuracy,
horizon with its interval, accuracy by span, steps, wall time, device, JAX version and the
commands. Raw logs stay in ``OUT/<name>-s<seed>/train.log``.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def _config(text):
    name, sep, flags = text.partition("=")
    if not sep or not name or "/" in name or name != name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=FLAGS (NAME without '/'), got {text!r}")
    for bad in ("--out", "--seed", "--resume", "--overwrite"):
        if bad in shlex.split(flags):
            raise argparse.ArgumentTypeError(f"{name}: the study sets {bad} itself, got {flags!r}")
    return name, flags


def run_one(out, name, flags, seed, eval_seed, eval_samples, python=sys.executable, resume=False):
    """Train and evaluate one (configuration, seed); write and return its distilled JSON.

    ``resume``: continue the run from its ``train_state.npz`` where one is there (a run stopped
    at a device call's deadline and carried to the next call), else start it afresh.
    """
    run = os.path.join(out, f"{name}-s{seed}")
    os.makedirs(run, exist_ok=True)
    again = resume and os.path.exists(os.path.join(run, "train_state.npz"))
    train = [python, "-m", "gl.train", "memory-horizon", "--out", run, "--seed", str(seed),
             "--no-progress", "--resume" if again else "--overwrite", *shlex.split(flags)]
    evaluate = [python, "-m", "gl.evaluate", run, "--seed", str(eval_seed),
                "--samples", str(eval_samples)]
    t0 = time.time()
    with open(os.path.join(run, "train.log"), "w") as log:
        rc = subprocess.run(train, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.time() - t0
    result = {"config": name, "flags": flags, "seed": seed, "returncode": rc,
              "wall_s": round(wall, 1), "train_command": shlex.join(train[1:]),
              "eval_command": shlex.join(evaluate[1:])}
    if rc == 0:
        ev = subprocess.run(evaluate, capture_output=True, text=True)
        if ev.returncode == 0:
            rep = json.loads(ev.stdout)
            import numpy as np  # the checkpoint's provenance

            with np.load(os.path.join(run, "checkpoint.npz"), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
            result.update({
                "accuracy": rep["accuracy"], "horizon": rep["horizon"],
                "by_span": rep["by_span"], "eval_seed": eval_seed,
                "eval_samples": eval_samples, "transition": rep["transition"],
                "steps": meta.get("step"), "epochs": meta.get("epoch"),
                "device": meta.get("hardware"), "jax_version": meta.get("jax_version"),
                "date": meta.get("date")})
        else:
            result["error"] = ev.stderr[-2000:]
    else:
        with open(os.path.join(run, "train.log")) as f:
            result["error"] = f.read()[-2000:]
    with open(run + ".json", "w") as f:
        json.dump(result, f, indent=1)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for the runs and their JSON")
    p.add_argument("--config", type=_config, action="append", required=True,
                   help="NAME=FLAGS for python -m gl.train memory-horizon (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--jobs", type=int, default=1, help="concurrent processes")
    p.add_argument("--eval-seed", type=int, default=977, help="fresh test set's data seed")
    p.add_argument("--eval-samples", type=int, default=200)
    p.add_argument("--resume", action="store_true",
                   help="continue each run that has a train_state.npz in --out (same flags)")
    args = p.parse_args(argv)
    names = [n for n, _ in args.config]
    if len(set(names)) != len(names):
        p.error(f"--config: expected distinct names, got {names}")
    if args.jobs < 1 or min(args.seeds) < 0 or args.eval_samples < 1:
        p.error("--jobs, --eval-samples: expected >= 1; --seeds: expected >= 0")
    os.makedirs(args.out, exist_ok=True)
    todo = [(n, f, s) for n, f in args.config for s in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:  # each thread waits on its own process
        results = list(pool.map(lambda t: run_one(args.out, *t, args.eval_seed, args.eval_samples,
                                                   resume=args.resume), todo))
    for r in results:
        h = r.get("horizon") or {}
        acc = "–" if r.get("accuracy") is None else f"{r['accuracy']:.4f}"
        print(f"{r['config']:>16s} s{r['seed']}: rc {r['returncode']} accuracy {acc} "
              f"horizon {h.get('horizon')} [{h.get('lo')}, {h.get('hi')}] {r['wall_s']} s")
    return results


if __name__ == "__main__":
    main()
