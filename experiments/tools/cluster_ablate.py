"""Where does tools/cluster_scan.py spend its time? (GPU call 38.) One variant per process, timed next to
the copy and the kernel itself in interleaved rounds:
  full        the kernel;
  no_sync     no cluster barrier in the rounds (wrong y: neighbours' aggregates read unsynchronised);
  own_slot    the barrier, but every program folds its own aggregate C times (no shared-memory reads
              across the cluster; with push, no stores across it; wrong y);
  neither     neither: the pipeline and the local scans only (wrong y).
Usage (on the GPU): python3 tools/cluster_ablate.py VARIANT '{"C":16,"T":32,"S":4,"stages":2}' [B,L,D]
"""
import json, os, statistics, sys
import jax, jax.numpy as jnp
sys.path.insert(0, os.getcwd())
from jax.experimental.pallas import mosaic_gpu as plgpu  # noqa: E402
from gl import bench  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_scan  # noqa: E402  (tools/cluster_scan.py)

variant, cfg = sys.argv[1], json.loads(sys.argv[2])
shape = tuple(int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "8,65536,64").split(","))
q, k, v, a = bench.siso_inputs(jax.random.key(1), *shape)
args = (q, k, v, jnp.real(a), jnp.imag(a))
h0 = jnp.zeros((shape[0], shape[2]), jnp.float32)
fns = {"copy": bench.copy_planar,
       "full": lambda *xs: cluster_scan.forward(*xs, h0, h0, **cfg)[0]}
ready = {}
for name, fn in fns.items():
    f, _, _, n = bench.prepare(fn, args)
    ready[name] = f, args, n
if variant in ("no_sync", "neither") and cfg.get("lag"):
    sys.exit("no_sync and neither drop _round_sync, which only the kernel without lag calls")
if variant != "full":  # patch, then trace a second kernel
    if variant in ("no_sync", "neither"):
        cluster_scan._round_sync = lambda: None
    if variant in ("own_slot", "neither"):
        plgpu.cluster_ref = lambda ref, idx: ref
    fn = lambda *xs: cluster_scan.forward.__wrapped__(*xs, h0, h0, **cfg)[0]  # traced afresh
    f, _, _, n = bench.prepare(fn, args)
    ready[variant] = f, args, n
t = {nm: statistics.median(x) for nm, x in bench.time_rounds(ready, 7).items()}
print(jax.devices()[0].device_kind, jax.__version__, shape, cfg, flush=True)
for nm, ms in t.items():
    print(f"  {nm:10s} {ms:7.3f} ms  {t['copy'] / ms:5.2f} of copy", flush=True)
