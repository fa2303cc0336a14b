"""Run tools/cluster_scan.py once at one shape (for Nsight Compute; GPU call 42).
Usage: python3 tools/cluster_once.py B,L,D '{"lag": true}'"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jax, jax.numpy as jnp  # noqa: E402
import cluster_scan  # noqa: E402

B, L, D = (int(x) for x in sys.argv[1].split(","))
x = jnp.ones((B, L, D), jnp.float32)
h = jnp.zeros((B, D), jnp.float32)
jax.block_until_ready(cluster_scan.forward(x, x, x, x, x, h, h, **json.loads(sys.argv[2])))
