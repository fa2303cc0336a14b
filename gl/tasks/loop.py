"""The training loop every task shares: optimizer, jitted epochs, evaluation, checkpoints, resume.

A task (e.g. :mod:`gl.tasks.memory_horizon.train`) supplies what is its own: the model's
``loss(params, inputs, targets)``, the data, an ``evaluate(params, final)`` that returns a
metrics dict, and a :class:`Checkpoints` that saves and loads its parameters with
:mod:`gl.tasks.checkpoint`. :func:`fit` then runs (or resumes) the epochs and writes
``DIR/metrics.jsonl`` (one JSON object per evaluation), ``DIR/train_state.npz`` (parameters,
optimizer state and epoch in one file, for resuming) and ``DIR/checkpoint.npz`` (the same
without the optimizer state). It refuses to resume without a checkpoint, to start over in a
non-empty directory unless asked to overwrite, and to resume another run's checkpoint.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
import warnings
from typing import Callable, NamedTuple

import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gl._flags import flag  # noqa: F401  (gl.tasks.loop.flag, as the CLIs use it)
from gl.tasks import checkpoint

__all__ = ["hardware", "lr_schedule", "adamw", "make_epoch", "RunRefused", "Checkpoints", "RUN_FILES", "PROVENANCE", "fit", "flag",
           "parse_mesh", "replicate", "batch_split"]


def hardware() -> str:
    """The machine a run's provenance names: ``"platform:device_kind xN; arch M cpus"``."""
    d = jax.devices()[0]
    return (f"{d.platform}:{getattr(d, 'device_kind', '?')} x{jax.device_count()}; "
            f"{platform.machine()} {os.cpu_count()} cpus")


def lr_schedule(peak, warmup_steps, total_steps):
    """The learning rate at each optimizer step, as :func:`adamw` uses it: a linear warm-up
    from 0 to ``peak`` over ``warmup_steps``, then a cosine down to 0 at ``total_steps``."""
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, total_steps,
                                              end_value=0.0)


