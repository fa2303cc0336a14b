"""The validation loss of a character language model, and ``python -m gl.evaluate`` for it.

``loss``: the mean cross-entropy in nats per character over the non-overlapping windows of
``context`` characters that cover the split (:func:`gl.tasks.char_lm.data.eval_windows`; no
dropout exists). Every model, the transformer included, is scored on the same windows, so a
character is predicted from the 1 to ``context`` characters before it in its window.

The shipped checkpoints live in ``gl/assets/char_lm/lm-<model>-s<seed>/checkpoint.npz`` (the
small configuration) and ``gl/assets/char_lm_medium/lm-medium-<model>-s<seed>/checkpoint.npz``
(nanoGPT's larger CPU configuration, parameters stored as bfloat16).
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import resources

import jax
import numpy as np
import optax

from gl.tasks import checkpoint, loop
from gl.tasks.char_lm import data as cdata
from gl.tasks.char_lm import model as cmodel

__all__ = ["CHECK_WINDOWS", "cross_entropy", "mean_loss", "shipped_root", "shipped", "main"]

#: the first validation windows whose loss every run records as ``check_loss`` (tests)
CHECK_WINDOWS = 64


def cross_entropy(params, x, y, config, impl="auto"):
    """Per-character cross-entropy ``(B, L)`` in nats. GateLoop runs in :func:`gl.gate_loop`'s
    ``mode="auto"`` (the chunked form for these states: the parallel scan would hold a
    ``d_k × d_v`` state per character, 3 GB per layer for 128 windows at nanoGPT's GPU scale)."""
    logits = cmodel.apply(params, x, config, mode="auto", impl=impl)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y)


_ce_sum = jax.jit(lambda p, x, y, c, i: cross_entropy(p, x, y, c, i).sum(), static_argnums=(3, 4))


def mean_loss(params, config, x, y, batch_size: int = 128, impl: str = "auto") -> float:
    """Mean nats per character of windows ``x, y`` ``(N, L)`` (batches of ``batch_size``;
    ``impl``: :func:`gl.gate_loop`'s implementation)."""
    x, y = np.asarray(x), np.asarray(y)
    total = 0.0
    for i in range(0, len(x), batch_size):
        total += float(_ce_sum(params, x[i:i + batch_size], y[i:i + batch_size], config, impl))
    return total / y.size


def shipped_root():
    """``gl/assets/char_lm`` (checkpoints, metrics and ``summary.json``)."""
    return resources.files("gl") / "assets" / "char_lm"


def shipped(size: str = "all") -> dict:
    """``{name: path}`` of the shipped char-lm checkpoints, e.g. ``"lm-gateloop-s0"`` (small)
    or ``"lm-medium-gateloop-s0"`` (medium); ``size``: ``"small"``, ``"medium"`` or ``"all"``."""
    folders = {"small": ["char_lm"], "medium": ["char_lm_medium"],
               "all": ["char_lm", "char_lm_medium"]}
    if size not in folders:
        raise ValueError(f"size: expected one of {sorted(folders)}, got {size!r}")
    out: dict = {}
    for f in folders[size]:
        found = checkpoint.shipped(f)
        twice = sorted(set(found) & set(out))
        if twice:  # a medium run shipped without --prefix lm-medium- would hide a small one
            raise ValueError(f"shipped char-lm checkpoints: {twice} in both char_lm and {f}")
        out.update(found)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gl.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a char-lm checkpoint.npz, or a shipped name (lm-gateloop-s0, "
                   "lm-medium-gateloop-s0)")
    p.add_argument("--split", choices=["val", "train"], default="val")
    p.add_argument("--windows", type=loop.flag(int, 1), default=None,
                   help="score only the first N windows (default: the whole split)")
    args = p.parse_args(argv)
    try:
        path = checkpoint.resolve(args.checkpoint, shipped(), "char-lm ")
    except ValueError as e:
        p.error(str(e))
    try:  # a corrupt file or another task's: a usage error naming the file, not a traceback
        params, config, info = checkpoint.load_checked(path, cmodel.Config, cmodel.init)
    except checkpoint.CheckpointError as e:
        p.error(str(e))
    corpus = cdata.corpus()
    if config.vocab != corpus.vocab:
        p.error(f"checkpoint: its vocabulary ({len(config.vocab)} symbols) is not tiny "
                f"Shakespeare's ({len(corpus.vocab)})")
    ids = corpus.val if args.split == "val" else corpus.train
    x, y = cdata.eval_windows(ids, config.context, args.windows)
    out = {"checkpoint": path, "model": config.mixer, "split": args.split,
           "windows": int(len(x)), "characters": int(y.size),
           "loss": mean_loss(params, config, x, y)}
    json.dump(out, sys.stdout, indent=1)
    print()
    return out
