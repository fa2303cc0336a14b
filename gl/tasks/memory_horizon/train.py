"""Train the appendix-C model on Memory Horizon (section 5.1, Table 3).

``python -m gl.train memory-horizon --transition data --seed 0 --out DIR``

Defaults are Table 3's: AdamW (β₁, β₂) = (0.9, 0.98), weight decay 0.05, learning rate
0.0025 with linear warm-up over 10000 steps then cosine decay to 0 at the last step,
batch 32, 300 epochs; the data are Table 2's 2000 samples (data seed ``--data-seed``), of which
the last 10 % are held out as the test set (:func:`gl.data.split`), so an epoch is
``1800 // 32 = 56`` steps (the last partial batch is dropped) and 300 epochs are 16800 steps.
Weight decay applies to weight matrices and embeddings (arrays of ≥ 2 dimensions), not to
biases, layer-norm parameters or the vectors of the ``"fixed"`` transition.
``--transition-lr`` and ``--transition-weight-decay`` set a separate learning rate and weight
decay for the state-transition parameters (Table 4 does this for WikiText103).

``--seed`` sets the initialization and the shuffling; every run trains on the same data.
Writes ``DIR/metrics.jsonl`` (one JSON object per evaluation, see :mod:`gl.evaluate` for the
accuracy definitions), ``DIR/checkpoint.npz`` (params, config, metrics, provenance; no pickle,
see :mod:`gl.checkpoint`) and ``DIR/train_state.npz`` (optimizer state for ``--resume``).
The final metrics also hold ``check_accuracy``: the accuracy on a fixed small set
(``memory_horizon(check_seed, check_samples)``), which the tests re-evaluate.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gl import checkpoint as ckpt
from gl import data as gdata
from gl import evaluate as gevaluate
from gl import model as gmodel

__all__ = ["make_optimizer", "loss_fn", "make_train_epoch", "train", "main", "CHECK_SEED",
           "CHECK_SAMPLES"]

CHECK_SEED = 4242
CHECK_SAMPLES = 32


def make_optimizer(params, *, lr=0.0025, warmup_steps=10000, total_steps=16800, b1=0.9, b2=0.98,
                   weight_decay=0.05, transition_lr=None, transition_weight_decay=None):
    """AdamW with linear warm-up and cosine decay; a separate group for the α, β parameters.

    Returns ``(optimizer, warmup_steps_used)``; the warm-up is cut to ``total_steps // 2``
    (with a warning) when it would not fit in ``total_steps``.
    """
    if total_steps < 2:
        raise ValueError(f"total_steps: expected at least 2 optimizer steps (raise --epochs or "
                         f"--samples), got {total_steps}")
    if warmup_steps >= total_steps:
        used = max(total_steps // 2, 1)
        warnings.warn(f"warmup_steps={warmup_steps} >= total_steps={total_steps}: using {used}")
        warmup_steps = used
    transition_lr = lr if transition_lr is None else transition_lr
    transition_weight_decay = weight_decay if transition_weight_decay is None else transition_weight_decay

    def group(peak, wd):
        sched = optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, total_steps, end_value=0.0)
        decay_mask = jax.tree_util.tree_map(lambda x: x.ndim >= 2, params)
        return optax.adamw(sched, b1=b1, b2=b2, weight_decay=wd, mask=decay_mask)

    tmask = gmodel.transition_mask(params)
    labels = jax.tree_util.tree_map(lambda t: "transition" if t else "default", tmask)
    tx = optax.multi_transform({"default": group(lr, weight_decay),
                                "transition": group(transition_lr, transition_weight_decay)}, labels)
    return tx, warmup_steps


def loss_fn(params, tokens, targets, config):
    """Mean cross-entropy over all ``B × L`` positions."""
    logits = gmodel.apply(params, tokens, config)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()


def make_train_epoch(tx, config, batch_size):
    """A jitted ``epoch(params, opt_state, key, inputs, targets) -> (params, opt_state, mean_loss)``.

    Shuffles with ``key``, drops the last partial batch and runs the steps in one ``lax.scan``.
    """

    @jax.jit
    def epoch(params, opt_state, key, inputs, targets):
        n = inputs.shape[0]
        steps = n // batch_size
        perm = jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)

        def step(carry, idx):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, inputs[idx], targets[idx], config)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return params, opt_state, losses.mean()

    return epoch


def _hardware() -> str:
    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', '?')} x{jax.device_count()}; {platform.machine()} {os.cpu_count()} cpus"


def train(args) -> dict:
    """Run (or resume) one training run described by the parsed ``args``; return the final metrics."""
    os.makedirs(args.out, exist_ok=True)
    config = gmodel.Config(
        vocab_in=gdata.reset_id() + 1, vocab_out=args.max_output, n_layer=args.n_layer,
        d_model=args.d_model, d_qk=args.d_qk, d_v=args.d_v, n_head=args.n_head,
        d_channel_mixing=args.d_channel_mixing, transition=args.transition)
    full = gdata.memory_horizon(args.data_seed, n_samples=args.samples, length=args.length,
                                max_output=args.max_output)
    train_set, test_set = gdata.split(full, args.test_fraction)
    check_set = gdata.memory_horizon(CHECK_SEED, n_samples=CHECK_SAMPLES, length=args.length,
                                     max_output=args.max_output)
    steps_per_epoch = train_set.inputs.shape[0] // args.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size: expected at most {train_set.inputs.shape[0]} training samples, got {args.batch_size}")
    total_steps = steps_per_epoch * args.epochs
    key = jax.random.key(args.seed)
    k_init, k_shuffle = jax.random.split(key)
    params = gmodel.init(k_init, config)
    tx, warmup_used = make_optimizer(
        params, lr=args.lr, warmup_steps=args.warmup_steps, total_steps=total_steps, b1=args.b1,
        b2=args.b2, weight_decay=args.weight_decay, transition_lr=args.transition_lr,
        transition_weight_decay=args.transition_weight_decay)
    opt_state = tx.init(params)
    start_epoch, metrics = 0, []
    ck_path = os.path.join(args.out, "checkpoint.npz")
    st_path = os.path.join(args.out, "train_state.npz")
    mpath = os.path.join(args.out, "metrics.jsonl")
    if args.resume and os.path.exists(ck_path) and os.path.exists(st_path):
        params, old_config, info = ckpt.load(ck_path)
        if old_config != config:
            raise ValueError(f"--resume: checkpoint config {old_config} differs from {config}")
        opt_state, _, start_epoch, _ = ckpt.load_state(st_path, opt_state)
        metrics = info["metrics"]
        with open(mpath, "w") as f:  # drop lines written after the checkpoint
            f.writelines(json.dumps(m, sort_keys=True) + "\n" for m in metrics)
    elif os.path.exists(mpath):
        os.remove(mpath)
    meta = {
        "command": "python -m gl.train " + " ".join(shlex.quote(a) for a in args.argv),
        "hardware": _hardware(), "jax_version": jax.__version__, "optax_version": optax.__version__,
        "python": platform.python_version(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "epochs": args.epochs, "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
        "warmup_steps": warmup_used, "batch_size": args.batch_size, "lr": args.lr,
        "weight_decay": args.weight_decay, "betas": [args.b1, args.b2],
        "transition_lr": args.transition_lr, "transition_weight_decay": args.transition_weight_decay,
        "seed": args.seed, "data_seed": args.data_seed, "samples": args.samples, "length": args.length,
        "test_fraction": args.test_fraction, "n_train": int(train_set.inputs.shape[0]),
        "n_test": int(test_set.inputs.shape[0]), "check_seed": CHECK_SEED, "check_samples": CHECK_SAMPLES,
        "n_params": gmodel.n_params(params),
        "paper_epochs": 300, "note": "" if args.epochs == 300 else f"trained {args.epochs} epochs, not the paper's 300",
    }
    epoch_fn = make_train_epoch(tx, config, args.batch_size)
    tr_in, tr_tg = jnp.asarray(train_set.inputs), jnp.asarray(train_set.targets)
    t0 = time.time()
    try:
        from tqdm import tqdm
        bar = tqdm(total=args.epochs, initial=start_epoch, disable=args.no_progress, desc=f"{args.transition}-s{args.seed}")
    except ImportError:  # pragma: no cover
        bar = None
    last = None
    for ep in range(start_epoch, args.epochs):
        params, opt_state, loss = epoch_fn(params, opt_state, jax.random.fold_in(k_shuffle, ep), tr_in, tr_tg)
        done = ep + 1
        final = done == args.epochs
        if done % args.eval_every == 0 or final:
            rep = gevaluate.report(params, config, test_set, args.batch_size)
            last = {"epoch": done, "step": done * steps_per_epoch, "train_loss": float(loss),
                    "test_loss": rep["loss"], "test_accuracy": rep["accuracy"],
                    "test_accuracy_no_reset": rep["accuracy_no_reset"],
                    "test_accuracy_after_first_reset": rep["accuracy_after_first_reset"],
                    "elapsed_s": round(time.time() - t0, 2)}
            if final:
                last["test_by_span"] = rep["by_span"]
                last["check_accuracy"] = gevaluate.report(params, config, check_set, args.batch_size)["accuracy"]
            metrics.append(last)
            with open(mpath, "a") as f:
                f.write(json.dumps(last, sort_keys=True) + "\n")
            if bar is not None:
                bar.set_postfix(loss=f"{float(loss):.3f}", acc=f"{rep['accuracy']:.3f}")
        if done % args.checkpoint_every == 0 or final:
            ckpt.save(ck_path, params, config, metrics, {**meta, "epoch": done, "step": done * steps_per_epoch})
            ckpt.save_state(st_path, opt_state, done * steps_per_epoch, done, jax.random.key_data(key))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return last if last is not None else (metrics[-1] if metrics else {})


def build_parser():
    p = argparse.ArgumentParser(prog="python -m gl.train", description=__doc__.split("\n")[0])
    p.add_argument("task", choices=["memory-horizon"])
    p.add_argument("--transition", default="data", choices=sorted(gmodel.TRANSITIONS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--warmup-steps", type=int, default=10000)
    p.add_argument("--b1", type=float, default=0.9)
    p.add_argument("--b2", type=float, default=0.98)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--transition-lr", type=float, default=None)
    p.add_argument("--transition-weight-decay", type=float, default=None)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--length", type=int, default=1024)
    p.add_argument("--max-output", type=int, default=50)
    p.add_argument("--test-fraction", type=float, default=0.1)
    p.add_argument("--data-seed", type=int, default=0)
    for name, default in (("n-layer", 4), ("d-model", 64), ("d-qk", 64), ("d-v", 64), ("n-head", 64),
                          ("d-channel-mixing", 128)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--eval-every", type=int, default=10, help="epochs between test evaluations")
    p.add_argument("--checkpoint-every", type=int, default=10, help="epochs between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from DIR's last checkpoint")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    final = train(args)
    print(json.dumps({k: v for k, v in final.items() if k != "test_by_span"}, sort_keys=True))
    return final


if __name__ == "__main__":
    main()
