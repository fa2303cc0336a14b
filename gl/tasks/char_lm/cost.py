"""The cost of generating one character as the context grows, on the CPU: GateLoop's recurrent
step (:func:`gl.tasks.char_lm.model.step`) against the transformer's key-value-cache step
(:func:`gl.tasks.char_lm.model.step_kv`).

``python -m gl.tasks.char_lm.cost --out gl/assets/char_lm/generation_cost.json``

For each context ``L`` in ``--contexts`` the model first reads ``L`` characters of the
validation text (GateLoop: ``L`` recurrent steps; transformer: ``L`` cached steps into a cache
of ``L + 1`` rows), then the step that generates character ``L + 1`` is timed: ``--inner``
steps in a row, ``--repeats`` times, after compilation; the median per step is reported.
The state each model keeps is counted in bytes (:func:`state_bytes`) and checked against the
arrays' sizes: GateLoop ``n_layer · H · (d_qk/H) · (D/H)`` complex64 numbers whatever ``L``,
the transformer ``2 · n_layer · L · D`` float32 numbers.

The models have the shipped small configuration (4 layers, 4 heads, width 128) with random
weights: the cost of a step does not depend on the weights' values. The transformer's
position table has ``max(contexts) + 1`` rows instead of the trained 64, so that it can read
4,096 characters at all; this measures cost, not quality.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from gl.tasks import loop
from gl.tasks.char_lm import data as cdata
from gl.tasks.char_lm import generate as cgen
from gl.tasks.char_lm import model as cmodel

__all__ = ["CONTEXTS", "MODELS", "state_bytes", "measure", "main"]

CONTEXTS = (0, 64, 256, 1024, 4096)
MODELS = ("gateloop", "transformer")


def state_bytes(config: cmodel.Config, context: int) -> int:
    """Bytes a model keeps after reading ``context`` characters: GateLoop's state
    ``n_layer · H · (d_qk/H) · (D/H)`` complex64 (8 bytes each), the transformer's key-value
    cache ``2 · n_layer · context · D`` float32 (4 bytes each)."""
    c = config
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise ValueError(f"context: expected an int >= 0, got {context!r}")
    if c.mixer == "transformer":
        return 2 * c.n_layer * int(context) * c.d_model * 4
    H = c.n_head
    return c.n_layer * H * (c.d_qk // H) * (c.d_model // H) * 8


def _nbytes(tree) -> int:
    return int(sum(x.nbytes for x in jax.tree_util.tree_leaves(tree)))


def _time(fn, carry, repeats, inner):
    """Median seconds per call of ``carry = fn(carry)`` over ``repeats`` runs of ``inner``."""
    carry = jax.block_until_ready(fn(carry))  # compile
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            carry = fn(carry)
        jax.block_until_ready(carry)
        out.append((time.perf_counter() - t0) / inner)
    return statistics.median(out), out


def _one(mixer, contexts, repeats, inner, seed, size):
    vocab = cdata.corpus().vocab
    text = jnp.asarray(cdata.corpus().val[: max(contexts) + 1])
    cfg = cmodel.Config(vocab, mixer=mixer, context=max(contexts) + 1,
                        d_ff=cmodel.default_d_ff(mixer, size["d_model"], size["d_qk"]), **size)
    params = cmodel.init(jax.random.key(seed), cfg)
    res = {"n_params": cmodel.n_params(params), "ms_per_char": [], "ms_repeats": [],
           "state_bytes": []}
    if mixer == "transformer":
        step = jax.jit(lambda p, cache, t, i: cmodel.step_kv(p, cache, t, i, cfg),
                       donate_argnums=1)
    else:
        step = jax.jit(lambda p, s, t: cmodel.step(p, s, t, cfg))
    for L in contexts:
        if mixer == "transformer":
            cache = cgen.kv_cache(cfg, 1, L + 1)
            for i in range(L):  # read the context
                _, cache = step(params, cache, text[i:i + 1], i)
            assert _nbytes(cache) == state_bytes(cfg, L + 1), "cache size != formula"

            def fn(cache, L=L):
                return step(params, cache, text[L:L + 1], L)[1]
            carry = cache
        else:
            state = cmodel.init_state(cfg, 1)
            for i in range(L):
                _, state = step(params, state, text[i:i + 1])
            assert _nbytes(state) == state_bytes(cfg, L), "state size != formula"

            def fn(state, L=L):
                return step(params, state, text[L:L + 1])[1]
            carry = state
        med, all_ = _time(fn, carry, repeats, inner)
        res["ms_per_char"].append(round(1e3 * med, 4))
        res["ms_repeats"].append([round(1e3 * t, 4) for t in all_])
        res["state_bytes"].append(state_bytes(cfg, L))
        print(f"{mixer:12s} context {L:5d}: {1e3 * med:8.3f} ms/char, "
              f"state {state_bytes(cfg, L):,} B", file=sys.stderr)
    cfg_d = json.loads(cfg.to_json())
    cfg_d.pop("vocab")
    res["config"] = cfg_d
    return res


def measure(contexts=CONTEXTS, repeats=7, inner=30, seed=0,
            size=(("n_layer", 4), ("n_head", 4), ("d_model", 128), ("d_qk", 64)),
            argv=None) -> dict:
    """Time per generated character and state bytes at each context, both models; a dict
    ready for JSON, with provenance (command, hardware, date, JAX version, load)."""
    contexts = [int(L) for L in contexts]
    if not contexts or any(L < 0 for L in contexts) or contexts != sorted(set(contexts)):
        raise ValueError(f"contexts: expected increasing ints >= 0, got {contexts}")
    for name, val in (("repeats", repeats), ("inner", inner)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {val!r}")
    t0 = time.time()
    models = {m: _one(m, contexts, repeats, inner, seed, dict(size)) for m in MODELS}
    argv = sys.argv[1:] if argv is None else argv
    return {
        "what": "median wall time per generated character (batch 1, jitted step, after "
                "compilation) and bytes of state after reading `context` characters",
        "note": "random weights (cost does not depend on them); the transformer's position "
                f"table has {max(contexts) + 1} rows so that it can read {max(contexts)} "
                "characters: cost, not quality",
        "contexts": contexts, "repeats": repeats, "inner": inner, "models": models,
        "provenance": {
            "command": "python -m gl.tasks.char_lm.cost " + " ".join(map(shlex.quote, argv)),
            "hardware": loop.hardware(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "jax_version": jax.__version__, "python": platform.python_version(),
            "wall_s": round(time.time() - t0, 1)},
    }


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m gl.tasks.char_lm.cost",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--contexts", type=loop.flag(int, 0), nargs="+", default=list(CONTEXTS))
    p.add_argument("--repeats", type=loop.flag(int, 1), default=7)
    p.add_argument("--inner", type=loop.flag(int, 1), default=30,
                   help="steps timed in a row per repeat")
    args = p.parse_args(argv)
    try:
        out = measure(args.contexts, args.repeats, args.inner, argv=argv)
    except ValueError as e:
        p.error(str(e))
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out} ({out['provenance']['wall_s']} s)", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