def adamw(params, *, lr, warmup_steps, total_steps, b1=0.9, b2=0.98, weight_decay=0.05,
          group=None, group_lr=None, group_weight_decay=None):
    """AdamW with linear warm-up and cosine decay to 0; a second parameter group if asked.

    Weight decay applies to arrays of ≥ 2 dimensions (weight matrices, embeddings) only.
    ``group``: a pytree of bools like ``params`` marking the parameters that get ``group_lr``
    and ``group_weight_decay`` (``lr`` and ``weight_decay`` when None). Returns
    ``(optimizer, warmup_steps_used)``; the warm-up is cut to ``total_steps // 2`` (with a
    warning) when it would not fit in ``total_steps``.
    """
    if total_steps < 2:
        raise ValueError(f"total_steps: expected at least 2 optimizer steps (raise --epochs or "
                         f"--samples), got {total_steps}")
    if warmup_steps >= total_steps:
        used = max(total_steps // 2, 1)
        warnings.warn(f"warmup_steps={warmup_steps} >= total_steps={total_steps}: using {used}")
        warmup_steps = used
    decay_mask = jax.tree_util.tree_map(lambda x: x.ndim >= 2, params)

    def one(peak, wd):
        return optax.adamw(lr_schedule(peak, warmup_steps, total_steps), b1=b1, b2=b2, weight_decay=wd, mask=decay_mask)

    if group is None:
        return one(lr, weight_decay), warmup_steps
    group_lr = lr if group_lr is None else group_lr
    group_weight_decay = weight_decay if group_weight_decay is None else group_weight_decay
    labels = jax.tree_util.tree_map(lambda t: "group" if t else "default", group)
    tx = optax.multi_transform({"default": one(lr, weight_decay),
                                "group": one(group_lr, group_weight_decay)}, labels)
    return tx, warmup_steps


def parse_mesh(text: str) -> Mesh:
    """``"data=4"`` (``NAME=SIZE`` pairs joined by ``,``) as a :class:`jax.sharding.Mesh` over
    the first local devices; a ``ValueError`` naming ``--mesh`` for a bad text or too few."""
    try:
        pairs = [(n.strip(), int(s)) for n, s in (p.split("=") for p in text.split(","))]
    except ValueError:
        raise ValueError(f"--mesh: expected NAME=SIZE[,NAME=SIZE], e.g. data=4, got {text!r}") \
            from None
    sizes = [s for _, s in pairs]
    if any(s < 1 for s in sizes) or len({n for n, _ in pairs}) != len(pairs):
        raise ValueError(f"--mesh: expected distinct names and sizes >= 1, got {text!r}")
    if math.prod(sizes) > jax.device_count():
        raise ValueError(f"--mesh: {text!r} needs {math.prod(sizes)} devices, found "
                         f"{jax.device_count()}")
    devices = np.array(jax.devices()[:math.prod(sizes)]).reshape(sizes)
    return Mesh(devices, tuple(n for n, _ in pairs))


def replicate(tree, mesh: Mesh):
    """Every array of ``tree`` copied to all devices of ``mesh`` (data parallelism's parameters)."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def batch_split(mesh: Mesh | None, batch_size: int, axis="data") -> Callable:
    """``x -> x`` with its leading (batch) axis split over ``mesh``'s ``axis`` (a sharding
    constraint, inside jit), or unchanged without a mesh; a ``ValueError`` naming ``mesh`` or
    ``batch_size`` when the axis is missing or does not divide the batch."""
    if mesh is None:
        return lambda x: x
    if axis not in mesh.axis_names:
        raise ValueError(f"mesh: expected an axis {axis!r}, got axes {mesh.axis_names}")
    if batch_size % mesh.shape[axis]:
        raise ValueError(f"batch_size: expected a multiple of the {mesh.shape[axis]} "
                         f"devices of mesh axis {axis!r}, got {batch_size}")
    sharding = NamedSharding(mesh, PartitionSpec(axis))
    return lambda x: jax.lax.with_sharding_constraint(x, sharding)


def make_epoch(loss: Callable, tx, batch_size: int, mesh: Mesh | None = None, axis="data"):
    """A jitted ``epoch(params, opt_state, key, inputs, targets) -> (params, opt_state, mean_loss)``.

    ``loss(params, inputs, targets)``: a scalar. Shuffles with ``key``, drops the last partial
    batch and runs the steps in one ``lax.scan``. With a ``mesh``, each batch is split over
    its ``axis`` (data parallelism: pass replicated parameters, :func:`replicate`); the
    compiler then sums the gradients across devices, so a step sees the same global batch.
    """
    split = batch_split(mesh, batch_size, axis)

    @jax.jit
    def epoch(params, opt_state, key, inputs, targets):
        n = inputs.shape[0]
        steps = n // batch_size
        perm = jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)

        def step(carry, idx):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss)(params, split(inputs[idx]), split(targets[idx]))
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return params, opt_state, losses.mean()

    return epoch


class RunRefused(Exception):
    """The run directory does not fit the flags (not empty, nothing to resume, another run's
    files): ``python -m gl.train`` reports it as a usage error, without a traceback."""


class RunExists(RunRefused, FileExistsError):
    pass


class NothingToResume(RunRefused, FileNotFoundError):
    pass


class OtherRun(RunRefused, ValueError):
    pass


class ResumeRefused(RunRefused, checkpoint.CheckpointError):
    """``--resume`` from a ``train_state.npz`` that is corrupt or of another config: the
    checkpoint's error (naming the file and the field), reported as a usage error."""


class Checkpoints(NamedTuple):
    """Where a run keeps its files, and the configuration saved with its parameters."""

    out: str  #: the run's directory
    config: object  #: the model configuration (``to_json()``, ``from_json(text)``, ``==``)

    def path(self, name):
        return os.path.join(self.out, name)


#: the files :func:`fit` writes in a run's directory (and removes with ``overwrite``)
RUN_FILES = ("metrics.jsonl", "checkpoint.npz", "train_state.npz")
#: ``meta`` keys that record where and when, not what: they may differ on resume
PROVENANCE = frozenset({"command", "date", "hardware", "jax_version", "optax_version", "python",
                        "epoch", "step", "mesh"})


def _same(path, old: dict, new: dict, skip=frozenset()):
    diffs = checkpoint.differences(old, new, skip)
    if diffs:
        raise OtherRun(f"--resume: {path} was written by another run: " + "; ".join(diffs))


def _prepare(ck: Checkpoints, resume: bool, overwrite: bool):
    """Check the run directory against ``resume`` / ``overwrite``; clear it for a fresh run."""
    if resume and overwrite:
        raise OtherRun("resume and overwrite: expected at most one, got both (--resume "
                         "continues the run in the directory, --overwrite starts it again)")
    found = sorted(os.listdir(ck.out)) if os.path.isdir(ck.out) else []
    if resume and "train_state.npz" not in found:
        raise NothingToResume(f"--resume: {ck.out} holds no checkpoint to resume from (expected "
                                f"train_state.npz, found {', '.join(found) or 'nothing'})")
    if not resume and found:
        if not overwrite:
            raise RunExists(f"{ck.out} is not empty ({', '.join(found)}): pass --resume to "
                                  "continue that run or --overwrite to start it again")
        for name in found:
            if name in RUN_FILES or any(name == f + ".tmp.npz" for f in RUN_FILES):
                os.remove(ck.path(name))
    os.makedirs(ck.out, exist_ok=True)


