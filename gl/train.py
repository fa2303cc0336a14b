"""``python -m gl.train TASK [options]``: train a model on one of :data:`gl.tasks.TASKS`.

``python -m gl.train memory-horizon --transition data --seed 0 --out DIR`` trains the
appendix-C model on Memory Horizon; ``python -m gl.train memory-horizon --help`` lists the
options (:mod:`gl.tasks.memory_horizon.train`).
"""
from __future__ import annotations

import importlib
import sys

from gl.tasks import TASKS


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in TASKS:
        got = repr(argv[0]) if argv else "nothing"
        sys.exit(f"usage: python -m gl.train TASK [options]: TASK: expected one of "
                 f"{sorted(TASKS)}, got {got}")
    return importlib.import_module(TASKS[argv[0]]).main(argv)


if __name__ == "__main__":
    main()
