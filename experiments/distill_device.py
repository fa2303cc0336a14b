"""Distil one device call of ``experiments/device_batch.sh`` (its ``results.tgz``, unpacked)
into the small JSON files the book reads, with provenance.

    python experiments/distill_device.py RESULTS_DIR --date 2026-12-05 --jax 0.11.2

Writes ``gl/assets/char_lm/gpu_runs.json`` (char-lm runs at nanoGPT's GPU scale: validation
curve, best loss, iterations reached, status, command) and
``gl/assets/checkpoints/study_gpu.json`` (Memory Horizon study runs: test accuracy against
epochs, and the fresh-test-set accuracy and horizon of the last checkpoint). Runs stopped at
the call's deadline are kept and marked ``"stopped"``: their curves are real, their schedules
unfinished.
"""
from __future__ import annotations

import argparse
import json
import os


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def distill(root, date, jax_version):
    batch = json.load(open(os.path.join(root, "batch", "batch.json")))
    prov = {"device": batch["device"], "date": date, "jax_version": jax_version,
            "concurrent_jobs": batch["n_jobs"], "deadline_s": batch["deadline_s"],
            "script": "experiments/device_batch.sh", "distilled_by": "experiments/distill_device.py"}
    lm, mh = {}, {}
    for name, job in sorted(batch["jobs"].items()):
        if job["status"] == "not started":
            continue
        kind, _, run = name.partition("-")
        if kind == "lm":
            ms = _jsonl(os.path.join(root, "lm", run, "metrics.jsonl"))
            best = min(ms, key=lambda m: m["val_loss"])
            lm[run] = {"status": job["status"], "wall_s": job.get("wall_s"),
                       "command": job["command"], "iters_reached": ms[-1]["step"],
                       "best_val_loss": best["val_loss"], "best_step": best["step"],
                       "curve": [[m["step"], round(m["val_loss"], 5), m["elapsed_s"]] for m in ms]}
        elif kind == "mh":
            ms = _jsonl(os.path.join(root, "mh", run, "metrics.jsonl"))
            final = os.path.join(root, "mh", run + ".json")
            ev = json.load(open(final if os.path.exists(final) else
                                os.path.join(root, "mh", run + ".stopped.json")))
            mh[run] = {"status": job["status"], "wall_s": job.get("wall_s"),
                       "command": job["command"], "epochs_reached": ms[-1]["epoch"],
                       "fresh_accuracy": ev["accuracy"], "horizon": ev["horizon"],
                       "curve": [[m["epoch"], round(m["test_accuracy"], 5)] for m in ms]}
    return {"provenance": prov, "runs": lm}, {"provenance": prov, "runs": mh}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root")
    p.add_argument("--date", required=True)
    p.add_argument("--jax", required=True)
    p.add_argument("--assets", default=os.path.join(os.path.dirname(__file__), "..", "gl", "assets"))
    args = p.parse_args(argv)
    lm, mh = distill(args.root, args.date, args.jax)
    for data, rel in ((lm, "char_lm/gpu_runs.json"), (mh, "checkpoints/study_gpu.json")):
        with open(os.path.join(args.assets, rel), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print(rel, sorted(data["runs"]))


if __name__ == "__main__":
    main()
