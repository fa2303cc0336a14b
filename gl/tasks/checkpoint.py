"""Checkpoints as ``.npz`` files without pickle (``np.load(path, allow_pickle=False)`` works).

A checkpoint holds:

* ``param/<path>``: one float32 array per parameter leaf (``<path>`` like ``layers/0/q/w``),
  or, for a checkpoint saved with ``param_dtype="bfloat16"`` (half the bytes, for shipping),
  ``param_bf16/<path>``: the bfloat16 bits of each leaf as ``uint16`` (rounded to nearest,
  ties to even); :func:`load` widens them back to float32 exactly;
* ``config``: the task's model configuration as a JSON string (0-d unicode array), e.g.
  :class:`gl.tasks.memory_horizon.model.Config`;
* ``metrics``: one JSON string per evaluation (1-d unicode array), the last one final;
* ``meta``: a JSON string with the command, hardware, JAX version, date, step, epoch and notes;
* optionally the training state (``save(..., state=TrainState(...))``): the optimizer-state
  leaves ``state/opt/<i>``, ``state/step``, ``state/epoch`` and the PRNG key data
  ``state/key``. A run's ``train_state.npz`` is such a file: parameters and optimizer state in
  one file, written to a temporary name and renamed, so ``--resume`` never mixes two epochs.

:func:`load` and :func:`load_run` raise :class:`CheckpointError` (naming the file) for a
corrupt or truncated file, a missing entry, a pickled object array or entries that disagree.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from importlib import resources
from typing import NamedTuple

import jax
import numpy as np

__all__ = ["CheckpointError", "TrainState", "Run", "save", "load", "load_checked", "load_run", "check_like",
           "differences", "PARAM_DTYPES", "to_bf16_bits", "from_bf16_bits",
           "flatten", "unflatten", "shipped", "resolve"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: corrupt, incomplete or not what was expected."""


class TrainState(NamedTuple):
    """What ``--resume`` needs besides the parameters."""

    opt_state: object  #: the optimizer state (a pytree)
    step: int
    epoch: int
    key: object  #: PRNG key data (``jax.random.key_data``)


class Run(NamedTuple):
    """A checkpoint with its training state, as :func:`load_run` returns it."""

    params: object
    config: object
    metrics: list
    meta: dict
    opt_state: object
    step: int
    epoch: int
    key: np.ndarray


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
    path = os.fspath(path)
    tmp = f"{path}.tmp.npz"
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _numeric(what, name, x):
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{what} {name}: expected a numeric array, got dtype {x.dtype} "
                        "(an object array would need pickle, which checkpoints never use)")
    return x


PARAM_DTYPES = ("float32", "bfloat16")


def to_bf16_bits(x) -> np.ndarray:
    """The bfloat16 bits (``uint16``) of ``x`` rounded to nearest, ties to even."""
    return np.asarray(x, np.float32).astype(jax.numpy.bfloat16).view(np.uint16)


def from_bf16_bits(bits) -> np.ndarray:
    """float32 values of bfloat16 ``bits`` (``uint16``); exact: bfloat16 is float32's top half."""
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def save(path, params, config, metrics=(), meta=None, state: TrainState | None = None,
         param_dtype: str = "float32"):
    """Write ``params`` (pytree), ``config`` (anything with ``to_json()``), ``metrics`` (list of
    dicts), ``meta`` (dict) and, if given, the training ``state``, in one file, atomically.

    With ``state``, ``meta["epoch"]`` (when present) must equal ``state.epoch``.
    ``param_dtype``: ``"float32"``, or ``"bfloat16"`` to store the parameters in half the bytes
    (for shipping; not with ``state``: resuming needs the float32 parameters).
    """
    if param_dtype not in PARAM_DTYPES:
        raise ValueError(f"param_dtype: expected one of {PARAM_DTYPES}, got {param_dtype!r}")
    if param_dtype == "bfloat16" and state is not None:
        raise ValueError("param_dtype: 'bfloat16' with a training state; resuming needs the "
                         "float32 parameters (save the state with param_dtype='float32')")
    flat = {k: _numeric("params:", k, v) for k, v in flatten(params).items()}
    if param_dtype == "float32":
        arrays = {f"param/{k}": v.astype(np.float32) for k, v in flat.items()}
    else:
        arrays = {f"param_bf16/{k}": to_bf16_bits(v) for k, v in flat.items()}
    arrays["config"] = np.array(config.to_json())
    arrays["metrics"] = np.array([json.dumps(m, sort_keys=True) for m in metrics] or [""], dtype=str)
    meta = dict(meta or {})
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    if state is not None:
        if meta.get("epoch", state.epoch) != state.epoch:
            raise ValueError(f"state: meta epoch {meta['epoch']} differs from state epoch {state.epoch}")
        for i, x in enumerate(jax.tree_util.tree_leaves(state.opt_state)):
            arrays[f"state/opt/{i:04d}"] = _numeric("state: optimizer leaf", i, x)
        arrays["state/step"] = np.array(state.step, np.int64)
        arrays["state/epoch"] = np.array(state.epoch, np.int64)
        arrays["state/key"] = _numeric("state:", "key", state.key)
    _atomic_savez(path, arrays)


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries, an empty zip


