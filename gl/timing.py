"""The timing harness of :mod:`gl.bench` (and of the scripts under ``benchmarks/`` and
``experiments/``, which call it as ``gl.bench.prepare`` etc.): bursts of back-to-back calls,
interleaved rounds, and the error measures the rows report.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np


def burst_ms(fn, args, n, sync=jax.block_until_ready):
    """Mean time in ms of ``n`` back-to-back calls ``fn(*args)``, blocked once at the end.

    On a GPU the calls queue up asynchronously, so this measures the device's time per call
    rather than Python's dispatch latency. ``sync(out)`` waits for the last output (another
    framework's arrays: e.g. ``lambda out: torch.cuda.synchronize()``).
    """
    t = time.perf_counter()
    out = None
    for _ in range(n):
        out = fn(*args)
    sync(out)
    return 1e3 * (time.perf_counter() - t) / n


def prepare(fn, args, jit=True, target_ms=20.0, sync=jax.block_until_ready):
    """Compile and run ``fn(*args)`` once; return ``(f, out, first_s, n)``.

    ``f``: the (jitted) callable; ``out``: its output; ``first_s``: the first call's seconds,
    compilation included; ``n``: the calls per timing burst, enough for about ``target_ms``.
    ``sync``: as in :func:`burst_ms` (pass ``jit=False`` for another framework's function).
    """
    f = jax.jit(fn) if jit else fn
    t = time.perf_counter()
    out = f(*args)
    sync(out)
    first_s = time.perf_counter() - t
    n = int(min(50, max(1, target_ms / max(burst_ms(f, args, 1, sync), 1e-3))))
    return f, out, first_s, n


def time_rounds(ready, repeats):
    """Interleaved timing: ``ready`` maps names to ``(f, args, n)`` or ``(f, args, n, sync)``
    (:func:`burst_ms`); in each of ``repeats`` rounds every method runs one burst of ``n`` calls
    in turn. Returns name -> list of ms per call."""
    samples = {name: [] for name in ready}
    for _ in range(repeats):
        for name, (f, args, n, *sync) in ready.items():
            samples[name].append(burst_ms(f, args, n, *sync))
    return samples


def rel_err(x, ref) -> float:
    """``‖x − ref‖ / ‖ref‖`` over all elements (any equal shapes), in complex128."""
    x, ref = np.asarray(x, np.complex128), np.asarray(ref, np.complex128)
    return float(np.linalg.norm((x - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1e-300))


def grad_err(out, base):
    """:func:`rel_err` of a tuple of gradients ``out`` against ``base`` (equal shapes pairwise),
    over all of them together."""
    num = sum(float(jnp.sum(jnp.abs(x - y) ** 2)) for x, y in zip(out, base))
    den = sum(float(jnp.sum(jnp.abs(y) ** 2)) for y in base)
    return (num / max(den, 1e-300)) ** 0.5