def _export_epoch(path):
    try:
        return checkpoint.load(path)[2]["meta"].get("epoch")
    except (FileNotFoundError, checkpoint.CheckpointError):
        return None


def fit(ck: Checkpoints, params, tx, epoch_fn, inputs, targets, *, epochs, key, evaluate,
        meta, steps_per_epoch, eval_every=10, checkpoint_every=10, resume=False, overwrite=False,
        progress=None, mesh: Mesh | None = None):
    """Train for ``epochs`` (resuming from ``ck.out`` with ``resume``); return the last metrics.

    ``evaluate(params, final) -> dict`` runs every ``eval_every`` epochs and after the last;
    ``epoch``, ``step``, ``train_loss`` and ``elapsed_s`` are added to what it returns.
    ``key`` shuffles epoch ``e`` by ``fold_in(key, e)``, so a resumed run sees the same batches
    as an uninterrupted one. ``meta`` (provenance and run settings) is saved in every checkpoint.
    ``progress``: a ``tqdm``-like bar, or None. ``mesh``: the parameters and the optimizer
    state, fresh or resumed, are replicated over it (:func:`replicate`), as ``epoch_fn``
    returns them, so that its second epoch reuses the first one's compilation.

    The run's directory: without ``resume`` it must be empty or absent (``overwrite`` removes
    the files of :data:`RUN_FILES` first; others stay). ``train_state.npz`` is the one file
    ``resume`` reads (parameters, optimizer state, epoch, metrics; written atomically);
    ``checkpoint.npz`` is the same without the optimizer state, for evaluation and shipping.
    ``resume`` refuses a state whose config, or ``meta`` other than :data:`PROVENANCE`,
    differs from this run's (the message names the field).
    """
    _prepare(ck, resume, overwrite)
    ck_path, st_path, mpath = ck.path("checkpoint.npz"), ck.path("train_state.npz"), ck.path("metrics.jsonl")
    opt_state, start, metrics = tx.init(params), 0, []
    if resume:
        try:
            run = checkpoint.load_run(st_path, type(ck.config), params, opt_state, ck.config)
        except checkpoint.CheckpointError as e:
            raise ResumeRefused(f"--resume: {e}") from e
        _same(st_path, run.meta, meta, PROVENANCE)
        _same(st_path, {"key": run.key.tolist()}, {"key": np.asarray(jax.random.key_data(key)).tolist()})
        params, opt_state, start, metrics = run.params, run.opt_state, run.epoch, run.metrics
        old = _export_epoch(ck_path)
        if old != start:  # a crash between the two writes: the export follows the state
            if old is not None:
                warnings.warn(f"{ck_path} is at epoch {old} but {st_path} at epoch {start}: "
                              "resuming from the latter and rewriting the former")
            checkpoint.save(ck_path, params, ck.config, metrics, run.meta)
        with open(mpath, "w") as f:  # drop lines written after the checkpoint
            f.writelines(json.dumps(m, sort_keys=True) + "\n" for m in metrics)
    if mesh is not None:
        params, opt_state = replicate((params, opt_state), mesh)
    k_shuffle = jax.random.split(key)[1]
    t0, last = time.time(), None
    if progress is not None:
        progress.update(start)
    for ep in range(start, epochs):
        params, opt_state, loss = epoch_fn(params, opt_state, jax.random.fold_in(k_shuffle, ep), inputs, targets)
        done = ep + 1
        final = done == epochs
        if done % eval_every == 0 or final:
            last = {"epoch": done, "step": done * steps_per_epoch, "train_loss": float(loss),
                    **evaluate(params, final), "elapsed_s": round(time.time() - t0, 2)}
            metrics.append(last)
            with open(mpath, "a") as f:
                f.write(json.dumps(last, sort_keys=True) + "\n")
            if progress is not None:
                progress.set_postfix(loss=f"{float(loss):.3f}")
        if done % checkpoint_every == 0 or final:
            m = {**meta, "epoch": done, "step": done * steps_per_epoch}
            state = checkpoint.TrainState(opt_state, done * steps_per_epoch, done, jax.random.key_data(key))
            checkpoint.save(st_path, params, ck.config, metrics, m, state=state)  # resume reads this
            checkpoint.save(ck_path, params, ck.config, metrics, m)
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    return last if last is not None else (metrics[-1] if metrics else {})


def add_run_flags(p: argparse.ArgumentParser):
    """The flags every training CLI shares: ``--resume`` and ``--overwrite`` (exclusive; what
    :func:`fit` does with a ``DIR`` that holds files) and ``--no-progress``."""
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from DIR's last checkpoint")
    again.add_argument("--overwrite", action="store_true",
                       help="start again in a DIR that holds files (without it: an error)")
    p.add_argument("--no-progress", action="store_true")
