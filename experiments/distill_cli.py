"""The command line of the distil scripts of one archive (``experiments/distill_gla_probe.py``,
``experiments/distill_mlstm_norm.py``): ``RAW_DIR`` (the archive unpacked) in, one JSON file
of ``gl/assets/char_lm/`` out, with sorted keys and a final newline."""
from __future__ import annotations

import argparse
import json
import os

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gl", "assets", "char_lm")


def main(distill, doc: str, name: str, argv=None):
    """Parse ``RAW_DIR [--out PATH]`` (``PATH`` defaults to ``ASSETS/name``) and write
    ``distill(RAW_DIR)`` there; ``doc``'s first line is the usage's description."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("raw")
    p.add_argument("--out", default=os.path.join(ASSETS, name))
    args = p.parse_args(argv)
    with open(args.out, "w") as f:
        json.dump(distill(args.raw), f, indent=1, sort_keys=True)
        f.write("\n")
