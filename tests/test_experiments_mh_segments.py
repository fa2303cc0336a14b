"""experiments/mh_segments.py on a tiny shape (the Pallas interpreter): every time-segment
setting of the fused multi-head forward runs, agrees with the default, and the default agrees
with the reference loop, so the GPU run's timings compare equal outputs."""
from __future__ import annotations

import importlib.util
import pathlib

import jax.numpy as jnp
import numpy as np

import gl

ROOT = pathlib.Path(__file__).parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("mh_segments", ROOT / "experiments" / "mh_segments.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_setting_agrees_and_the_default_is_the_loop():
    mod = _module()
    shape = (1, 256, 2, 16)
    rows = mod.rows(shape, segments=(1, 2, 4, 16), repeats=1)
    assert [r["segments"] for r in rows[1:]] == [1, 2, 4, 16]
    assert all(r["agrees"] for r in rows), rows
    q, k, v, a = (jnp.asarray(h) for h in mod.peer_maps.gl_inputs(0, "multihead", "key", shape))
    y = np.asarray(gl.kernels.chunked.gate_loop_mh(q, k, v, a, interpret=True, segments=4)[0])
    ref = np.asarray(gl.gate_loop_reference(q, k, v, a)).real
    assert np.abs(y - ref).max() <= 1e-5 * np.abs(ref).max()
