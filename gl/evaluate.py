"""``python -m gl.evaluate CHECKPOINT [options]``: a checkpoint's metrics as JSON.

``CHECKPOINT`` is a ``checkpoint.npz`` or the name of a shipped one. The task is read from
the checkpoint's configuration (or found from the shipped name):

* Memory Horizon (``data-s0``, ...): :mod:`gl.tasks.memory_horizon.evaluate`
  (``--seed S --samples N``; accuracies);
* character-level tiny Shakespeare (``lm-gateloop-s0``, ...): :mod:`gl.tasks.char_lm.evaluate`
  (``--split val``; ``loss`` in nats per character).
"""
from __future__ import annotations

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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is not None and task_of(first) == "char-lm":
        from gl.tasks.char_lm.evaluate import main as run
    else:
        from gl.tasks.memory_horizon.evaluate import main as run
    return run(argv)


if __name__ == "__main__":
    main()
