"""Distil device calls of ``experiments/device_batch.sh`` (each one's ``results.tgz``, unpacked)
into the small JSON files the book reads, with provenance.

    python experiments/distill_device.py --call RESULTS_DIR 2026-12-05 0.11.2 [--call ...]

Writes ``gl/assets/char_lm/gpu_runs.json`` (char-lm runs at nanoGPT's GPU scale: validation
curve, best loss, the schedule's length ``iters``, iterations reached, status, command; for a
run the batch shipped, its parameter count and steady-state characters per second) and
``gl/assets/checkpoints/study_gpu.json`` (Memory Horizon study runs: test accuracy against
epochs, and the fresh-test-set accuracy and horizon of the last checkpoint). Runs stopped at
the call's deadline are kept and marked ``"stopped"``: their curves are real, their schedules
unfinished. A char-lm run whose losses became NaN or infinite is ``"diverged"``, with
``diverged_at`` (the step of that evaluation); its curve has ``None`` from there and its best
is that of the evaluations before. With several calls (``--call`` in the order they ran),
``calls`` lists each call's provenance and every run names its call (``"call"``: index into
``calls``); a run name that several calls trained (a stopped run started again, or a run
repeated after a fix) keeps the run that got furthest, at equal reach the later one; the
other is listed under ``superseded``. A job that failed before its first evaluation has no
run; its call's provenance names it under ``failed``.
"""
from __future__ import annotations

import argparse
import json
import os
import re

from gl.tasks.char_lm.ship import diverged_at
# the Memory Horizon study's epochs when a run's flags give none: the trainer's default
from gl.tasks.memory_horizon.train import PAPER_EPOCHS


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def distill_call(root, date, jax_version):
    batch = json.load(open(os.path.join(root, "batch", "batch.json")))
    prov = {"device": batch["device"], "date": date, "jax_version": jax_version,
            "concurrent_jobs": batch["n_jobs"], "deadline_s": batch["deadline_s"],
            "script": "experiments/device_batch.sh", "distilled_by": "experiments/distill_device.py"}
    lm, mh = {}, {}
    for name, job in sorted(batch["jobs"].items()):
        kind, _, run = name.partition("-")
        if job["status"] == "failed" and not os.path.exists(os.path.join(root, kind, run, "metrics.jsonl")):
            # failed before its first evaluation (e.g. a flag the model refused): named, no run
            prov.setdefault("failed", []).append(name)
            continue
        if job["status"] == "not started":
            continue
        if kind == "lm":
            ms = _jsonl(os.path.join(root, "lm", run, "metrics.jsonl"))
            bad = diverged_at(ms)  # NaN or inf losses from this evaluation on
            ok = lambda m: bad is None or m["step"] < bad  # noqa: E731  (before the NaN)
            before = [m for m in ms if ok(m)]
            best = min(before, key=lambda m: m["val_loss"]) if before else None
            # a run stopped after its last evaluation (while saving) still finished its schedule
            status = ("diverged" if bad is not None else
                      "done" if "val_loss_full" in ms[-1] else job["status"])
            # the schedule's length: the recipe's --iters or a later one (the last flag wins)
            iters = int(re.findall(r"--iters (\d+)", job["command"])[-1])
            lm[run] = {"status": status, "wall_s": job.get("wall_s"), "iters": iters,
                       "command": job["command"], "iters_reached": ms[-1]["step"],
                       "best_val_loss": best and best["val_loss"],
                       "best_step": best and best["step"], "diverged_at": bad,
                       "curve": [[m["step"], round(m["val_loss"], 5) if ok(m) else None,
                                  m["elapsed_s"]] for m in ms]}
            shipped = os.path.join(root, "ship", f"lm-{run}", "run.json")
            if os.path.exists(shipped):  # a finished run's record: parameters and throughput
                rec = json.load(open(shipped))
                lm[run].update({k: rec[k] for k in ("n_params", "steady_chars_per_s")})
        elif kind == "mh":
            ms = _jsonl(os.path.join(root, "mh", run, "metrics.jsonl"))
            final = os.path.join(root, "mh", run + ".json")
            ev = json.load(open(final if os.path.exists(final) else
                                os.path.join(root, "mh", run + ".stopped.json")))
            # a run stopped while it was saving or being evaluated still finished its schedule
            flag = re.search(r"--epochs (\d+)", job["command"])
            done = ms[-1]["epoch"] >= (int(flag[1]) if flag else PAPER_EPOCHS)
            mh[run] = {"status": "done" if done else job["status"], "wall_s": job.get("wall_s"),
                       "command": job["command"], "epochs_reached": ms[-1]["epoch"],
                       "fresh_accuracy": ev["accuracy"], "horizon": ev["horizon"],
                       "curve": [[m["epoch"], round(m["test_accuracy"], 5)] for m in ms]}
    return {"provenance": prov, "runs": lm}, {"provenance": prov, "runs": mh}


def _reach(run):
    return run.get("iters_reached", run.get("epochs_reached"))


def distill(calls):
    """``calls``: ``[(root, date, jax_version), ...]`` in the order they ran; returns the merged
    ``(lm, mh)`` documents."""
    out = ({"calls": [], "runs": {}}, {"calls": [], "runs": {}})
    for i, call in enumerate(calls):
        for doc, part in zip(out, distill_call(*call)):
            doc["calls"].append(part["provenance"])
            for name, run in part["runs"].items():
                run, old = {**run, "call": i}, doc["runs"].get(name)
                if old is not None and _reach(old) > _reach(run):
                    run, old = old, run
                if old is not None:  # the same run, started again: the one that got furthest
                    run.setdefault("superseded", []).append(
                        {k: old[k] for k in ("call", "status", "best_val_loss", "best_step",
                                             "iters_reached") if k in old}
                        if "iters_reached" in old else
                        {k: old[k] for k in ("call", "status", "fresh_accuracy", "horizon",
                                             "epochs_reached")})
                doc["runs"][name] = run
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--call", nargs=3, action="append", required=True,
                   metavar=("RESULTS_DIR", "DATE", "JAX_VERSION"))
    p.add_argument("--assets", default=os.path.join(os.path.dirname(__file__), "..", "gl", "assets"))
    args = p.parse_args(argv)
    lm, mh = distill([tuple(c) for c in args.call])
    for data, rel in ((lm, "char_lm/gpu_runs.json"), (mh, "checkpoints/study_gpu.json")):
        with open(os.path.join(args.assets, rel), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print(rel, sorted(data["runs"]))


if __name__ == "__main__":
    main()
