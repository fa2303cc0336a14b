"""The precision side of the peer bench: tolerances, dtypes and what a dtype does to a case.

gl computes in float32 whatever its inputs; a peer given bfloat16 inputs rounds its
intermediates to bfloat16, so its rows are held to :data:`TOL_BF16` instead of :data:`TOL`
(:func:`tol_for`). :func:`round_bf16` gives the bf16-rounded values that gl and the peers are
both given and that the checks refer to; :func:`case_bytes` counts a case's bytes in its dtype.
What bfloat16 does to y and its gradients is measured by :func:`peer_cases.bf16_errors`.
"""
from __future__ import annotations

import numpy as np

import jax.numpy as jnp

TOL = {"fwd": 2e-3, "fwd+bwd": 1e-2}
#: Peer rows with bfloat16 inputs (gl's rows keep ``TOL``: gl computes in float32). The peer
#: gets the same bf16-rounded values as gl, and fla's ``g = log a`` rounded to bf16 too; its
#: kernels then round intermediates to bf16 (8-bit mantissa, 2^-9 relative) where gl keeps
#: float32. Measured on the CPU with gl's XLA path at (1, 4096, 2, 64), (1, 4096, 1, 128) and
#: (1, 16384, 1, 128), both gate kinds, seed 0 (:func:`peer_cases.bf16_errors`): rounding g to bf16
#: moves y by 2.9e-4-5.4e-4; rounding every input once, 4.4e-3-6.6e-3; gl's whole chunked
#: algorithm computed in bfloat16 (``gl.chunked.gate_loop_chunked(..., dtype=bfloat16)``: bf16
#: state and gate products, a worse case than fla's float32 accumulation), at most 7.9e-3 in y
#: and 1.6e-2 in the gradients of sum(y·w). The tolerances are 2.5 times those worst cases.
TOL_BF16 = {"fwd": 2e-2, "fwd+bwd": 4e-2}
DTYPES = ("float32", "bfloat16")


def round_bf16(x):
    """``x`` rounded to bfloat16 (to nearest, ties to even), as float32."""
    return np.asarray(x).astype(jnp.bfloat16).astype(np.float32)


def check_dtype(family, dtype):
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    if dtype != "float32" and family != "multihead":
        raise ValueError(f"dtype: {dtype} is for the multi-head family only, got {family!r}")


def case_bytes(host, dtype):
    """gl's input bytes (``dtype``; a complex ``a`` as complex64) plus a float32 ``y``."""
    size = 2 if dtype == "bfloat16" else 4
    return sum(h.size * (h.itemsize if np.iscomplexobj(h) else size) for h in host) + \
        host[2].size * 4



def tol_for(pas, library, dtype):
    """A checked row's tolerance: :data:`TOL_BF16` for a peer given bfloat16 inputs, else
    :data:`TOL` (gl computes in float32 whatever its inputs)."""
    return TOL_BF16[pas] if dtype == "bfloat16" and library not in ("gl", "xla", "torch") \
        else TOL[pas]

