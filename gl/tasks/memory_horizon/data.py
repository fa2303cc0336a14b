"""The Memory Horizon dataset (section 5.1, appendix A, Table 2).

Each sample is a sequence of ``length`` input tokens: numbers drawn uniformly from the
inclusive ``number_range`` (Table 2: ``[0, 4]``), with ``resets_per_sample`` reset tokens at
distinct random positions. At every position ``n`` the target is
``compress_memory(memory_n, max_output)`` (appendix A), where ``memory_n`` is the list of
numbers from just after the most recent reset token up to and including position ``n``
(from the start of the sequence when no reset precedes ``n``).

Vocabularies and conventions (the paper leaves these open; we fix them here):

* input ids: number ``x`` has id ``x - number_range[0]``; the reset token has id
  ``reset_id(number_range) = number_range[1] - number_range[0] + 1`` (``5`` for Table 2),
  so the input vocabulary has ``reset_id + 1`` ids (``6``);
* output ids: ``0 .. max_output - 1`` (``50``);
* at a reset token the memory is the empty list, so the target is
  ``compress_memory([], max_output) = 0`` and the required memory span is ``0``;
* the required memory span at ``n`` is ``len(memory_n)``: the number of tokens since the last
  reset (``n - r`` after a reset at ``r``, ``n + 1`` before the first reset).

Train/test split: :func:`split` cuts a generated set deterministically (the last
``test_fraction`` of the samples are the test set). :mod:`gl.train` generates Table 2's 2000
samples with the data seed and holds out the last 10 % of them; :mod:`gl.evaluate` draws a
fresh set from a separate seed.
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

__all__ = ["compress_memory", "memory_horizon", "reset_id", "split", "MemoryHorizon"]

INT32_MAX = int(np.iinfo(np.int32).max)  #: the largest id, target or span the int32 arrays hold


def compress_memory(memory, max_output):
    """Appendix A's memory compression function: an alternating sum of products, modulo.

    Pairs ``memory[i] * memory[-1 - i]`` from both ends are added and subtracted in turn;
    an unpaired middle element is added or subtracted by the same alternation; the result is
    taken ``% max_output`` (Python's modulo: in ``[0, max_output)``). ``compress_memory([], m)``
    is ``0``.

    Args:
      memory: a sequence of integers (a list, tuple or 1-d integer array).
      max_output: a positive integer.
    """
    if isinstance(max_output, bool) or not isinstance(max_output, (int, np.integer)):
        raise TypeError(f"max_output: expected an int, got {type(max_output).__name__}")
    if max_output < 1:
        raise ValueError(f"max_output: expected a positive int, got {max_output}")
    acc, i, j, add = 0, 0, len(memory) - 1, True
    while i < j:
        prod = int(memory[i]) * int(memory[j])
        acc = acc + prod if add else acc - prod
        add, i, j = not add, i + 1, j - 1
    if i == j:
        acc = acc + int(memory[i]) if add else acc - int(memory[i])
    return acc % int(max_output)


def reset_id(number_range=(0, 4)) -> int:
    """The reset token's input id: one past the largest number id (``5`` for ``(0, 4)``)."""
    lo, hi = number_range
    return int(hi - lo + 1)


@numba.njit(cache=True)
def _targets(numbers, is_reset, max_output, targets, spans, modular):  # pragma: no cover - numba
    """Fill ``targets`` and ``spans`` ``(N, L)`` from ``numbers`` (values) and ``is_reset``.

    ``modular``: reduce every product and partial sum modulo ``max_output``, for numbers
    whose exact sum could overflow int64 (slower: a division per term). Both give the exact
    target; :func:`memory_horizon` picks ``modular`` only when it is needed.

    For each position the memory list since the last reset is compressed directly
    (appendix A's loop): O(span) work per position.
    """
    N, L = numbers.shape
    for s in range(N):
        start = 0
        for n in range(L):
            if is_reset[s, n]:
                start = n + 1
                targets[s, n] = 0
                spans[s, n] = 0
                continue
            acc = 0
            i, j = start, n
            add = True
            while i < j:
                if modular:  # every term modulo max_output (< 2**31): products below 2**62
                    p = (numbers[s, i] % max_output) * (numbers[s, j] % max_output) % max_output
                else:
                    p = numbers[s, i] * numbers[s, j]
                acc = acc + p if add else acc - p
                if modular:
                    acc %= max_output  # numba follows Python's modulo sign
                add = not add
                i += 1
                j -= 1
            if i == j:
                acc = acc + numbers[s, i] if add else acc - numbers[s, i]
            targets[s, n] = acc % max_output  # numba follows Python's modulo sign
            spans[s, n] = n - start + 1


class MemoryHorizon(NamedTuple):
    """A Memory Horizon set: all arrays ``(N, L)`` ``int32``.

    ``inputs``: input ids (numbers and the reset id); ``targets``: output ids in
    ``[0, max_output)`` at every position; ``spans``: required memory span at every position.
    """

    inputs: np.ndarray
    targets: np.ndarray
    spans: np.ndarray


def _seed_of(key_or_seed) -> np.random.Generator:
    if isinstance(key_or_seed, np.random.Generator):
        return key_or_seed
    if isinstance(key_or_seed, (bool, np.bool_)):
        raise TypeError("key_or_seed: expected an int, a numpy Generator or a jax key, got bool")
    if isinstance(key_or_seed, (int, np.integer)):
        return np.random.default_rng(int(key_or_seed))
    try:  # a jax key (typed or raw uint32)
        import jax

        data = np.asarray(jax.random.key_data(key_or_seed)).ravel()
        return np.random.default_rng([int(x) for x in data])
    except Exception as e:  # noqa: BLE001
        raise TypeError(
            f"key_or_seed: expected an int, a numpy Generator or a jax key, got "
            f"{type(key_or_seed).__name__}"
        ) from e


def memory_horizon(key_or_seed, n_samples=2000, length=1024, number_range=(0, 4),
                   resets_per_sample=3, max_output=50) -> MemoryHorizon:
    """Generate a Memory Horizon set (appendix A) with Table 2's values as defaults.

    Args:
      key_or_seed: an int seed, a ``np.random.Generator`` or a ``jax.random`` key.
      n_samples, length: the set is ``(n_samples, length)``.
      number_range: inclusive ``(lo, hi)`` of the input numbers (non-negative ints).
      resets_per_sample: reset tokens per sample, at distinct uniformly random positions.
      max_output: the modulus of :func:`compress_memory`, the output vocabulary size.

    Returns a :class:`MemoryHorizon` of ``int32`` arrays ``(n_samples, length)``. Deterministic
    in the seed. The module docstring defines the ids and the target at a reset token.
    Targets are exact for any numbers (the arithmetic runs modulo ``max_output`` where an
    int64 sum of the products could overflow).

    Raises:
      ValueError: a value out of range, including ``length``, ``max_output`` or
        ``hi - lo + 1`` (the reset id) over ``2**31 - 1``: the arrays are ``int32``.
    """
    for name, val, lo in (("n_samples", n_samples, 1), ("length", length, 1),
                          ("resets_per_sample", resets_per_sample, 0), ("max_output", max_output, 1)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {type(val).__name__}")
        if val < lo:
            raise ValueError(f"{name}: expected an int >= {lo}, got {val}")
    for name, val in (("length", length), ("max_output", max_output)):  # spans, targets: int32
        if val > INT32_MAX:
            raise ValueError(f"{name}: expected at most {INT32_MAX} (int32 arrays), got {val}")
    if resets_per_sample > length:
        raise ValueError(f"resets_per_sample: expected at most length={length}, got {resets_per_sample}")
    if len(tuple(number_range)) != 2 or not (0 <= number_range[0] <= number_range[1]):
        raise ValueError(f"number_range: expected (lo, hi) with 0 <= lo <= hi, got {number_range!r}")
    lo, hi = (int(x) for x in number_range)
    if hi - lo > INT32_MAX - 1 or hi > np.iinfo(np.int64).max - 1:  # ids up to hi - lo + 1
        raise ValueError(f"number_range: expected hi - lo <= {INT32_MAX - 1} (int32 input ids) "
                         f"and hi < 2**63 - 1, got {number_range!r}")
    rng = _seed_of(key_or_seed)
    numbers = rng.integers(lo, hi + 1, size=(n_samples, length), dtype=np.int64)
    # distinct reset positions: the first `resets_per_sample` of a random permutation per row
    order = np.argsort(rng.random((n_samples, length)), axis=1)[:, :resets_per_sample]
    is_reset = np.zeros((n_samples, length), dtype=np.bool_)
    np.put_along_axis(is_reset, order, True, axis=1)
    targets = np.empty((n_samples, length), np.int32)
    spans = np.empty((n_samples, length), np.int32)
    # |acc| <= (length / 2 + 1) hi² + hi: int64 holds the exact sum below 2**62.
    modular = (length // 2 + 1) * hi * hi + hi >= 2**62
    _targets(numbers, is_reset, np.int64(max_output), targets, spans, modular)
    inputs = np.where(is_reset, reset_id(number_range), numbers - lo).astype(np.int32)
    return MemoryHorizon(inputs, targets, spans)


def split(data: MemoryHorizon, test_fraction=0.1) -> tuple[MemoryHorizon, MemoryHorizon]:
    """Deterministic train/test split: the last ``ceil(test_fraction * N)`` samples are the test set."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    n = data.inputs.shape[0]
    n_test = int(np.ceil(test_fraction * n))
    if n_test >= n:
        raise ValueError(f"test_fraction: leaves no training sample of N={n}")
    return (MemoryHorizon(*(x[: n - n_test] for x in data)),
            MemoryHorizon(*(x[n - n_test:] for x in data)))
