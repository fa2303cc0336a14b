"""Checkpoints as ``.npz`` files without pickle (``np.load(path, allow_pickle=False)`` works).

A checkpoint holds:

* ``param/<path>``: one float32 array per parameter leaf (``<path>`` like ``layers/0/q/w``);
* ``config``: the task's model configuration as a JSON string (0-d unicode array), e.g.
  :class:`gl.tasks.memory_horizon.model.Config`;
* ``metrics``: one JSON string per evaluation (1-d unicode array), the last one final;
* ``meta``: a JSON string with the command, hardware, JAX version, date, step, epoch and notes.

A training state file (``train_state.npz``, for ``--resume``, not shipped) holds the
optimizer-state leaves ``opt/<i>``, the step, epoch and PRNG key data.
"""
from __future__ import annotations

import json
import os
from importlib import resources

import jax
import numpy as np

__all__ = ["save", "load", "flatten", "unflatten", "save_state", "load_state", "shipped"]


def _key_name(p) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(p, attr):
            return str(getattr(p, attr))
    raise TypeError(f"params: unsupported pytree node {p!r}")  # pragma: no cover


def flatten(params) -> dict:
    """``{"layers/0/q/w": array, ...}`` from a nested dict/list parameter pytree."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        flat["/".join(_key_name(p) for p in path)] = np.asarray(leaf)
    return flat


def unflatten(flat: dict):
    """Inverse of :func:`flatten`: integer path components become list indices."""
    root: dict = {}
    for name, arr in flat.items():
        parts = name.split("/")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = arr

    def listify(node):
        if not isinstance(node, dict):
            return node
        if node and all(k.isdigit() for k in node):
            return [listify(node[str(i)]) for i in range(len(node))]
        return {k: listify(v) for k, v in node.items()}

    return listify(root)


def _atomic_savez(path, arrays: dict):
    tmp = f"{path}.tmp.npz"
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)


def save(path, params, config, metrics=(), meta=None):
    """Write ``params`` (pytree), ``config`` (anything with ``to_json()``), ``metrics`` (list of
    dicts) and ``meta`` (dict)."""
    arrays = {f"param/{k}": v.astype(np.float32) for k, v in flatten(params).items()}
    arrays["config"] = np.array(config.to_json())
    arrays["metrics"] = np.array([json.dumps(m, sort_keys=True) for m in metrics] or [""], dtype=str)
    arrays["meta"] = np.array(json.dumps(meta or {}, sort_keys=True))
    _atomic_savez(path, arrays)


def load(path, config_type=None):
    """``(params, config, info)``; ``info = {"metrics": [dict, ...], "meta": dict}``. No pickle.

    ``config_type``: a class with ``from_json(text)`` (the task's model configuration, e.g.
    :class:`gl.tasks.memory_horizon.model.Config`); without it ``config`` is the parsed JSON dict.
    A task's model module passes its own class, so this module imports no task.
    """
    with np.load(path, allow_pickle=False) as z:
        flat = {k[len("param/"):]: jax.numpy.asarray(z[k]) for k in z.files if k.startswith("param/")}
        text = str(z["config"])
        config = json.loads(text) if config_type is None else config_type.from_json(text)
        metrics = [json.loads(s) for s in z["metrics"].tolist() if s]
        meta = json.loads(str(z["meta"]))
    return unflatten(flat), config, {"metrics": metrics, "meta": meta}


def save_state(path, opt_state, step: int, epoch: int, key_data):
    """Optimizer-state leaves, the step, the epoch and the PRNG key data (for ``--resume``)."""
    leaves = jax.tree_util.tree_leaves(opt_state)
    arrays = {f"opt/{i:04d}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays["step"] = np.array(step, np.int64)
    arrays["epoch"] = np.array(epoch, np.int64)
    arrays["key"] = np.asarray(key_data)
    _atomic_savez(path, arrays)


def load_state(path, opt_state_like):
    """``(opt_state, step, epoch, key_data)``; ``opt_state_like`` gives the tree structure."""
    treedef = jax.tree_util.tree_structure(opt_state_like)
    like = jax.tree_util.tree_leaves(opt_state_like)
    with np.load(path, allow_pickle=False) as z:
        leaves = [z[f"opt/{i:04d}"] for i in range(len(like))]
        step, epoch, key = int(z["step"]), int(z["epoch"]), z["key"]
    for i, (x, y) in enumerate(zip(leaves, like)):
        if x.shape != np.shape(y):
            raise ValueError(f"{path}: optimizer leaf {i}: expected shape {np.shape(y)}, got {x.shape}")
    return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(x) for x in leaves]), step, epoch, key


def shipped() -> dict:
    """``{name: path}`` of the checkpoints under ``gl/assets/checkpoints/<name>/checkpoint.npz``."""
    root = resources.files("gl") / "assets" / "checkpoints"
    out = {}
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir(), key=lambda p: p.name):
        f = d / "checkpoint.npz"
        if d.is_dir() and f.is_file():
            out[d.name] = str(f)
    return out
