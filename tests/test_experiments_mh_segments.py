"""experiments/mh_segments.py on a tiny shape (the Pallas interpreter): every time-segment
setting of the fused multi-head forward runs, agrees with the default, and the default agrees
with the reference loop, so the GPU run's timings compare equal outputs."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from conftest import script_module

import gl


def test_every_setting_agrees_and_the_default_is_the_loop():
    mod = script_module("experiments/mh_segments.py")
    shape = (1, 256, 2, 16)
    rows = mod.rows(shape, segments=(1, 2, 4, 16), repeats=1)
    assert [r["segments"] for r in rows[1:]] == [1, 2, 4, 16]
    assert all(r["agrees"] for r in rows), rows
    q, k, v, a = (jnp.asarray(h) for h in mod.peer_maps.gl_inputs(0, "multihead", "key", shape))
    y = np.asarray(gl.kernels.chunked.gate_loop_mh(q, k, v, a, interpret=True, segments=4)[0])
    ref = np.asarray(gl.gate_loop_reference(q, k, v, a)).real
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()
