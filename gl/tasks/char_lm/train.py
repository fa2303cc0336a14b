"""Train a character language model on tiny Shakespeare with :mod:`gl.tasks.loop`.

``python -m gl.train char-lm --model gateloop --seed 0 --out DIR``

Defaults are nanoGPT's ``train_shakespeare_char`` CPU configuration: 4 layers, 4 heads,
width 128, context 64, batch 12, no dropout, 2,000 iterations, AdamW (β₁, β₂) = (0.9, 0.99),
weight decay 0.1 on matrices and embeddings, peak learning rate 1e-3 after 100 warm-up
iterations, gradient clipping at global norm 1. One difference: the cosine decays to 0 at the
last iteration (:func:`gl.tasks.loop.adamw`), not to nanoGPT's 1e-4.

An "epoch" of :func:`gl.tasks.loop.fit` is ``--eval-interval`` iterations on random windows
(:func:`gl.tasks.char_lm.data.random_windows`, the key folded with the epoch, so ``--resume``
sees the batches an uninterrupted run sees). After each one ``val_loss`` is the mean loss on
``--eval-windows`` evenly spaced validation windows; after the last, ``val_loss_full`` is the
loss over the whole validation split and ``check_loss`` the loss on its first
:data:`CHECK_WINDOWS` windows (:mod:`gl.tasks.char_lm.evaluate`; the tests re-evaluate it).
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import platform
import shlex
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gl.tasks import loop
from gl.tasks.char_lm import data as cdata
from gl.tasks.char_lm import evaluate as ceval
from gl.tasks.char_lm import model as cmodel

__all__ = ["make_epoch", "train", "build_parser", "main", "CHECK_WINDOWS"]

CHECK_WINDOWS = ceval.CHECK_WINDOWS


def make_epoch(config, tx, batch_size: int, iters: int, mode: str = "recurrent",
               impl: str = "auto", dropout: float = 0.0, accum: int = 1, mesh=None):
    """A jitted ``epoch(params, opt_state, key, ids, _) -> (params, opt_state, mean_loss)``:
    ``iters`` AdamW steps on random windows of the training ids, in one ``lax.scan``.
    ``mode``: the algorithm of :func:`gl.gate_loop` in training (the same function;
    ``"recurrent"`` was the fastest on 2 CPU cores at context 64: 0.40 s per iteration
    against 0.42 for ``"chunked"`` and 0.54 for ``"parallel"``, on a loaded machine).
    ``impl``: its implementation; ``dropout``: the training dropout rate
    (:func:`gl.tasks.char_lm.model.apply`). ``accum``: gradient accumulation, each batch
    split into ``accum`` equal micro-batches whose mean gradients are averaged: the same
    update (without dropout; with it, other masks) with ``1/accum`` of the activation memory
    (S4D and Mamba at nanoGPT's GPU scale: about 55 GB per step at batch 64, parallel mode).
    ``mesh``: data parallelism over its ``"data"`` axis, each batch of windows split over
    its devices (pass replicated parameters and ids, :func:`gl.tasks.loop.replicate`); the
    same windows, so the same losses as one device within float rounding."""
    if batch_size % accum:
        raise ValueError(f"accum: expected a divisor of batch_size {batch_size}, got {accum}")
    split = loop.batch_split(mesh, batch_size)

    def loss(p, x, y, key):
        logits = cmodel.apply(p, x, config, mode=mode, impl=impl, dropout=dropout, key=key)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    grad = jax.value_and_grad(loss)

    def accumulated(params, x, y, key):
        if accum == 1:
            return grad(params, x, y, key)

        def micro(total, xyk):
            return jax.tree_util.tree_map(jnp.add, total, grad(params, *xyk)), None

        split = [a.reshape(accum, batch_size // accum, *a.shape[1:]) for a in (x, y)]
        zero = (jnp.zeros(()), jax.tree_util.tree_map(jnp.zeros_like, params))
        total, _ = jax.lax.scan(micro, zero, (*split, jax.random.split(key, accum)))
        return jax.tree_util.tree_map(lambda t: t / accum, total)

    @jax.jit
    def epoch(params, opt_state, key, ids, _):
        def one(carry, k):
            params, opt_state = carry
            # the windows use k itself, so runs without dropout see the batches they saw before
            x, y = map(split, cdata.random_windows(k, ids, batch_size, config.context))
            value, grads = accumulated(params, x, y, jax.random.fold_in(k, 1))
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), losses = jax.lax.scan(one, (params, opt_state), jax.random.split(key, iters))
        return params, opt_state, losses.mean()

    return epoch



def _config(args, vocab) -> cmodel.Config:
    d_ff = args.d_ff or cmodel.default_d_ff(args.model, args.d_model, args.d_qk, args.n_head,
                                            args.readout, args.conv)
    return cmodel.Config(vocab=vocab, mixer=args.model, n_layer=args.n_layer, n_head=args.n_head,
                         d_model=args.d_model, d_qk=args.d_qk, d_ff=d_ff, context=args.context,
                         readout=args.readout, conv=args.conv)


#: nanoGPT's runs this book compares with, by ``(n_layer, d_model, context)``: their iterations
#: (its CPU configuration, the larger CPU anchor of issue 31, its GPU ``shakespeare_char``)
NANOGPT_ITERS = {(4, 128, 64): 2000, (6, 192, 128): 2500, (6, 384, 256): 5000}


def iters_note(config, total: int) -> str:
    """``""`` when a run trains as many iterations as nanoGPT's run of its size, else a note
    saying how many it trained against nanoGPT's (or that nanoGPT has no run of that size)."""
    anchor = NANOGPT_ITERS.get((config.n_layer, config.d_model, config.context))
    if anchor is None:
        return f"trained {total} iterations; no nanoGPT run of this size"
    return "" if total == anchor else f"trained {total} iterations, not nanoGPT's {anchor}"


def train(args) -> dict:
    """Run (or resume) one run described by the parsed ``args``; return the final metrics."""
    corpus = cdata.corpus()
    config = _config(args, corpus.vocab)
    key = jax.random.key(args.seed)
    params = cmodel.init(jax.random.split(key)[0], config)
    epochs = -(-args.iters // args.eval_interval)
    total = epochs * args.eval_interval
    adamw, warmup = loop.adamw(params, lr=args.lr, warmup_steps=args.warmup, total_steps=total,
                               b1=args.b1, b2=args.b2, weight_decay=args.weight_decay)
    tx = optax.chain(optax.clip_by_global_norm(args.grad_clip), adamw)
    n = cmodel.n_params(params)
    print(f"{args.model}: {n:,} parameters", file=sys.stderr)
    meta = {
        "command": "python -m gl.train " + " ".join(shlex.quote(a) for a in args.argv),
        "hardware": loop.hardware(), "jax_version": jax.__version__, "optax_version": optax.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": "char-lm", "model": args.model, "seed": args.seed, "iters": total,
        "batch_size": args.batch_size, "lr": args.lr, "warmup_steps": warmup,
        "weight_decay": args.weight_decay, "betas": [args.b1, args.b2], "grad_clip": args.grad_clip,
        "scan_mode": args.scan_mode, "scan_impl": args.scan_impl, "dropout": args.dropout,
        "eval_interval": args.eval_interval, "eval_windows": args.eval_windows,
        # recorded where not the default, so that runs from before these flags resume
        **({"accum": args.accum} if args.accum != 1 else {}),
        **({"eval_batch": args.eval_batch} if args.eval_batch != 128 else {}),
        "check_windows": CHECK_WINDOWS, "n_params": n, "data_md5": cdata.MD5,
        "note": iters_note(config, total),
    }
    vx, vy = cdata.eval_windows(corpus.val, config.context)
    pick = np.linspace(0, len(vx) - 1, min(args.eval_windows, len(vx))).round().astype(int)
    sub = (vx[pick], vy[pick])
    t0 = time.time()

    def evaluate(params, final):
        loss = functools.partial(ceval.mean_loss, params, config, impl=args.scan_impl,
                                 batch_size=args.eval_batch)
        out = {"val_loss": loss(*sub)}
        if final:
            out["val_loss_full"] = loss(vx, vy)
            out["check_loss"] = loss(vx[:CHECK_WINDOWS], vy[:CHECK_WINDOWS])
            wall = time.time() - t0
            out["wall_s"] = round(wall, 1)
        return out

    try:
        from tqdm import tqdm
        bar = tqdm(total=epochs, disable=args.no_progress, desc=f"{args.model}-s{args.seed}",
                   unit=f"x{args.eval_interval}it")
    except ImportError:  # pragma: no cover
        bar = None
    ck = loop.Checkpoints(args.out, config)
    mesh = None if args.mesh is None else loop.parse_mesh(args.mesh)
    ids = jnp.asarray(corpus.train)
    if mesh is not None:  # data parallelism: the ids on every device, each batch split
        meta["mesh"] = args.mesh
        ids = loop.replicate(ids, mesh)
    final = loop.fit(ck, params, tx, make_epoch(config, tx, args.batch_size, args.eval_interval,
                                           args.scan_mode, args.scan_impl, args.dropout,
                                           args.accum, mesh),
                     ids, jnp.zeros(()), epochs=epochs, key=key,
                     evaluate=evaluate, meta=meta, steps_per_epoch=args.eval_interval,
                     eval_every=1, checkpoint_every=args.checkpoint_every, resume=args.resume,
                     overwrite=args.overwrite, progress=bar, mesh=mesh)
    return final


def build_parser():
    """The options; every numeric flag is checked by its ``type=`` (:func:`gl.tasks.loop.flag`)."""
    flag = loop.flag
    count, natural, unit = flag(int, 1), flag(int, 0), flag(float, 0, 1, hi_open=True)
    p = argparse.ArgumentParser(prog="python -m gl.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("task", choices=["char-lm"])
    p.add_argument("--model", default="gateloop", choices=list(cmodel.CHOICES),
                   help="the token mixer: gateloop, fixed, transformer or a family member")
    p.add_argument("--seed", type=flag(int, 0, 2**32 - 1), default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--iters", type=flag(int, 2), default=2000)
    p.add_argument("--batch-size", type=count, default=12)
    p.add_argument("--context", type=flag(int, 2), default=64)
    p.add_argument("--lr", type=flag(float, 0, lo_open=True), default=1e-3)
    p.add_argument("--warmup", type=natural, default=100)
    p.add_argument("--b1", type=unit, default=0.9)
    p.add_argument("--b2", type=unit, default=0.99)
    p.add_argument("--weight-decay", type=flag(float, 0), default=0.1)
    p.add_argument("--grad-clip", type=flag(float, 0, lo_open=True), default=1.0)
    for name, default in (("n-layer", 4), ("n-head", 4), ("d-model", 128), ("d-qk", 64)):
        p.add_argument(f"--{name}", type=count, default=default)
    p.add_argument("--d-ff", type=count, default=None,
                   help="channel-mixing width (default: matched parameters, model.default_d_ff)")
    p.add_argument("--readout", default="plain", choices=list(cmodel.READOUTS),
                   help="GateLoop's read-out before W_o: plain (the paper's), norm (per head), "
                        "gate (silu gate), norm-gate (RetNet's: the gate times the norm)")
    p.add_argument("--conv", type=count, default=1,
                   help="width of a short causal convolution before GateLoop's gates "
                        "(1: none, the paper's; Mamba, Griffin and xLSTM use 4)")
    p.add_argument("--scan-mode", default="recurrent", choices=["recurrent", "parallel", "chunked"],
                   help="gl.gate_loop's algorithm in training (GateLoop models)")
    p.add_argument("--scan-impl", default="auto", choices=["auto", "xla", "pallas"],
                   help="gl.gate_loop's implementation in training (pallas: GPU kernels)")
    p.add_argument("--dropout", type=flag(float, 0, 1, hi_open=True), default=0.0,
                   help="training dropout rate (nanoGPT's GPU configuration uses 0.2)")
    p.add_argument("--eval-interval", type=count, default=250, help="iterations between evaluations")
    p.add_argument("--eval-windows", type=count, default=240,
                   help="validation windows per evaluation (the final one uses them all)")
    p.add_argument("--accum", type=count, default=1,
                   help="gradient accumulation: micro-batches per batch (a divisor of --batch-size)")
    p.add_argument("--eval-batch", type=count, default=128, help="windows per evaluation call")
    p.add_argument("--checkpoint-every", type=count, default=1, help="evaluations between checkpoints")
    p.add_argument("--mesh", default=None, help="data parallelism, e.g. data=4: each batch split "
                   "over 4 devices, parameters replicated")
    loop.add_run_flags(p)
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = build_parser()
    args = p.parse_args(argv)
    try:
        _config(args, "ab")
    except ValueError as e:
        p.error(str(e))
    if args.batch_size % args.accum:
        p.error(f"--accum: expected a divisor of --batch-size {args.batch_size}, got {args.accum}")
    if args.mesh is not None:
        try:
            loop.batch_split(loop.parse_mesh(args.mesh), args.batch_size)
        except ValueError as e:
            p.error(str(e))
    if args.iters % args.eval_interval:
        p.error(f"--iters: expected a multiple of --eval-interval {args.eval_interval}, "
                f"got {args.iters}")
    args.argv = argv
    final = train(args)
    print(json.dumps(final, sort_keys=True))
    return final


if __name__ == "__main__":
    main()
