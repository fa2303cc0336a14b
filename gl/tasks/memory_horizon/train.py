"""Train the appendix-C model on Memory Horizon (section 5.1, Table 3) with :mod:`gl.tasks.loop`.

``python -m gl.train memory-horizon --transition data --seed 0 --out DIR``

Defaults are Table 3's: AdamW (β₁, β₂) = (0.9, 0.98), weight decay 0.05, learning rate
0.0025 with linear warm-up over 10000 steps then cosine decay to 0 at the last step,
batch 32, 300 epochs; the data are Table 2's 2000 samples (data seed ``--data-seed``), of which
the last 10 % are held out as the test set (:func:`gl.tasks.memory_horizon.data.split`), so an epoch is
``1800 // 32 = 56`` steps (the last partial batch is dropped) and 300 epochs are 16800 steps.
Weight decay applies to weight matrices and embeddings (arrays of ≥ 2 dimensions), not to
biases, layer-norm parameters or the vectors of the ``"fixed"`` transition.
``--transition-lr`` and ``--transition-weight-decay`` set a separate learning rate and weight
decay for the state-transition parameters (Table 4 does this for WikiText103).

``--seed`` sets the initialization and the shuffling; every run trains on the same data.
Writes ``DIR/metrics.jsonl`` (one JSON object per evaluation, see :mod:`gl.tasks.memory_horizon.evaluate` for the
accuracy definitions), ``DIR/checkpoint.npz`` (params, config, metrics, provenance; no pickle,
see :mod:`gl.tasks.checkpoint`) and ``DIR/train_state.npz`` (the same with the optimizer state,
in one file, for ``--resume``). ``DIR`` must be empty or absent unless ``--resume`` (which needs
a checkpoint there, of the same configuration) or ``--overwrite`` is given
(:func:`gl.tasks.loop.fit`). Every numeric flag is range-checked by ``argparse``.
Study knobs (issue 28): ``--n-layer``, ``--d-model`` ... (capacity), ``--epochs`` (budget),
``--magnitude {sigmoid,stable-exp}`` and ``--phase {on,off}`` (the data-controlled gate of
Fig. 4; they pick the ``--transition`` name), ``--resets-per-sample R`` (the training span
distribution: more resets, shorter spans) and ``--curriculum R1,R2,...``: a short-to-long
span curriculum that splits the epochs into equal stages, stage ``i`` training on the same
samples with ``R_i`` resets each (e.g. ``24,12,6,3``). The test and check sets always keep
Table 2's 3 resets, so runs stay comparable.
``--mixer NAME`` replaces GateLoop's time mixing by a family member
(:data:`gl.tasks.memory_horizon.model.MIXERS`, e.g. ``--mixer gla``).
The final metrics also hold ``check_accuracy``: the accuracy on a fixed small set
(``memory_horizon(check_seed, check_samples)``), which the tests re-evaluate.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import shlex
import sys

import jax
import jax.numpy as jnp
import optax

from gl.tasks import loop
from gl.tasks.memory_horizon import data as gdata
from gl.tasks.memory_horizon import evaluate as gevaluate
from gl.tasks.memory_horizon import model as gmodel

__all__ = ["make_optimizer", "loss_fn", "make_train_epoch", "train", "build_parser",
           "check_args", "main", "CHECK_SEED", "CHECK_SAMPLES"]

#: Table 2's training budget, the default of ``--epochs``
PAPER_EPOCHS = 300
CHECK_SEED = 4242
CHECK_SAMPLES = 32


def make_optimizer(params, *, lr=0.0025, warmup_steps=10000, total_steps=16800, b1=0.9, b2=0.98,
                   weight_decay=0.05, transition_lr=None, transition_weight_decay=None):
    """AdamW with linear warm-up and cosine decay (:func:`gl.tasks.loop.adamw`); the α, β
    parameters (:func:`gl.tasks.memory_horizon.model.transition_mask`) form a separate group.

    Returns ``(optimizer, warmup_steps_used)``.
    """
    return loop.adamw(params, lr=lr, warmup_steps=warmup_steps, total_steps=total_steps, b1=b1, b2=b2,
                      weight_decay=weight_decay, group=gmodel.transition_mask(params),
                      group_lr=transition_lr, group_weight_decay=transition_weight_decay)


def loss_fn(params, tokens, targets, config):
    """Mean cross-entropy over all ``B × L`` positions."""
    logits = gmodel.apply(params, tokens, config)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()


def make_train_epoch(tx, config, batch_size, mesh=None):
    """A jitted ``epoch(params, opt_state, key, inputs, targets) -> (params, opt_state, mean_loss)``
    (:func:`gl.tasks.loop.make_epoch` with :func:`loss_fn`; batches split over ``mesh``'s
    ``"data"`` axis when given)."""
    return loop.make_epoch(lambda p, x, y: loss_fn(p, x, y, config), tx, batch_size, mesh)



_GATE = {("sigmoid", "on"): "data", ("sigmoid", "off"): "real",
         ("stable-exp", "on"): "stable-exp", ("stable-exp", "off"): "stable-exp-real"}


def _transition(args) -> str:
    if args.magnitude is None and args.phase is None:
        return args.transition
    return _GATE[(args.magnitude or "sigmoid", args.phase or "on")]


def _name(args) -> str:
    """The run's model: the transition for GateLoop, else the family member."""
    return args.transition if args.mixer == "gateloop" else args.mixer


