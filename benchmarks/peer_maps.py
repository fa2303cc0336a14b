"""GateLoop as each peer library computes it: layouts, parametrisations, and the way back.

GateLoop (:func:`gl.gate_loop`, eq. 7-8) with a real gate ``a > 0`` is, step by step,
``h_t = a_t ⊙ h_{t-1} + k_tᵀ v_t`` and ``y_t = q_t h_t``. Each peer computes the same
recurrence in its own terms (read from their sources: flash-linear-attention 0.6.0,
accelerated-scan 0.3.1):

- ``fla.ops.gla.chunk_gla(q, k, v, g, scale)`` and ``fused_recurrent_gla(q, k, v, gk, ...)``:
  ``(B, T, H, K)`` (no ``head_first`` since 0.3), ``g`` the *natural log* of the gate per key
  dimension, ``o_t = (scale·q_t) h_t`` with ``scale = K^-1/2`` unless given: GateLoop with
  ``g = log a`` and ``scale = 1``. The layout is gl's: only ``a`` changes.
- ``fla.ops.simple_gla.chunk_simple_gla(q, k, v, g, scale)``: ``g`` of shape ``(B, T, H)``, one
  log-gate per head: GateLoop with ``a`` equal over ``d_k`` (gl gets ``a`` as ``(B, L, H, 1)``).
- ``fla.ops.hgrn.chunk_hgrn(x, g)``: ``(B, T, D)``, ``h_t = exp(g_t) h_{t-1} + x_t``, returns
  ``(h, final state)``: SISO GateLoop is ``y = q · chunk_hgrn(k·v, log a)[0]``.
- ``accelerated_scan.{warp,scalar,complex}.scan(gates, tokens)``: ``(B, C, T)``, time
  contiguous, ``x_t = gates_t x_{t-1} + tokens_t``: SISO GateLoop is
  ``y = q · scan(a, k·v)`` with every array transposed to ``(B, D, L)`` (``complex``: ``a``
  complex, ``y = Re(q · x)``). ``warp`` needs ``T`` a power of two from 32 to 65536.

A :class:`Peer` holds the mapping as pure functions of NumPy arrays (``to_peer``, ``y_to_gl``,
``grads_to_gl``) and the call itself (``call``: only ``*``, ``.real`` and the peer's function,
so it runs on torch tensors and on NumPy alike). ``…[scan only]`` peers take the scan's
inputs ready-made (``k·v`` and the gate in the peer's layout) and time the scan alone; their
output is mapped back as ``q · x`` on the host, so they are checked like the others.
Initial states: none (zeros) everywhere; no peer is asked for its final state.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

FLA, ASCAN = "flash-linear-attention", "accelerated-scan"
GATES = {"multihead": ("key", "head"), "siso": ("real", "complex")}
#: the shapes of the peer table on a GPU (issue 30): multi-head (B, L, H, d), SISO (B, L, D)
GPU_MH = [(16, 4096, 8, 64), (8, 16384, 8, 128)]
GPU_SISO = [(16, 4096, 640), (8, 65536, 64), (32, 2048, 1024)]


@dataclasses.dataclass(frozen=True)
class Peer:
    """One peer function and the exact map between its terms and GateLoop's.

    ``to_peer(q, k, v, a)``: gl's inputs (NumPy, gl's layout) -> the peer's inputs (NumPy, its
    layout, contiguous). ``call(op, *inputs)``: the peer's ``y`` in its layout. ``y_to_gl(y,
    gl_inputs)``: back to gl's ``y``. ``grads_to_gl(grads, gl_inputs)``: the gradients of a
    real loss with respect to the peer's inputs -> those with respect to gl's ``(q, k, v, a)``
    (``None``: no backward). ``layout`` says it in words.
    """

    name: str
    module: str
    attr: str
    dist: str
    family: str
    gate: str
    layout: str
    to_peer: Callable
    call: Callable
    y_to_gl: Callable
    grads_to_gl: Callable | None


def to_time_major(x):
    """``(B, L, D)`` -> ``(B, D, L)``, contiguous (accelerated-scan's layout)."""
    if np.ndim(x) != 3:
        raise ValueError(f"x: expected a (B, L, D) array, got shape {np.shape(x)}")
    return np.ascontiguousarray(np.swapaxes(x, 1, 2))


def from_time_major(x):
    """``(B, D, L)`` -> ``(B, L, D)``: the inverse of :func:`to_time_major`."""
    return to_time_major(x)


def log_gate(a):
    """fla's ``g``: the natural log of a real gate in (0, 1]."""
    a = np.asarray(a)
    if np.iscomplexobj(a) or not np.all(a > 0):
        raise ValueError("a: fla's log-gates need a real gate a > 0")
    return np.log(a)


def _gla_call(op, q, k, v, g):
    return op(q, k, v, g, scale=1.0)[0]


def _grads_log_gate(grads, gl_inputs):
    """``(dq, dk, dv, dg)`` with ``g = log a``: ``dL/da = dL/dg / a``."""
    dq, dk, dv, dg = grads
    a = gl_inputs[3]
    return dq, dk, dv, np.asarray(dg).reshape(a.shape) / a


def _time_major_grads(conj):
    def grads_to_gl(grads, gl_inputs):
        out = [from_time_major(g) for g in grads]
        if conj:  # torch's gradient of a real loss in a complex z is conj of JAX's
            out[3] = np.conj(out[3])
        return tuple(out)
    return grads_to_gl


def _ascan(attr, gate, scan_only=False):
    conj = gate == "complex"
    if scan_only:
        return Peer(
            f"accelerated_scan.{attr}[scan only]", f"accelerated_scan.{attr}", "scan", ASCAN,
            "siso", gate, "(B, D, L) time-contiguous; gates a and tokens k·v given",
            lambda q, k, v, a: (to_time_major(a), to_time_major(k * v)),
            lambda op, a, kv: op(a, kv),
            lambda x, gl: np.real(gl[0] * from_time_major(x)), None)
    return Peer(
        f"accelerated_scan.{attr}", f"accelerated_scan.{attr}", "scan", ASCAN, "siso", gate,
        "(B, D, L) time-contiguous; y = q·scan(a, k·v) in torch",
        lambda q, k, v, a: tuple(to_time_major(x) for x in (q, k, v, a)),
        lambda op, q, k, v, a: (q * op(a, k * v)).real,
        lambda y, gl: from_time_major(y), _time_major_grads(conj))


def _hgrn(scan_only=False):
    if scan_only:
        return Peer("fla.chunk_hgrn[scan only]", "fla.ops.hgrn", "chunk_hgrn", FLA, "siso",
                    "real", "(B, L, D); x = k·v and g = log a given",
                    lambda q, k, v, a: (k * v, log_gate(a)),
                    lambda op, x, g: op(x, g)[0], lambda h, gl: gl[0] * h, None)
    return Peer("fla.chunk_hgrn", "fla.ops.hgrn", "chunk_hgrn", FLA, "siso", "real",
                "(B, L, D); y = q·chunk_hgrn(k·v, log a) in torch",
                lambda q, k, v, a: (q, k, v, log_gate(a)),
                lambda op, q, k, v, g: q * op(k * v, g)[0],
                lambda y, gl: np.asarray(y), _grads_log_gate)


def _gla(attr, module, gate):
    g_of = log_gate if gate == "key" else (lambda a: log_gate(a)[..., 0])
    return Peer(f"fla.{attr}", module, attr, FLA, "multihead", gate,
                "(B, L, H, d) as gl; g = log a" + ("" if gate == "key" else " per head (B, L, H)")
                + "; scale=1.0",
                lambda q, k, v, a: (q, k, v, g_of(a)), _gla_call,
                lambda y, gl: np.asarray(y), _grads_log_gate)


PEERS = (
    _gla("chunk_gla", "fla.ops.gla", "key"),
    _gla("fused_recurrent_gla", "fla.ops.gla", "key"),
    _gla("chunk_simple_gla", "fla.ops.simple_gla", "head"),
    _hgrn(), _hgrn(scan_only=True),
    _ascan("warp", "real"), _ascan("warp", "real", scan_only=True),
    _ascan("scalar", "real"), _ascan("scalar", "real", scan_only=True),
    _ascan("complex", "complex"),
)


def peers_for(family: str, gate: str) -> list[Peer]:
    """The peers that compute GateLoop of ``family`` (``"multihead"``/``"siso"``) and ``gate``."""
    if gate not in GATES.get(family, ()):
        raise ValueError(f"family, gate: expected one of {GATES}, got {family!r}, {gate!r}")
    return [p for p in PEERS if p.family == family and p.gate == gate]


def gl_inputs(key_seed: int, family: str, gate: str, shape):
    """Random float32 inputs in gl's layout, from ``np.random.default_rng(key_seed)``.

    Multi-head ``(B, L, H, d)``: ``q, k, v`` normal / sqrt(d); gate ``"key"``: ``a`` in
    (0.9, 1) of shape ``(B, L, H, d)``, ``"head"``: ``(B, L, H, 1)``. SISO ``(B, L, D)``:
    normal ``q, k, v``; ``"real"``: ``a`` in (0.9, 1); ``"complex"``: complex64 ``a`` with
    ``|a|`` in (0.9, 1) and phase in (−π, π) (as ``gl.bench``).
    """
    rng = np.random.default_rng(key_seed)
    shape = tuple(shape)
    if len(shape) != {"multihead": 4, "siso": 3}[family]:
        raise ValueError(f"shape: expected {family} dims, got {shape}")
    peers_for(family, gate)  # checks the pair
    s = 1 / np.sqrt(shape[-1]) if family == "multihead" else 1.0
    q, k, v = (rng.standard_normal(shape, np.float32) * np.float32(s) for _ in range(3))
    a_shape = shape[:-1] + (1,) if gate == "head" else shape
    a = rng.uniform(0.9, 1.0, a_shape).astype(np.float32)
    if gate == "complex":
        a = (a * np.exp(1j * rng.uniform(-np.pi, np.pi, a_shape))).astype(np.complex64)
    return q, k, v, a
