"""``python -m gl.evaluate CHECKPOINT [options]``: a checkpoint's metrics as JSON.

``CHECKPOINT`` is a ``checkpoint.npz`` or the name of a shipped one. The task is read from
the checkpoint's configuration (or found from the shipped name):

* Memory Horizon (``data-s0``, ...): :mod:`gl.tasks.memory_horizon.evaluate`
  (``--seed S --samples N``; accuracies);
* character-level tiny Shakespeare (``lm-gateloop-s0``, ...): :mod:`gl.tasks.char_lm.evaluate`
  (``--split val``; ``loss`` in nats per character).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

__all__ = ["main", "task_of"]


def task_of(path: str) -> str:
    """``"char-lm"`` or ``"memory-horizon"``: the task of a checkpoint file or shipped name."""
    from gl.tasks.char_lm import evaluate as char_lm

    if not os.path.exists(path):
        return "char-lm" if path in char_lm.shipped() else "memory-horizon"
    try:
        with np.load(path, allow_pickle=False) as z:
            config = json.loads(str(z["config"]))
    except Exception:  # noqa: BLE001 - the task's own loader reports a bad file
        return "memory-horizon"
    # both tasks' configurations have a "mixer"; only the char-lm's has a "vocab"
    return "char-lm" if isinstance(config, dict) and "vocab" in config else "memory-horizon"


def _shipped() -> dict[str, list[str]]:
    from gl.tasks.char_lm import evaluate as char_lm
    from gl.tasks.memory_horizon import model

    return {"memory-horizon": sorted(model.shipped_checkpoints()),
            "char-lm": sorted(char_lm.shipped())}


#: the options of either task that take a value (so that the value is not read as CHECKPOINT)
VALUE_OPTIONS = ("--seed", "--samples", "--batch-size", "--boot-seed", "--n-boot", "--split",
                 "--windows")


def _checkpoint_arg(argv):
    """The positional CHECKPOINT wherever it stands among the options, or ``None``."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("checkpoint", nargs="?")
    for option in VALUE_OPTIONS:
        pre.add_argument(option)
    known, _ = pre.parse_known_args(argv)
    return known.checkpoint


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    first = _checkpoint_arg(argv)
    if first is None and any(a in ("-h", "--help") for a in argv):
        names = "\n".join(f"  {task}: {', '.join(n)}" for task, n in _shipped().items())
        print(__doc__.strip() + f"\n\nShipped checkpoints:\n{names}"
              + "\n\npython -m gl.evaluate CHECKPOINT --help lists the options of its task.")
        raise SystemExit(0)
    if first is not None and not os.path.exists(first):
        shipped = _shipped()
        if not any(first in names for names in shipped.values()):
            print(f"usage: python -m gl.evaluate CHECKPOINT [options]\npython -m gl.evaluate: "
                  f"error: CHECKPOINT: no file {first!r} and no shipped checkpoint of that name "
                  f"(shipped: {shipped})", file=sys.stderr)
            raise SystemExit(2)  # a usage error, as argparse exits
    if first is not None and task_of(first) == "char-lm":
        from gl.tasks.char_lm.evaluate import main as run
    else:
        from gl.tasks.memory_horizon.evaluate import main as run
    return run(argv)


if __name__ == "__main__":
    main()