def _stages(args) -> list:
    """Resets per sample of each curriculum stage (one stage without ``--curriculum``)."""
    return list(args.curriculum) if args.curriculum else [args.resets_per_sample]


def _resets_list(text):
    """argparse ``type=`` for ``--curriculum``: comma-separated ints >= 0."""
    try:
        out = tuple(int(x) for x in text.split(","))
    except ValueError:
        out = ()
    if not out or min(out) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints >= 0, got {text!r}")
    return out


def _config(args) -> gmodel.Config:
    return gmodel.Config(
        vocab_in=gdata.reset_id() + 1, vocab_out=args.max_output, n_layer=args.n_layer,
        d_model=args.d_model, d_qk=args.d_qk, d_v=args.d_v, n_head=args.n_head,
        d_channel_mixing=args.d_channel_mixing, transition=_transition(args), mixer=args.mixer)


def train(args) -> dict:
    """Run (or resume) one training run described by the parsed ``args``; return the final metrics."""
    config = _config(args)
    full = gdata.memory_horizon(args.data_seed, n_samples=args.samples, length=args.length,
                                max_output=args.max_output)
    train_set, test_set = gdata.split(full, args.test_fraction)
    stages = [gdata.split(gdata.memory_horizon(
        args.data_seed, n_samples=args.samples, length=args.length, resets_per_sample=r,
        max_output=args.max_output), args.test_fraction)[0] for r in _stages(args)]
    check_set = gdata.memory_horizon(CHECK_SEED, n_samples=CHECK_SAMPLES, length=args.length,
                                     max_output=args.max_output)
    steps_per_epoch = train_set.inputs.shape[0] // args.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch_size: expected at most {train_set.inputs.shape[0]} training samples, got {args.batch_size}")
    total_steps = steps_per_epoch * args.epochs
    key = jax.random.key(args.seed)
    params = gmodel.init(jax.random.split(key)[0], config)
    tx, warmup_used = make_optimizer(
        params, lr=args.lr, warmup_steps=args.warmup_steps, total_steps=total_steps, b1=args.b1,
        b2=args.b2, weight_decay=args.weight_decay, transition_lr=args.transition_lr,
        transition_weight_decay=args.transition_weight_decay)
    meta = {
        "command": "python -m gl.train " + " ".join(shlex.quote(a) for a in args.argv),
        "hardware": loop.hardware(), "jax_version": jax.__version__, "optax_version": optax.__version__,
        "python": platform.python_version(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "epochs": args.epochs, "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
        "warmup_steps": warmup_used, "batch_size": args.batch_size, "lr": args.lr,
        "weight_decay": args.weight_decay, "betas": [args.b1, args.b2],
        "transition_lr": args.transition_lr, "transition_weight_decay": args.transition_weight_decay,
        "seed": args.seed, "data_seed": args.data_seed, "samples": args.samples, "length": args.length,
        "test_fraction": args.test_fraction, "n_train": int(train_set.inputs.shape[0]),
        "n_test": int(test_set.inputs.shape[0]), "check_seed": CHECK_SEED, "check_samples": CHECK_SAMPLES,
        "n_params": gmodel.n_params(params), "train_resets": _stages(args),
        "paper_epochs": PAPER_EPOCHS,
        "note": "" if args.epochs == PAPER_EPOCHS else f"trained {args.epochs} epochs, not the paper's {PAPER_EPOCHS}",
    }

    def evaluate(params, final):
        rep = gevaluate.report(params, config, test_set, args.batch_size)
        out = {"test_loss": rep["loss"], "test_accuracy": rep["accuracy"],
               "test_accuracy_no_reset": rep["accuracy_no_reset"],
               "test_accuracy_after_first_reset": rep["accuracy_after_first_reset"]}
        if final:
            out["test_by_span"] = rep["by_span"]
            out["check_accuracy"] = gevaluate.report(params, config, check_set, args.batch_size)["accuracy"]
        return out

    try:
        from tqdm import tqdm
        bar = tqdm(total=args.epochs, disable=args.no_progress, desc=f"{_name(args)}-s{args.seed}")
    except ImportError:  # pragma: no cover
        bar = None
    ck = loop.Checkpoints(args.out, config)
    mesh = None if getattr(args, "mesh", None) is None else loop.parse_mesh(args.mesh)
    epoch_fn = make_train_epoch(tx, config, args.batch_size, mesh)
    xs = jnp.stack([jnp.asarray(t.inputs) for t in stages])
    ys = jnp.stack([jnp.asarray(t.targets) for t in stages])
    if mesh is not None:  # data parallelism: the data sets on every device (fit replicates
        meta["mesh"] = args.mesh  # the parameters and the optimizer state)
        xs, ys = loop.replicate((xs, ys), mesh)

    def staged_epoch(params, opt_state, key, _x, _y):  # the stage follows the step count
        count = optax.tree_utils.tree_get_all_with_path(opt_state, "count")[0][1]
        ep = int(count) // steps_per_epoch  # every "count" of the state is the step
        i = min(ep * len(stages) // args.epochs, len(stages) - 1)
        return epoch_fn(params, opt_state, key, xs[i], ys[i])

    return loop.fit(ck, params, tx, staged_epoch, xs[0], ys[0], epochs=args.epochs, key=key,
                    evaluate=evaluate, meta=meta,
                    steps_per_epoch=steps_per_epoch, eval_every=args.eval_every,
                    checkpoint_every=args.checkpoint_every, resume=args.resume,
                    overwrite=getattr(args, "overwrite", False), progress=bar, mesh=mesh)


def build_parser():
    """The options; every numeric flag is checked by its ``type=`` (:func:`gl.tasks.loop.flag`)."""
    flag = loop.flag
    seed, count, natural = flag(int, 0, 2**32 - 1), flag(int, 1), flag(int, 0)
    p = argparse.ArgumentParser(prog="python -m gl.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("task", choices=["memory-horizon"])
    p.add_argument("--transition", default="data", choices=sorted(gmodel.TRANSITIONS))
    p.add_argument("--mixer", default="gateloop", choices=list(gmodel.MIXERS),
                   help="the time mixing: GateLoop (with --transition) or a family member")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=count, default=PAPER_EPOCHS)
    p.add_argument("--batch-size", type=count, default=32)
    p.add_argument("--lr", type=flag(float, 0, lo_open=True), default=0.0025)
    p.add_argument("--warmup-steps", type=natural, default=10000)
    p.add_argument("--b1", type=flag(float, 0, 1, hi_open=True), default=0.9)
    p.add_argument("--b2", type=flag(float, 0, 1, hi_open=True), default=0.98)
    p.add_argument("--weight-decay", type=flag(float, 0), default=0.05)
    p.add_argument("--transition-lr", type=flag(float, 0), default=None)
    p.add_argument("--transition-weight-decay", type=flag(float, 0), default=None)
    p.add_argument("--samples", type=flag(int, 2), default=2000)
    p.add_argument("--length", type=flag(int, 3), default=1024, help="at least the 3 resets")
    p.add_argument("--max-output", type=count, default=50)
    p.add_argument("--test-fraction", type=flag(float, 0, 1, lo_open=True, hi_open=True), default=0.1)
    p.add_argument("--data-seed", type=seed, default=0)
    p.add_argument("--magnitude", choices=["sigmoid", "stable-exp"], default=None,
                   help="data-controlled gate's magnitude (with --transition data)")
    p.add_argument("--phase", choices=["on", "off"], default=None,
                   help="data-controlled gate's phase (with --transition data)")
    p.add_argument("--resets-per-sample", type=natural, default=3,
                   help="resets per training sample (the span distribution; test keeps 3)")
    p.add_argument("--curriculum", type=_resets_list, default=None,
                   help="resets per stage, e.g. 24,12,6,3: equal stages of the epochs")
    for name, default in (("n-layer", 4), ("d-model", 64), ("d-qk", 64), ("d-v", 64), ("n-head", 64),
                          ("d-channel-mixing", 128)):
        p.add_argument(f"--{name}", type=count, default=default)
    p.add_argument("--eval-every", type=count, default=10, help="epochs between test evaluations")
    p.add_argument("--checkpoint-every", type=count, default=10, help="epochs between checkpoints")
    loop.add_run_flags(p)
    p.add_argument("--mesh", default=None, help="data parallelism, e.g. data=4: each batch split "
                   "over 4 devices, parameters replicated")
    return p


def check_args(p, args):
    """The checks across flags, as usage errors: the model config, the split and the batch."""
    if (args.magnitude or args.phase) and args.transition != "data":
        p.error(f"--magnitude/--phase: expected --transition data (the data-controlled "
                f"gate), got --transition {args.transition}")
    if args.mixer != "gateloop" and (args.transition_lr is not None
                                     or args.transition_weight_decay is not None):
        p.error(f"--transition-lr/--transition-weight-decay: apply to GateLoop's α, β "
                f"(--mixer gateloop), got --mixer {args.mixer}")
    if args.curriculum and args.resets_per_sample != 3:
        p.error("--curriculum: gives the resets of every stage; drop --resets-per-sample")
    if max(_stages(args)) > args.length:
        p.error(f"--curriculum/--resets-per-sample: expected at most --length "
                f"{args.length} resets, got {max(_stages(args))}")
    if args.curriculum and len(args.curriculum) > args.epochs:
        p.error(f"--curriculum: expected at most --epochs {args.epochs} stages, "
                f"got {len(args.curriculum)}")
    try:
        _config(args)
    except ValueError as e:
        p.error(str(e))
    n_train = args.samples - math.ceil(args.test_fraction * args.samples)
    if n_train < 1:
        p.error(f"--test-fraction: {args.test_fraction} of --samples {args.samples} leaves no "
                "training sample")
    if args.batch_size > n_train:
        p.error(f"--batch-size: expected at most {n_train} (the training samples), got {args.batch_size}")
    if args.mesh is not None:
        try:
            loop.batch_split(loop.parse_mesh(args.mesh), args.batch_size)
        except ValueError as e:
            p.error(str(e))
    if args.epochs * (n_train // args.batch_size) < 2:
        p.error(f"--epochs: expected at least 2 optimizer steps in all, got {args.epochs} epoch(s) "
                f"of {n_train // args.batch_size} step(s)")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = build_parser()
    args = p.parse_args(argv)
    check_args(p, args)
    args.argv = argv
    final = train(args)
    print(json.dumps({k: v for k, v in final.items() if k != "test_by_span"}, sort_keys=True))
    return final


if __name__ == "__main__":
    main()
