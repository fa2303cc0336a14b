"""Ablation of the TMA forward at one shape (GPU call 33): where does the bfloat16 kernel's time go?

Variants of the kernel of tools/mgpu_probe.py (complex a in planes, no h0, real y), each timed in
one run next to the copy and gl.kernels.siso_tma.forward itself:
  full     the recurrence, as gl.pallas_tma;
  no_rec   y = q k v Re a Im a summed per row: the same loads, conversions and stores, no chain
           through h (rows independent);
  copy_q   y = q: the pipeline's loads and stores with almost no arithmetic;
  fori     the recurrence with the rows of a tile walked by lax.fori_loop instead of unrolled.
Usage (on the GPU): SHAPE=16,4096,640 python3 tools/tma_ablate.py
"""
import os, statistics, sys
import numpy as np
import jax, jax.numpy as jnp
from jax import lax
from jax.experimental.pallas import mosaic_gpu as plgpu

sys.path.insert(0, os.getcwd())
from gl import bench, pallas_tma  # noqa: E402


def variant(q, k, v, ar, ai, *, mode, T, stages, bd=128):
    B, L, D = q.shape
    f32 = jnp.float32

    def body(q_g, k_g, v_g, ar_g, ai_g, y_g):
        b, j = lax.axis_index("b"), lax.axis_index("d")

        def row(t, q_s, k_s, v_s, ar_s, ai_s, y_s, hr, hi):
            if mode == "copy_q":
                y_s[t] = q_s[t]
                return hr, hi
            a_r, a_i = ar_s[t].astype(f32), ai_s[t].astype(f32)
            kv = k_s[t].astype(f32) * v_s[t].astype(f32)
            qq = q_s[t].astype(f32)
            if mode == "no_rec":
                y_s[t] = (qq + kv + a_r + a_i).astype(y_s.dtype)
                return hr, hi
            hr, hi = a_r * hr - a_i * hi + kv, a_r * hi + a_i * hr
            y_s[t] = (qq * hr).astype(y_s.dtype)
            return hr, hi

        def step(idx, q_s, k_s, v_s, ar_s, ai_s, y_s, carry):
            hr, hi = carry
            if mode == "fori":
                return lax.fori_loop(0, T, lambda t, c: row(t, q_s, k_s, v_s, ar_s, ai_s, y_s, *c), (hr, hi))
            for t in range(T):
                hr, hi = row(t, q_s, k_s, v_s, ar_s, ai_s, y_s, hr, hi)
            return hr, hi

        spec = plgpu.BlockSpec((T, bd), lambda i: (i, j))
        zero = jnp.zeros((bd,), f32)
        plgpu.emit_pipeline(step, grid=(L // T,), in_specs=[spec] * 5, out_specs=[spec],
                            max_concurrent_steps=stages, init_carry=(zero, zero))(
            q_g.at[b], k_g.at[b], v_g.at[b], ar_g.at[b], ai_g.at[b], y_g.at[b])

    return plgpu.kernel(body, out_type=jax.ShapeDtypeStruct(q.shape, q.dtype), grid=(B, D // bd),
                        grid_names=("b", "d"))(q, k, v, ar, ai)


def main():
    shape = tuple(int(x) for x in os.environ.get("SHAPE", "16,4096,640").split(","))
    q, k, v, a = bench.siso_inputs(jax.random.key(1), *shape)
    ar, ai = jnp.real(a), jnp.imag(a)
    print("jax", jax.__version__, jax.devices()[0].device_kind, shape, flush=True)
    fns = {"copy": (bench.copy_planar, (q, k, v, ar, ai))}
    for dt, (T, S) in ((jnp.float32, (8, 4)), (jnp.bfloat16, (32, 3))):
        args = tuple(x.astype(dt) for x in (q, k, v, ar, ai))
        h0 = jnp.zeros((shape[0], shape[2]), jnp.float32)
        fns[f"gl.pallas_tma {dt.__name__}"] = (
            lambda q, k, v, ar, ai, T=T, S=S: pallas_tma.forward(q, k, v, ar, ai, h0, h0, ctype="float32", chunk=T,
                                                                 stages=S)[0], args)
        for mode in ("full", "no_rec", "copy_q", "fori"):
            fns[f"{mode} {dt.__name__}"] = (lambda *xs, mode=mode, T=T, S=S: variant(*xs, mode=mode, T=T, stages=S), args)
    ready = {}
    for name, (fn, args) in fns.items():
        try:
            f, out, comp, n = bench.prepare(fn, args)
        except Exception as ex:
            print(f"  {name} failed: {type(ex).__name__}: {str(ex)[:400]}", flush=True)
            continue
        ready[name] = (f, args, n)
        print(f"  compiled {name} in {comp:.1f} s", flush=True)
    t = {nm: statistics.median(x) for nm, x in bench.time_rounds(ready, 7).items()}
    for nm, ms in t.items():
        print(f"  {nm:28s} {ms:7.3f} ms  {t['copy'] / ms:5.2f} of copy", flush=True)


if __name__ == "__main__":
    main()
