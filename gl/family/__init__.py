"""The family tree: linear recurrences of recent years as gate choices of GateLoop.

Each model is one function with the uniform signature ``f(x, params) -> Mapped``:

* ``x``: the token sequence ``(..., L, D)``, real (float32 or float64);
* ``params``: a dict of the model's own parameters, named as in its paper (the function's
  docstring lists them with their shapes); multi-head models also hold ``"heads"`` (an int);
* :class:`Mapped`: GateLoop's ``(q, k, v, a)`` in the shapes of :func:`gl.gate_loop`, and
  ``out(y, y2)``, the model's read-out outside the recurrence (and, for mLSTM, the
  ``(q, k, v, a)`` of a second GateLoop, its normalizer).

:func:`run` runs one by name::

    params = gl.family.INITS["mamba"](0, d_model=8, d_state=4)
    y = gl.family.run("mamba", x, params)          # (..., L, 8)

so a model can pick its token mixer from a configuration string (a key of :data:`MODELS`).
Every ``INITS[name]`` has the signature ``init(seed, d_model, heads=2, d_state=4)``.
Wrong shapes raise ``ValueError`` naming the model, the argument, expected and received
(a non-float ``x``: ``TypeError``, as :func:`gl.gate_loop`); so does a decay out of its
range (``Re Λ ≥ 0``, ``A ≥ 0``, ``Δ ≤ 0``, ``γ ∉ (0, 1)``) when the parameters are concrete.
Under ``jax.jit`` their values are unknown while tracing, so the range checks are skipped
there: check a configuration once outside ``jit``.
:mod:`gl.family.loops` holds each model's equations as published, as plain NumPy loops.
:mod:`gl.family.mixer` makes each member a trainable token mixer (with a recurrent step)
of the book's models: ``Config(mixer="gla")`` in :mod:`gl.tasks.char_lm.model` and
:mod:`gl.tasks.memory_horizon.model`.
"""
from __future__ import annotations

from .common import Mapped, apply
from .fixed import init_lru, init_retnet, init_s4d, init_s5, lru, retnet, s4d, s5
from .gated import (gateloop, gla, hgrn, init_gateloop, init_gla, init_hgrn, init_mamba,
                    init_mamba2, init_rglru, mamba, mamba2, rglru)
from .matrix import init_mlstm, init_rwkv6, max_stabilizer, mlstm, rwkv6

#: name -> ``f(x, params) -> Mapped``, in the order of the chapter's table.
MODELS = {
    "s4d": s4d, "s5": s5, "lru": lru, "retnet": retnet, "gla": gla, "hgrn": hgrn,
    "mamba": mamba, "mamba2": mamba2, "rglru": rglru, "mlstm": mlstm, "rwkv6": rwkv6,
    "gateloop": gateloop,
}

#: name -> ``init(seed, d_model, heads=2, d_state=4) -> params`` (NumPy float64/complex128).
INITS = {
    "s4d": init_s4d, "s5": init_s5, "lru": init_lru, "retnet": init_retnet,
    "gla": init_gla, "hgrn": init_hgrn, "mamba": init_mamba, "mamba2": init_mamba2,
    "rglru": init_rglru, "mlstm": init_mlstm, "rwkv6": init_rwkv6,
    "gateloop": init_gateloop,
}


def get(name: str):
    """``MODELS[name]``, with a ``ValueError`` listing the names for an unknown one."""
    if name not in MODELS:
        raise ValueError(f"name: expected one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name]


def run(name: str, x, params, mode: str = "auto"):
    """Model ``name`` on ``x`` ``(..., L, D)``: map to GateLoop, run :func:`gl.gate_loop`
    (with ``mode``), apply the read-out. Returns ``(..., L, D)``."""
    return apply(get(name)(x, params), mode=mode)


__all__ = ["MODELS", "INITS", "Mapped", "apply", "get", "run", "max_stabilizer",
           *MODELS, *INITS]
