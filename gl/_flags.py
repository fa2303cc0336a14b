"""The ``type=`` checks of ``gl``'s command lines: a numeric flag in a range, a list of shapes.

A bad value is an ``argparse`` usage error that names the flag and says what it expects.
Kept apart from :mod:`gl.tasks.loop` (optax, checkpoints) so that :mod:`gl.bench` and the
benchmark scripts import no training code.
"""
from __future__ import annotations

import argparse
import math


def flag(kind, lo=None, hi=None, *, lo_open=False, hi_open=False):
    """An argparse ``type=`` for a numeric flag: an ``int`` or a finite ``float`` in the range
    from ``lo`` to ``hi`` (None: unbounded; ``lo_open``/``hi_open``: the end excluded).

    A bad value is an ``argparse`` usage error naming the flag, e.g. ``argument --lr:
    expected a finite number > 0, got 'nan'``.
    """
    if kind not in (int, float):
        raise TypeError(f"kind: expected int or float, got {kind!r}")
    parts = [f"{'>' if lo_open else '>='} {lo}" if lo is not None else "",
             f"{'<' if hi_open else '<='} {hi}" if hi is not None else ""]
    want = ("an int" if kind is int else "a finite number") + (" " if any(parts) else "") + \
        " and ".join(x for x in parts if x)

    def parse(text):
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        bad = (not math.isfinite(x)
               or (lo is not None and (x <= lo if lo_open else x < lo))
               or (hi is not None and (x >= hi if hi_open else x > hi)))
        if bad:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return x

    parse.__name__ = want
    return parse


def shapes_flag(names):
    """An argparse ``type=`` for ``'n,n,...;n,n,...'``: shapes of ``len(names)`` ints >= 1 each
    (``names``: what each number is, for the message); ``''`` is no shape."""
    want = f"shapes {','.join(names)} of {len(names)} ints >= 1, separated by ';'"

    def parse(text):
        try:
            shapes = [tuple(int(x) for x in s.split(",")) for s in text.split(";") if s.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if any(len(s) != len(names) or min(s) < 1 for s in shapes):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return shapes

    parse.__name__ = "shapes"
    return parse
