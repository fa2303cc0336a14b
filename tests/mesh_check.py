"""Runs on 4 host CPU devices and prints one JSON object: ``tests/test_sharded.py`` asserts on it.

``python tests/mesh_check.py operator``: :func:`gl.sharded.gate_loop_sharded` against the
single-device :func:`gl.gate_loop` (float64; forward, final state, gradient) for 1, 2 and 4
devices, both combines, even and padded lengths, and the messages of the bad inputs.
``python tests/mesh_check.py train``: two epochs of the tiny Memory Horizon run on one device
and with ``--mesh data=4``; their losses. ``train_lm``: the same for the character LM.

The device count must be set before JAX starts, hence a separate process.
"""
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import json  # noqa: E402
import tempfile  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402


def _err(f):
    try:
        f()
    except ValueError as e:
        return str(e)
    return None


def operator():
    jax.config.update("jax_enable_x64", True)
    import gl
    from gl.sharded import gate_loop_sharded, local_mesh

    r = np.random.default_rng(0)
    b, h, dk, dv = 2, 2, 3, 2

    def inputs(length):
        q, k = (jnp.asarray(r.normal(size=(b, length, h, dk))) for _ in range(2))
        v = jnp.asarray(r.normal(size=(b, length, h, dv)))
        a = jnp.asarray(r.uniform(0.8, 1, (b, length, h, dk))
                        * np.exp(1j * r.uniform(0, 1, (b, length, h, dk))))
        return q, k, v, a, jnp.asarray(r.normal(size=(b, h, dk, dv)))

    def objective(fn):
        def loss(q, k, v, a, h0):
            y, s = fn(q, k, v, a, h0)
            return jnp.sum(jnp.abs(y) ** 2) + jnp.sum(jnp.abs(s)), (y, s)
        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4), has_aux=True))

    def one(q, k, v, a, h0):
        return gl.gate_loop(q, k, v, a, h0=h0, mode="recurrent", return_state=True)

    reference = objective(one)  # one jit: compiled once per length, not once per case
    out = {"devices": jax.device_count(), "cases": []}
    for length, n, combine, mode, pad in [
            (16, 1, "allgather", "auto", False), (16, 1, "ppermute", "auto", False),
            (16, 2, "allgather", "auto", False), (16, 2, "ppermute", "auto", False),
            (16, 4, "allgather", "parallel", False), (16, 4, "ppermute", "chunked", False),
            (16, 4, "auto", "recurrent", False), (14, 4, "ppermute", "auto", True),
            (14, 4, "allgather", "auto", True)]:
        x = inputs(length)
        mesh = local_mesh(n)
        (_, (y0, s0)), g0 = reference(*x)
        (_, (y1, s1)), g1 = objective(lambda *z: gate_loop_sharded(
            *z[:4], h0=z[4], mesh=mesh, axis="seq", combine=combine, mode=mode, pad=pad,
            return_state=True))(*x)
        scale = lambda t: float(jnp.abs(t).max())  # noqa: E731
        out["cases"].append({
            "L": length, "n": n, "combine": combine, "mode": mode, "pad": pad,
            "y_shape": list(y1.shape),
            "y_err": float(jnp.abs(y1 - y0).max()) / scale(y0),
            "state_err": float(jnp.abs(s1 - s0).max()) / scale(s0),
            "grad_err": max(float(jnp.abs(u - w).max()) / scale(u) for u, w in zip(g0, g1))})
    mesh = local_mesh(4)
    q, k, v, a, _ = inputs(14)
    out["uneven"] = _err(lambda: gate_loop_sharded(q, k, v, a, mesh=mesh, axis="seq"))
    q, k, v, a, _ = inputs(16)
    out["bad_axis"] = _err(lambda: gate_loop_sharded(q, k, v, a, mesh=mesh, axis="time"))
    q_sh = jax.device_put(q, NamedSharding(mesh, P(None, "seq")))
    k_sh = jax.device_put(k, NamedSharding(mesh, P()))
    out["disagree"] = _err(lambda: gate_loop_sharded(q_sh, k_sh, v, a, mesh=mesh, axis="seq"))
    v_sh, a_sh = (jax.device_put(t, NamedSharding(mesh, P(None, "seq"))) for t in (v, a))
    k_ok = jax.device_put(k, NamedSharding(mesh, P(None, "seq")))
    y = gate_loop_sharded(q_sh, k_ok, v_sh, a_sh, mesh=mesh, axis="seq")
    out["agree_err"] = float(jnp.abs(y - gl.gate_loop(q, k, v, a, mode="recurrent")).max())
    out["agree_sharding"] = str(y.sharding.spec)
    return out


def _runs(module, make_name, task, tiny):
    """``module.main`` for ``task`` on one device and on ``--mesh data=4``: each run's metrics,
    how many times its jitted epoch compiled, and whether that step sums across devices
    (an all-reduce in its compiled program, lowered with the run's first arguments)."""
    made, make = [], getattr(module, make_name)

    def keep(*a, **k):  # each run's jitted epoch and its first arguments
        epoch, first = make(*a, **k), []
        made.append((epoch, first))

        def run(*xs):
            if not first:
                first.extend(xs)
            return epoch(*xs)
        return run

    setattr(module, make_name, keep)
    out = {"devices": jax.device_count()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("one", []), ("data4", ["--mesh", "data=4"])):
            module.main([task, "--out", os.path.join(tmp, name), *tiny, *extra])
            with open(os.path.join(tmp, name, "metrics.jsonl")) as f:
                out[name] = [json.loads(line) for line in f]
            epoch, first = made[-1]
            out[name + "_compiles"] = epoch._cache_size()
            out[name + "_all_reduce"] = "all-reduce" in epoch.lower(*first).compile().as_text()
    setattr(module, make_name, make)
    return out


def train():
    """The tiny Memory Horizon run, two epochs, on one device and on data=4."""
    from gl.tasks.memory_horizon import train as mh

    tiny = ["--n-layer", "1", "--d-model", "8", "--d-qk", "8", "--d-v", "8", "--n-head", "8",
            "--d-channel-mixing", "16", "--length", "32", "--samples", "40", "--batch-size", "8",
            "--warmup-steps", "4", "--eval-every", "1", "--checkpoint-every", "1",
            "--no-progress", "--epochs", "2"]
    return _runs(mh, "make_train_epoch", "memory-horizon", tiny)


def train_lm():
    """The tiny character LM, two epochs (with dropout), on one device and on data=4."""
    from gl.tasks.char_lm import train as lm

    tiny = ["--n-layer", "1", "--n-head", "2", "--d-model", "16", "--d-qk", "8",
            "--context", "16", "--batch-size", "8", "--iters", "4", "--eval-interval", "2",
            "--eval-windows", "16", "--eval-batch", "512", "--dropout", "0.1",
            "--no-progress"]
    return _runs(lm, "make_epoch", "char-lm", tiny)


if __name__ == "__main__":
    parts = {"operator": operator, "train": train, "train_lm": train_lm}
    print("MESH_CHECK " + json.dumps(parts[sys.argv[1]]()))
