"""gl: GateLoop (Katsch 2023) in JAX, with a Numba reference loop.

The public entry point is :func:`gate_loop`; :func:`gate_loop_reference` is the
CPU ground truth it is tested against.
"""
from . import gates
from .attention import (
    relative_decay,
    surrogate_attention,
    surrogate_attention_naive,
    surrogate_softmax_attention,
)
from .operator import gate_loop
from .reference import gate_loop_reference
from .scan import binary_operator, paper_gate_loop_operator

__all__ = [
    "gates",
    "exercises",
    "gate_loop",
    "gate_loop_reference",
    "binary_operator",
    "paper_gate_loop_operator",
    "relative_decay",
    "surrogate_attention",
    "surrogate_attention_naive",
    "surrogate_softmax_attention",
]
__version__ = "0.1.0"


def __getattr__(name):
    """``gl.exercises`` (the checkers) is imported on first use, keeping ``import gl`` light."""
    if name == "exercises":
        import importlib

        return importlib.import_module(".exercises", __name__)
    raise AttributeError(f"module 'gl' has no attribute {name!r}")
