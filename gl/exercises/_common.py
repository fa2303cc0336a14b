"""What the chapter checkers (``gl.exercises.chNN``) share; private to ``gl.exercises``.

* drawing inputs: :func:`complex_normal`, :func:`unit_phase`, :func:`random_gates`;
* calling the student's function: :func:`call` (a crash becomes an ``AssertionError`` that
  names the input; :func:`pair` unpacks a returned pair inside it);
* comparing with the reference: :func:`expect_shape`, :func:`rel_err`, :func:`first_index`;
* the words of the report: :func:`likely_mistake` (a recognised wrong answer, ch03 and ch05),
  :func:`hint_list` (ch01 and ch02).

It exports nothing to ``gl.exercises`` (no ``__all__``); its names are public so that the
checkers may import them (``tests/test_house.py``: no ``_private`` name crosses modules).
"""
from __future__ import annotations

import numpy as np


def complex_normal(rng, shape):
    """``N(0, 1) + i N(0, 1)`` of ``shape`` (complex128; real part drawn first)."""
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def unit_phase(rng, shape):
    """``exp(iφ)`` with ``φ`` uniform in ``(-π, π)``, of ``shape`` (complex128)."""
    return np.exp(1j * rng.uniform(-np.pi, np.pi, shape))


def random_gates(rng, shape, lo=0.5, hi=1.0):
    """Complex transitions ``a`` of ``shape``: ``|a|`` uniform in ``(lo, hi)`` (drawn first), any
    phase (complex128)."""
    return rng.uniform(lo, hi, shape) * unit_phase(rng, shape)


def call(fn, args, where="", *, who="your function", after="", copy=True, convert=None):
    """``fn(*args)``, then ``convert(result)`` if given, both inside one ``try``.

    With ``copy``, NumPy array arguments are passed as copies (the student may write into
    them). Any exception becomes ``AssertionError("{where}: {who} raised {Type}: {e}{after}")``
    (without ``"{where}: "`` when ``where`` is empty), chained to the original.
    """
    if copy:
        args = tuple(np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in args)
    try:
        out = fn(*args)
        return out if convert is None else convert(out)
    except Exception as e:  # noqa: BLE001 - the student's error, reported with its input
        raise AssertionError(f"{where + ': ' if where else ''}{who} raised "
                             f"{type(e).__name__}: {e}{after}") from e


def pair(out):
    """``out`` unpacked into two (raises as ``a, b = out`` would); for :func:`call`'s ``convert``."""
    first, second = out
    return first, second


def expect_shape(got, shape, where, name="", shown=None):
    """Raise ``AssertionError("{where}: expected {name} of shape {shown}, got {got.shape}")``
    (``"expected shape …"`` without a ``name``) unless ``got.shape == shape``; ``shown``
    defaults to ``shape``."""
    if got.shape != tuple(shape):
        raise AssertionError(f"{where}: expected {f'{name} of shape' if name else 'shape'} "
                             f"{shape if shown is None else shown}, got {got.shape}")


def rel_err(got, want) -> float:
    """``‖got − want‖ / ‖want‖`` over all entries (``‖want‖`` at least 1e-30)."""
    return float(np.linalg.norm((got - want).ravel()) / max(np.linalg.norm(want.ravel()), 1e-30))


def first_index(mask):
    """The index (a tuple of ints) of the first true entry of ``mask`` in C order, or None."""
    hits = np.argwhere(mask)
    return tuple(int(i) for i in hits[0]) if len(hits) else None


def likely_mistake(candidates) -> str:
    """``"\\nLikely mistake: TEXT."`` for the first ``(TEXT, matched)`` of ``candidates`` with
    ``matched`` true, else ``""``. ``candidates`` may be a generator: it is consumed only up
    to the first match, so a costly variant is computed only when needed."""
    return next((f"\nLikely mistake: {text}." for text, matched in candidates if matched), "")


def hint_list(hints) -> str:
    """``"; hint: A; B"`` for the hints ``[A, B]``, ``""`` for none."""
    return "; hint: " + "; ".join(hints) if hints else ""
