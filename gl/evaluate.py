"""``python -m gl.evaluate CHECKPOINT [--seed S --samples N]``: a checkpoint's accuracy as JSON.

``CHECKPOINT`` is a ``checkpoint.npz`` or the name of a shipped one (``data-s0``, ...). The
shipped checkpoints are Memory Horizon models: :mod:`gl.tasks.memory_horizon.evaluate` does
the work and defines the accuracies.
"""
from __future__ import annotations

from gl.tasks.memory_horizon.evaluate import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
