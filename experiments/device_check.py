"""Print the ``gl.gate_loop`` implementation a device call should train with: ``pallas`` if
the Pallas kernels run here and agree with XLA (forward and gradient, the shapes given),
else ``xla``. Diagnostics go to stderr; the one word to stdout.

    IMPL=$(python experiments/device_check.py --shape 2,256,6,32,64)
"""
from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="2,256,6,32,64", help="B,L,H,d_k,d_v")
    p.add_argument("--mode", default="chunked")
    args = p.parse_args(argv)
    B, L, H, dk, dv = (int(x) for x in args.shape.split(","))
    print(f"jax {jax.__version__}, devices {jax.devices()}", file=sys.stderr)
    from gl import gate_loop
    ks = jax.random.split(jax.random.key(0), 5)
    q, k = (jax.random.normal(x, (B, L, H, dk)) / dk**0.5 for x in ks[:2])
    v = jax.random.normal(ks[2], (B, L, H, dv))
    a = jax.nn.sigmoid(jax.random.normal(ks[3], (B, L, H, dk)) + 2) * jnp.exp(
        1j * jax.random.normal(ks[4], (B, L, H, dk)))

    def f(impl):
        def loss(q, k, v, a):
            y = gate_loop(q, k, v, a, mode=args.mode, impl=impl, real=True)
            return jnp.sum(jnp.sin(y))
        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))(q, k, v, a)

    ref = f("xla")
    try:
        got = f("pallas")
        for r, g in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(got)):
            r, g = np.asarray(r), np.asarray(g)
            err = float(np.max(np.abs(r - g)) / (np.max(np.abs(r)) + 1e-30))
            print(f"relative error {err:.2e}", file=sys.stderr)
            if not err < 1e-3:
                raise AssertionError(f"pallas disagrees with xla: {err:.2e}")
    except Exception as e:  # noqa: BLE001 -- any failure means: train with XLA
        print(f"pallas unusable here: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
        print("xla")
        return "xla"
    print("pallas")
    return "pallas"


if __name__ == "__main__":
    main()
