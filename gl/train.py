"""``python -m gl.train TASK [options]``: train a model on one of :data:`gl.tasks.TASKS`.

``python -m gl.train memory-horizon --transition data --seed 0 --out DIR`` trains the
appendix-C model on Memory Horizon; ``python -m gl.train memory-horizon --help`` lists the
options (:mod:`gl.tasks.memory_horizon.train`).
"""
from __future__ import annotations

import importlib
import sys

from gl.tasks import TASKS
from gl.tasks.loop import RunRefused


USAGE = (f"usage: python -m gl.train TASK [options], TASK one of {sorted(TASKS)}; "
         "python -m gl.train TASK --help lists the task's options")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE + "\n\n" + __doc__.strip())
        return None
    if not argv or argv[0] not in TASKS:
        got = repr(argv[0]) if argv else "nothing"
        sys.exit(f"{USAGE}\npython -m gl.train: error: TASK: expected one of {sorted(TASKS)}, "
                 f"got {got}")
    try:
        return importlib.import_module(TASKS[argv[0]]).main(argv)
    except RunRefused as e:  # the flags do not fit the run directory: a usage error
        sys.exit(f"python -m gl.train {argv[0]}: error: {e}")


if __name__ == "__main__":
    main()