def _read(path, need=("config", "metrics", "meta")) -> dict:
    """Every entry of the ``.npz`` at ``path``, or a :class:`CheckpointError` naming it."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head not in _ZIP_MAGIC:
        raise CheckpointError(f"{path}: corrupt checkpoint: not an .npz (zip) file "
                              f"({'empty' if not head else f'starts with {head!r}'})")
    try:
        with np.load(path, allow_pickle=False) as z:
            entries = {k: z[k] for k in z.files}
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise CheckpointError(f"{path}: holds a pickled object array; refused (checkpoints "
                                  "never use pickle)") from e
        raise CheckpointError(f"{path}: corrupt checkpoint: {e}") from e
    except (zipfile.BadZipFile, EOFError, zlib.error, KeyError, OSError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint: "
                              f"{type(e).__name__}: {e}") from e
    return _read_need(path, entries, need)


def _read_need(path, entries, need=("config", "metrics", "meta")):
    for k in need:
        if k not in entries:
            raise CheckpointError(f"{path}: not a checkpoint: entry {k!r} missing "
                                  f"(entries: {sorted(entries)[:6]})")
    return entries


def _json(path, entries, name):
    try:
        return json.loads(str(entries[name]))
    except ValueError as e:
        raise CheckpointError(f"{path}: corrupt checkpoint: entry {name!r} is not JSON ({e})") from e


def _parse(path, entries, config_type):
    flat = {}
    for k, v in entries.items():
        if k.startswith("param/"):
            if v.dtype.kind != "f":
                raise CheckpointError(f"{path}: parameter {k[6:]}: expected floats, got {v.dtype}")
            name = k[6:]
        elif k.startswith("param_bf16/"):
            if v.dtype != np.uint16:
                raise CheckpointError(f"{path}: parameter {k[11:]}: expected bfloat16 bits "
                                      f"(uint16), got {v.dtype}")
            name, v = k[11:], from_bf16_bits(v)
        else:
            continue
        if name in flat:
            raise CheckpointError(f"{path}: parameter {name} stored twice (float32 and bfloat16)")
        flat[name] = jax.numpy.asarray(v)
    config = _json(path, entries, "config")
    if config_type is not None:
        try:
            config = config_type.from_json(str(entries["config"]))
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: config: {e}") from e
    try:
        metrics = [json.loads(s) for s in entries["metrics"].tolist() if s]
    except (ValueError, AttributeError, TypeError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint: entry 'metrics': {e}") from e
    return unflatten(flat), config, metrics, _json(path, entries, "meta")


def load(path, config_type=None):
    """``(params, config, info)``; ``info = {"metrics": [dict, ...], "meta": dict}``. No pickle.

    ``config_type``: a class with ``from_json(text)`` (the task's model configuration, e.g.
    :class:`gl.tasks.memory_horizon.model.Config`); without it ``config`` is the parsed JSON dict.
    A task's model module passes its own class, so this module imports no task.
    Raises :class:`CheckpointError` naming ``path`` if the file is corrupt or incomplete.
    """
    if not os.path.exists(path):  # a shipped name given where a path is wanted, most often
        raise FileNotFoundError(
            f"{path}: no such checkpoint file (a shipped checkpoint is loaded by its path: "
            "its task's shipped() or shipped_checkpoints() maps names to paths; "
            "`python -m gl.evaluate --help` lists the names)")
    params, config, metrics, meta = _parse(path, _read(path), config_type)
    return params, config, {"metrics": metrics, "meta": meta}


def load_checked(path, config_type, init):
    """:func:`load`, then :func:`check_like` against the shapes ``init(key, config)`` gives
    (``init``: the task model's; traced with ``jax.eval_shape``, so nothing is computed).

    What the command lines use: a file whose parameters do not fit its own config is a
    :class:`CheckpointError` naming the file and the parameter, before any model runs.
    """
    params, config, info = load(path, config_type)
    check_like(path, params, jax.eval_shape(lambda: init(jax.random.key(0), config)))
    return params, config, info


def _leaves(tree) -> dict:
    return {"/".join(_key_name(p) for p in path): leaf
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def check_like(path, params, like):
    """Raise :class:`CheckpointError` unless ``params`` has the leaves and shapes of ``like``
    (e.g. ``jax.eval_shape`` of the model's ``init``); the message names the parameter."""
    have, want = _leaves(params), _leaves(like)
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing:
        raise CheckpointError(f"{path}: parameters do not match the config: missing {missing[:6]}"
                              f"{f' ({len(missing)} in all)' if len(missing) > 6 else ''}")
    if extra:
        raise CheckpointError(f"{path}: parameters do not match the config: unexpected {extra[:6]}")
    for name, w in want.items():
        if np.shape(have[name]) != np.shape(w):
            raise CheckpointError(f"{path}: parameter {name}: expected shape {np.shape(w)}, "
                                  f"got {np.shape(have[name])}")


def differences(old: dict, new: dict, skip=frozenset()) -> list:
    """``["field: checkpoint has X, this run has Y", ...]`` for the keys whose values differ."""
    return [f"{k}: checkpoint has {old.get(k)!r}, this run has {new.get(k)!r}"
            for k in sorted(set(old) | set(new)) if k not in skip and old.get(k) != new.get(k)]


def load_run(path, config_type, params_like, opt_state_like, config=None) -> Run:
    """A checkpoint written with ``state=``, checked: its config against ``config`` (if given;
    a differing field is named), parameters and optimizer leaves against ``params_like`` and
    ``opt_state_like`` (tree structure and shapes), and the epochs of the state, ``meta`` and
    ``metrics`` against each other. No pickle."""
    entries = _read(path, need=())
    if "state/epoch" not in entries:
        raise CheckpointError(f"{path}: no training state in it (a checkpoint for evaluation, or "
                              "one written by an older gl): cannot resume from it")
    _read_need(path, entries)
    params, saved, metrics, meta = _parse(path, entries, config_type)
    if config is not None:
        diffs = differences(json.loads(saved.to_json()), json.loads(config.to_json()))
        if diffs:
            raise CheckpointError(f"{path}: written with another config: {'; '.join(diffs)}")
    check_like(path, params, params_like)
    treedef = jax.tree_util.tree_structure(opt_state_like)
    like = jax.tree_util.tree_leaves(opt_state_like)
    names = sorted(k for k in entries if k.startswith("state/opt/"))
    if len(names) != len(like):
        raise CheckpointError(f"{path}: optimizer state: expected {len(like)} leaves, got {len(names)}")
    leaves = [entries[f"state/opt/{i:04d}"] for i in range(len(like))]
    for i, (x, y) in enumerate(zip(leaves, like)):
        if x.shape != np.shape(y):
            raise CheckpointError(f"{path}: optimizer leaf {i}: expected shape {np.shape(y)}, got {x.shape}")
    step, epoch = int(entries["state/step"]), int(entries["state/epoch"])
    if meta.get("epoch", epoch) != epoch:
        raise CheckpointError(f"{path}: meta says epoch {meta['epoch']}, the training state epoch "
                              f"{epoch}: entries of two different saves; refused")
    seen = [m.get("epoch") for m in metrics]
    if any(not isinstance(e, int) for e in seen) or seen != sorted(set(seen)) or (seen and seen[-1] > epoch):
        raise CheckpointError(f"{path}: metrics epochs {seen} are not increasing up to the training "
                              f"state's epoch {epoch}")
    opt_state = jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(x) for x in leaves])
    return Run(params, saved, metrics, meta, opt_state, step, epoch, entries["state/key"])


def shipped(folder: str = "checkpoints") -> dict:
    """``{name: path}`` of the checkpoints under ``gl/assets/<folder>/<name>/checkpoint.npz``
    (``folder``: ``"checkpoints"`` for Memory Horizon, ``"char_lm"`` for the language models)."""
    root = resources.files("gl") / "assets" / folder
    out = {}
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir(), key=lambda p: p.name):
        f = d / "checkpoint.npz"
        if d.is_dir() and f.is_file():
            out[d.name] = str(f)
    return out


def resolve(path: str, shipped: dict, kind: str = "") -> str:
    """``path`` where a file or directory exists, else the path of the shipped checkpoint of that
    name in ``shipped`` (``{name: path}``, from :func:`shipped`). When neither exists: a
    ``ValueError`` worded as a usage error of the CLIs' ``checkpoint`` argument, naming the
    shipped ``kind`` (e.g. ``"char-lm "``) checkpoints."""
    if os.path.exists(path):
        return path
    if path not in shipped:
        raise ValueError(f"checkpoint: no file {path!r} and no shipped {kind}checkpoint of that "
                         f"name (shipped: {sorted(shipped)})")
    return shipped[path]
