"""Accuracy of a Memory Horizon model, overall and by required memory span (Figure 6, Figure 7).

Accuracy definitions (the paper does not say which it uses):

* ``accuracy`` (the headline number): per-token accuracy over **all** positions of all test
  samples, i.e. ``mean(argmax logits == target)`` over ``N × L`` tokens. It includes the
  reset positions, whose target is always 0 (about 3 in 1024 tokens, so they move it by
  at most 0.003);
* ``accuracy_no_reset``: the same over positions that are not reset tokens;
* ``accuracy_after_first_reset``: over non-reset positions after the first reset of a sample;
* ``by_span``: per-token accuracy over positions whose required memory span (tokens since the
  last reset, see :mod:`gl.tasks.memory_horizon.data`) lies in ``[lo, hi)``, for the bins :data:`SPAN_BINS`
  (the bin ``[0, 1)`` is the reset tokens); a bin without tokens has ``accuracy`` ``None``;
* ``horizon``: the 50 % horizon with a 95 % bootstrap interval over the test samples
  (:func:`gl.tasks.memory_horizon.horizon.horizon_interval`, seed ``boot_seed``).

``python -m gl.evaluate CHECKPOINT --seed S --samples N`` prints these as JSON for a freshly
generated set (Table 2's other parameters); ``CHECKPOINT`` is a ``checkpoint.npz``, a run
directory holding one, or a shipped name. The checkpoint's parameters are checked against
its config first (:func:`gl.tasks.checkpoint.load_checked`); a ``--seed`` equal to the run's
training data seed is refused (that set is not a fresh test set).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gl.tasks import checkpoint, loop
from gl.tasks.memory_horizon import data as gdata
from gl.tasks.memory_horizon import horizon as ghorizon
from gl.tasks.memory_horizon import model as gmodel

__all__ = ["SPAN_BINS", "predict", "report", "main"]

SPAN_BINS = ghorizon.SPAN_BINS  # the bins of Fig. 7, defined with the metric


@partial(jax.jit, static_argnums=(2,))
def _predict_batch(params, tokens, config, targets):
    logits = gmodel.apply(params, tokens, config)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    return jnp.argmax(logits, -1).astype(jnp.int32), ce


def predict(params, config, inputs, targets, batch_size=32):
    """``(predictions, cross_entropy)`` ``(N, L)`` for a set, in batches of ``batch_size``."""
    preds, ces = [], []
    for i in range(0, inputs.shape[0], batch_size):
        p, c = _predict_batch(params, jnp.asarray(inputs[i:i + batch_size]), config,
                              jnp.asarray(targets[i:i + batch_size]))
        preds.append(np.asarray(p))
        ces.append(np.asarray(c))
    return np.concatenate(preds), np.concatenate(ces)


def report(params, config, ds: gdata.MemoryHorizon, batch_size=32, reset=None, boot_seed=0,
           n_boot=1000) -> dict:
    """All the accuracies of the module docstring and the mean cross-entropy ``loss`` for ``ds``."""
    reset = gdata.reset_id() if reset is None else reset
    pred, ce = predict(params, config, ds.inputs, ds.targets, batch_size)
    correct = pred == ds.targets
    is_reset = ds.inputs == reset
    after_first = np.cumsum(is_reset, axis=1) > 0
    sel_after = after_first & ~is_reset
    by_span = ghorizon.accuracy_by_span(correct, ds.spans, SPAN_BINS)
    return {
        "accuracy": float(correct.mean()),
        "accuracy_no_reset": float(correct[~is_reset].mean()),
        "accuracy_after_first_reset": float(correct[sel_after].mean()) if sel_after.any() else None,
        "loss": float(ce.mean()),
        "n_tokens": int(correct.size),
        "by_span": by_span,
        "horizon": ghorizon.horizon_interval(correct, ds.spans, seed=boot_seed, n_boot=n_boot),
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gl.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a checkpoint.npz, a run directory holding one, or the "
                   "name of a shipped one (e.g. data-s0)")
    p.add_argument("--seed", type=loop.flag(int, 0, 2**32 - 1), default=1000,
                   help="seed of the fresh test set")
    p.add_argument("--samples", type=loop.flag(int, 1), default=200)
    p.add_argument("--batch-size", type=loop.flag(int, 1), default=32)
    p.add_argument("--boot-seed", type=loop.flag(int, 0, 2**32 - 1), default=0,
                   help="seed of the bootstrap interval of the horizon")
    p.add_argument("--n-boot", type=loop.flag(int, 1), default=1000)
    args = p.parse_args(argv)
    path = args.checkpoint
    if os.path.isdir(path):
        path = os.path.join(path, "checkpoint.npz")
        if not os.path.exists(path):
            p.error(f"checkpoint: the directory {args.checkpoint!r} holds no checkpoint.npz")
    try:
        path = checkpoint.resolve(path, gmodel.shipped_checkpoints())
    except ValueError as e:
        p.error(str(e))
    try:  # a corrupt file or another task's: a usage error naming the file, not a traceback
        params, config, info = checkpoint.load_checked(path, gmodel.Config, gmodel.init)
    except checkpoint.CheckpointError as e:
        p.error(str(e))
    data_seed = (info.get("meta") or {}).get("data_seed")
    if data_seed is not None and args.seed == data_seed:
        p.error(f"--seed: {args.seed} is the training data seed of {path} (not a fresh "
                "test set); pick another")
    ds = gdata.memory_horizon(args.seed, n_samples=args.samples, max_output=config.vocab_out)
    out = {"checkpoint": path, "transition": config.transition, "mixer": config.mixer,
           "seed": args.seed,
           "samples": args.samples, **report(params, config, ds, args.batch_size, boot_seed=args.boot_seed,
                     n_boot=args.n_boot)}
    json.dump(out, sys.stdout, indent=1)
    print()
    return out


if __name__ == "__main__":
    main()
