"""Copy finished char-lm runs into ``gl/assets/char_lm/`` and write their summary.

``python -m gl.tasks.char_lm.ship RUN_DIR... [--dest DIR] [--prefix lm-] [--bf16]``

For each run directory (named ``<model>-s<seed>``, shipped as ``<prefix><model>-s<seed>``,
``lm-`` by default, so that no name is also a Memory Horizon checkpoint's, e.g. ``fixed-s0``;
the medium runs use ``lm-medium-``): ``checkpoint.npz`` (parameters in
float32, config, metrics, provenance; about 3.2 MB at the small size; with ``--bf16`` the
parameters are stored as bfloat16, half the bytes, and ``meta.param_storage`` says so) and
``metrics.jsonl`` are copied, and
``summary.json`` gets, per run, the final full validation loss, the best ``val_loss`` of the
periodic evaluations, the wall time and the throughput, and per model the mean and standard
deviation (``ddof=1``) over seeds. Throughput: ``steady_chars_per_s`` counts the training
characters (``batch × context`` per iteration) between the first and the last periodic
evaluation (compilation excluded, the small periodic evaluations included);
``end_to_end_chars_per_s`` divides all training characters by the whole wall time
(compilation and every evaluation included). A run whose training or validation loss became
NaN or infinite has ``diverged_at`` (the first such evaluation's step): its losses after that
are ``None``, its best is that of the evaluations before, and the per-model statistics leave
it out and list its seed under ``diverged_seeds``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
from importlib import resources

from gl.tasks import checkpoint
from gl.tasks.char_lm import model as cmodel

__all__ = ["run_summary", "summarize", "diverged_at", "main"]

#: nanoGPT's best validation loss at the same configuration (2,000 iterations), issue 31
NANOGPT_SMALL = 1.886
#: nanoGPT's shakespeare_char GPU baby GPT (6 x 6 heads x 384, context 256, 5,000 iterations)
NANOGPT_GPU = 1.4697


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


def diverged_at(metrics: list):
    """The step of the first evaluation whose training or validation loss is not finite, or
    ``None``."""
    return next((m["step"] for m in metrics
                 if not (_finite(m.get("train_loss", 0.0)) and _finite(m["val_loss"]))), None)


def run_summary(run_dir: str) -> dict:
    """One run's numbers from its ``checkpoint.npz``."""
    _, config, info = checkpoint.load(os.path.join(run_dir, "checkpoint.npz"))
    meta, metrics = info["meta"], info["metrics"]
    final = metrics[-1]
    if "val_loss_full" not in final:
        raise ValueError(f"{run_dir}: its checkpoint ends at step {final['step']}, before the "
                         "final evaluation (a run stopped while saving it?)")
    chars = meta["batch_size"] * config["context"]
    first, last = metrics[0], metrics[-2] if len(metrics) > 1 else metrics[0]
    steady = ((last["step"] - first["step"]) * chars / (last["elapsed_s"] - first["elapsed_s"])
              if last is not first else None)
    bad = diverged_at(metrics)
    before = [m["val_loss"] for m in metrics if bad is None or m["step"] < bad]
    finite = lambda x: x if _finite(x) else None  # noqa: E731
    return {"model": config["mixer"], "seed": meta["seed"], "n_params": meta["n_params"],
            "iters": meta["iters"], "val_loss_full": finite(final["val_loss_full"]),
            "best_val_loss": min(before) if before else None, "diverged_at": bad,
            "check_loss": finite(final["check_loss"]), "wall_s": final["wall_s"],
            "steady_chars_per_s": None if steady is None else round(steady),
            "end_to_end_chars_per_s": round(meta["iters"] * chars / final["wall_s"]),
            "command": meta["command"], "hardware": meta["hardware"],
            "jax_version": meta["jax_version"], "date": meta["date"], "note": meta["note"]}


def summarize(runs: list) -> dict:
    """Mean and standard deviation per model of the runs' summaries."""
    out = {}
    for model in sorted({r["model"] for r in runs}):
        every = [r for r in runs if r["model"] == model]
        rs = [r for r in every if r.get("diverged_at") is None]
        entry = {"seeds": sorted(r["seed"] for r in rs), "n_params": every[0]["n_params"],
                 "iters": every[0]["iters"],
                 "diverged_seeds": sorted(r["seed"] for r in every if r not in rs)}
        for key in ("val_loss_full", "best_val_loss", "wall_s", "steady_chars_per_s"):
            xs = [r[key] for r in rs if r[key] is not None]
            entry[key + "_mean"] = statistics.fmean(xs) if xs else None
            entry[key + "_std"] = statistics.stdev(xs) if len(xs) > 1 else None
        out[model] = entry
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gl.tasks.char_lm.ship")
    p.add_argument("runs", nargs="+")
    p.add_argument("--dest", default=str(resources.files("gl") / "assets" / "char_lm"))
    p.add_argument("--metrics-only", action="store_true",
                   help="ship metrics.jsonl and run.json (the summary with the config), no "
                        "checkpoint: for runs whose parameters exceed the 8 MB a file may take")
    p.add_argument("--anchor", type=float, default=NANOGPT_SMALL,
                   help="nanoGPT's best validation loss at the same configuration")
    p.add_argument("--prefix", default="lm-", help="the shipped names' prefix")
    p.add_argument("--bf16", action="store_true",
                   help="store the parameters as bfloat16 (half the bytes; gl.tasks.checkpoint)")
    args = p.parse_args(argv)
    if args.bf16 and args.metrics_only:
        p.error("--bf16: nothing to store with --metrics-only")
    runs = []
    for run in args.runs:
        name = os.path.basename(os.path.normpath(run))
        if not name.startswith(args.prefix):
            name = args.prefix + (name[3:] if name.startswith("lm-") else name)
        dest = os.path.join(args.dest, name)
        try:
            numbers = run_summary(run)
        except ValueError as e:  # one unfinished checkpoint does not stop the others
            print(f"not shipped: {e}", file=sys.stderr)
            continue
        os.makedirs(dest, exist_ok=True)
        if args.metrics_only:
            shutil.copyfile(os.path.join(run, "metrics.jsonl"), os.path.join(dest, "metrics.jsonl"))
            _, config, _ = checkpoint.load(os.path.join(run, "checkpoint.npz"))
            one = {"name": name, **numbers, "config": config}
            with open(os.path.join(dest, "run.json"), "w") as f:
                json.dump(one, f, indent=1, sort_keys=True)
            runs.append({k: v for k, v in one.items() if k != "config"})
        else:
            shutil.copyfile(os.path.join(run, "metrics.jsonl"), os.path.join(dest, "metrics.jsonl"))
            src, out = os.path.join(run, "checkpoint.npz"), os.path.join(dest, "checkpoint.npz")
            if args.bf16:
                params, config, info = cmodel.load_checkpoint(src)
                meta = {**info["meta"], "param_storage": "bfloat16 (python -m gl.tasks."
                        "char_lm.ship --bf16; trained and evaluated in float32)"}
                checkpoint.save(out, params, config, info["metrics"], meta,
                                param_dtype="bfloat16")
            else:
                shutil.copyfile(src, out)
            runs.append({"name": name, **numbers})
    summary = {"nanogpt_best_val_loss": args.anchor, "runs": runs, "models": summarize(runs)}
    os.makedirs(args.dest, exist_ok=True)
    with open(os.path.join(args.dest, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(summary["models"], indent=1, sort_keys=True))
    return summary


if __name__ == "__main__":
    main()
