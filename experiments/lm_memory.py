"""Device memory of one char-lm training step at nanoGPT's GPU scale, per token mixer, from
XLA's own buffer assignment (``compiled.memory_analysis()``), without running the step.

    PYTHONPATH=. python experiments/lm_memory.py --out gl/assets/char_lm/lm_memory.json

Each model is compiled as ``python -m gl.train char-lm`` trains it on the device
(``experiments/device_batch.sh``: 6 layers, 6 heads, width 384, ``d_qk`` 192, context 256,
dropout 0.2; ``mode`` per member, as that script picks it): the gradient of the loss at batch
64, and at the micro-batch the script gives S4D and Mamba (``--accum 8``); Mamba also in the
other two modes. It compiles for this machine's backend (CPU here): XLA's GPU buffer assignment
fuses differently, so read the numbers as sizes, not as a GPU's exact peak. The ``temp`` bytes
are what the step needs beyond its arguments and outputs (the parameters and the
gradients, 43 MB each).
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import time

import jax
import jax.numpy as jnp
import optax

from gl.tasks import loop
from gl.tasks.char_lm import model as cmodel

#: the training mode experiments/device_batch.sh gives each mixer (chunked unless listed)
MODE = {"hgrn": "parallel", "rglru": "parallel", "s5": "parallel", "lru": "parallel",
        "s4d": "parallel", "mamba": "parallel"}
#: the micro-batch experiments/device_batch.sh gives a mixer (--accum 8 of batch 64)
MICRO = {"s4d": 8, "mamba": 8}
BATCH, VOCAB = 64, "".join(chr(33 + i) for i in range(65))


def step_temp_bytes(model: str, mode: str, batch: int) -> int:
    """XLA's temp bytes of ``jax.grad`` of the training loss of ``model`` at ``batch``."""
    d_ff = cmodel.default_d_ff(model, 384, 192, 6)
    c = cmodel.Config(vocab=VOCAB, mixer=model, n_layer=6, n_head=6, d_model=384, d_qk=192,
                      d_ff=d_ff, context=256)
    params = jax.eval_shape(lambda k: cmodel.init(k, c), jax.random.key(0))
    x = jax.ShapeDtypeStruct((batch, 256), jnp.int32)

    def loss(p, x):
        logits = cmodel.apply(p, x, c, mode=mode, dropout=0.2, key=jax.random.key(1))
        return optax.softmax_cross_entropy_with_integer_labels(logits, x).mean()

    return int(jax.jit(jax.grad(loss)).lower(params, x).compile().memory_analysis()
               .temp_size_in_bytes)


def measure(models) -> list[dict]:
    rows = []
    for m in models:
        mode = "parallel" if m == "transformer" else MODE.get(m, "chunked")
        runs = [(mode, BATCH)] + ([(mode, MICRO[m])] if m in MICRO else [])
        if m == "mamba":
            runs += [("chunked", BATCH), ("recurrent", BATCH)]
        for mo, b in runs:
            t = time.time()
            rows.append({"model": m, "mode": mo, "batch": b, "script": (mo, b) == (
                mode, MICRO.get(m, BATCH)), "temp_gb": round(step_temp_bytes(m, mo, b) / 1e9, 2)})
            print(rows[-1], f"{time.time() - t:.0f} s", file=sys.stderr)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--models", nargs="*", default=list(cmodel.CHOICES))
    args = p.parse_args(argv)
    rows = measure(args.models)
    out = {"rows": rows, "what": "XLA temp bytes of one training step (jax.grad of the loss), "
           "6 layers, width 384, d_qk 192, context 256, dropout 0.2; 'script': the mode and "
           "(micro-)batch experiments/device_batch.sh trains the model in",
           "command": "PYTHONPATH=. python experiments/lm_memory.py " + shlex.join(
               sys.argv[1:] if argv is None else argv),
           "hardware": loop.hardware(), "jax_version": jax.__version__,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
