"""Probe: a SISO GateLoop forward in Pallas' Mosaic GPU backend (TMA pipeline into shared memory).

Each program (one warpgroup, 128 threads) owns ``bd`` channels of one batch row; ``emit_pipeline``
streams ``(T, bd)`` tiles of q, k, v, Re a, Im a into shared memory ``stages`` deep with TMA, each
thread walks its channel's T rows there and writes y into an output tile that TMA stores back.
Usage (on the GPU): python3 tools/mgpu_probe.py
"""
import json, os, statistics, sys, time, traceback
import numpy as np
import jax, jax.numpy as jnp
from jax import lax
from jax.experimental.pallas import mosaic_gpu as plgpu

sys.path.insert(0, os.getcwd())
from gl import bench, pallas_scan  # noqa: E402


def scan_mgpu(q, k, v, ar, ai, *, T=16, bd=128, stages=4):
    B, L, D = q.shape
    f32 = jnp.float32

    def body(q_g, k_g, v_g, ar_g, ai_g, y_g):
        b, j = lax.axis_index("b"), lax.axis_index("d")

        def step(idx, q_s, k_s, v_s, ar_s, ai_s, y_s, carry):
            hr, hi = carry
            for t in range(T):
                a_r, a_i = ar_s[t].astype(f32), ai_s[t].astype(f32)
                kv = k_s[t].astype(f32) * v_s[t].astype(f32)
                hr, hi = a_r * hr - a_i * hi + kv, a_r * hi + a_i * hr
                y_s[t] = (q_s[t].astype(f32) * hr).astype(y_s.dtype)
            return hr, hi

        spec = plgpu.BlockSpec((T, bd), lambda i: (i, j))
        zero = jnp.zeros((bd,), f32)
        pipe = plgpu.emit_pipeline(step, grid=(L // T,), in_specs=[spec] * 5, out_specs=[spec],
                                   max_concurrent_steps=stages, init_carry=(zero, zero))
        pipe(q_g.at[b], k_g.at[b], v_g.at[b], ar_g.at[b], ai_g.at[b], y_g.at[b])

    f = plgpu.kernel(body, out_type=jax.ShapeDtypeStruct(q.shape, q.dtype), grid=(B, D // bd),
                     grid_names=("b", "d"))
    return f(q, k, v, ar, ai)


def reference(q, k, v, ar, ai):
    q, k, v, ar, ai = (np.asarray(x, np.float64) for x in (q, k, v, ar, ai))
    h = np.zeros((q.shape[0], q.shape[2]), complex)
    y = np.zeros(q.shape)
    for n in range(q.shape[1]):
        h = (ar[:, n] + 1j * ai[:, n]) * h + k[:, n] * v[:, n]
        y[:, n] = (q[:, n] * h).real
    return y


def main():
    log = lambda *a: print(*a, flush=True)
    log("jax", jax.__version__, jax.devices())
    configs = json.loads(os.environ.get("CONFIGS", '[{"T":16,"stages":4},{"T":16,"stages":2},{"T":32,"stages":2},{"T":8,"stages":4}]'))
    shapes = [tuple(map(int, s.split(","))) for s in os.environ.get("SHAPES", "16,4096,640;32,2048,1024").split(";")]
    key = jax.random.key(1)
    # correctness on a small problem first
    q, k, v, a = bench.siso_inputs(key, 2, 512, 256)
    ar, ai = jnp.real(a), jnp.imag(a)
    y_ref = reference(q, k, v, ar, ai)
    for cfg in configs:
        for dt in (jnp.float32, jnp.bfloat16):
            try:
                args = [x.astype(dt) for x in (q, k, v, ar, ai)]
                y = jax.jit(lambda *xs: scan_mgpu(*xs, **cfg))(*args)
                yr = reference(*args)
                err = np.linalg.norm(np.asarray(y, np.float64) - yr) / np.linalg.norm(yr)
                log(f"check {cfg} {dt.__name__}: rel err vs float64 loop on the same inputs {err:.2e}")
            except Exception as ex:
                log(f"check {cfg} {dt.__name__} FAILED: {type(ex).__name__}: {str(ex)[:2000]}")
                traceback.print_exc(limit=3)
    for shape in shapes:
        q, k, v, a = bench.siso_inputs(key, *shape)
        ar, ai = jnp.real(a), jnp.imag(a)
        fns = {"copy": (bench.copy_planar, (q, k, v, ar, ai))}
        for dt in (jnp.float32, jnp.bfloat16):
            args = tuple(x.astype(dt) for x in (q, k, v, ar, ai))
            fns[f"triton {dt.__name__}"] = (lambda q, k, v, ar, ai: pallas_scan.gate_loop_siso(q, k, v, (ar, ai))[0], args)
            for cfg in configs:
                fns[f"mosaic {dt.__name__} {cfg}"] = (lambda *xs, cfg=cfg: scan_mgpu(*xs, **cfg), args)
        ready, base = {}, {}
        for name, (fn, args) in fns.items():
            try:
                f, out, comp, n = bench.prepare(fn, args)
            except Exception as ex:
                log(f"  {name} failed: {type(ex).__name__}: {str(ex)[:600]}")
                continue
            dt = name.split()[1] if " " in name else None
            if name.startswith("triton"):
                base[dt] = np.asarray(out, np.float32)
                err = None
            elif name.startswith("mosaic"):
                err = float(np.abs(np.asarray(out, np.float32) - base[dt]).max() / np.abs(base[dt]).max())
            else:
                err = None
            ready[name] = (f, args, n)
            log(f"  compiled {name} in {comp:.1f} s; max diff vs triton {err}")
        samples = bench.time_rounds(ready, 5)
        t = {nm: statistics.median(x) for nm, x in samples.items()}
        log(f"{shape}:")
        for nm, ms in t.items():
            log(f"  {nm:55s} {ms:7.3f} ms  {t['copy'] / ms:5.2f} of copy  spread {(max(samples[nm]) - min(samples[nm])) / ms:.2f}")


if __name__ == "__main__":
    main()
