"""The training loop every task shares: optimizer, jitted epochs, evaluation, checkpoints, resume.

A task (e.g. :mod:`gl.tasks.memory_horizon.train`) supplies what is its own: the model's
``loss(params, inputs, targets)``, the data, an ``evaluate(params, final)`` that returns a
metrics dict, and a :class:`Checkpoints` that saves and loads its parameters with
:mod:`gl.tasks.checkpoint`. :func:`fit` then runs (or resumes) the epochs and writes
``DIR/metrics.jsonl`` (one JSON object per evaluation), ``DIR/checkpoint.npz`` and
``DIR/train_state.npz`` (the optimizer state, for resuming).
"""
from __future__ import annotations

import json
import os
import time
import warnings
from typing import Callable, NamedTuple

import jax
import optax

from gl.tasks import checkpoint

__all__ = ["adamw", "make_epoch", "Checkpoints", "fit"]


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
        sched = optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, total_steps, end_value=0.0)
        return optax.adamw(sched, b1=b1, b2=b2, weight_decay=wd, mask=decay_mask)

    if group is None:
        return one(lr, weight_decay), warmup_steps
    group_lr = lr if group_lr is None else group_lr
    group_weight_decay = weight_decay if group_weight_decay is None else group_weight_decay
    labels = jax.tree_util.tree_map(lambda t: "group" if t else "default", group)
    tx = optax.multi_transform({"default": one(lr, weight_decay),
                                "group": one(group_lr, group_weight_decay)}, labels)
    return tx, warmup_steps


def make_epoch(loss: Callable, tx, batch_size: int):
    """A jitted ``epoch(params, opt_state, key, inputs, targets) -> (params, opt_state, mean_loss)``.

    ``loss(params, inputs, targets)``: a scalar. Shuffles with ``key``, drops the last partial
    batch and runs the steps in one ``lax.scan``.
    """

    @jax.jit
    def epoch(params, opt_state, key, inputs, targets):
        n = inputs.shape[0]
        steps = n // batch_size
        perm = jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)

        def step(carry, idx):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss)(params, inputs[idx], targets[idx])
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return params, opt_state, losses.mean()

    return epoch


class Checkpoints(NamedTuple):
    """Where a run keeps its files, and how the task's parameters are saved and loaded."""

    out: str  #: the run's directory
    config: object  #: the model configuration, saved with the parameters (``to_json()``)
    load: Callable  #: ``load(path) -> (params, config, info)``, e.g. ``model.load_checkpoint``

    def path(self, name):
        return os.path.join(self.out, name)


def fit(ck: Checkpoints, params, tx, epoch_fn, inputs, targets, *, epochs, key, evaluate,
        meta, steps_per_epoch, eval_every=10, checkpoint_every=10, resume=False, progress=None):
    """Train for ``epochs`` (resuming from ``ck.out`` with ``resume``); return the last metrics.

    ``evaluate(params, final) -> dict`` runs every ``eval_every`` epochs and after the last;
    ``epoch``, ``step``, ``train_loss`` and ``elapsed_s`` are added to what it returns.
    ``key`` shuffles epoch ``e`` by ``fold_in(key, e)``, so a resumed run sees the same batches
    as an uninterrupted one. ``meta`` (provenance) is saved in every checkpoint. ``progress``:
    a ``tqdm``-like bar, or None.
    """
    os.makedirs(ck.out, exist_ok=True)
    ck_path, st_path, mpath = ck.path("checkpoint.npz"), ck.path("train_state.npz"), ck.path("metrics.jsonl")
    opt_state, start, metrics = tx.init(params), 0, []
    if resume and os.path.exists(ck_path) and os.path.exists(st_path):
        params, old_config, info = ck.load(ck_path)
        if old_config != ck.config:
            raise ValueError(f"--resume: checkpoint config {old_config} differs from {ck.config}")
        opt_state, _, start, _ = checkpoint.load_state(st_path, opt_state)
        metrics = info["metrics"]
        with open(mpath, "w") as f:  # drop lines written after the checkpoint
            f.writelines(json.dumps(m, sort_keys=True) + "\n" for m in metrics)
    elif os.path.exists(mpath):
        os.remove(mpath)
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
            checkpoint.save(ck_path, params, ck.config, metrics, {**meta, "epoch": done, "step": done * steps_per_epoch})
            checkpoint.save_state(st_path, opt_state, done * steps_per_epoch, done, jax.random.key_data(key))
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    return last if last is not None else (metrics[-1] if metrics else {})
