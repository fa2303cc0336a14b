"""Sampling text from a character model, in GateLoop's recurrent mode.

GateLoop, its fixed-transition ablation and the family mixers (:data:`gl.family.mixer.NAMES`)
read the prompt and generate one character per :func:`gl.tasks.char_lm.model.step`: for
GateLoop the state is ``n_layer`` arrays of ``(H, d_qk/H, D/H)`` complex numbers whatever
the length (O(1) memory and time per character). The state is carried past the training context. The transformer re-reads its
last ``context`` characters for every new one (nanoGPT's ``generate``), padded to one
compiled shape; :func:`kv_cache` and :func:`gl.tasks.char_lm.model.step_kv` decode it one
character at a time with a key-value cache instead (:mod:`gl.tasks.char_lm.cost`).

Sampling: logits divided by ``temperature``, then, with ``top_k``, everything below the
``top_k``-th largest logit removed (nanoGPT's convention).

``python -m gl.tasks.char_lm.generate CHECKPOINT --prompt "ROMEO:" -n 200 --temperature 0.8
--top-k 10 --seed 0`` prints a sample (``CHECKPOINT``: a file or a shipped name such as
``lm-gateloop-s0``; ``\n`` in the prompt is a newline).
"""
from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from gl.tasks.char_lm import data as cdata
from gl.tasks.char_lm import model as cmodel

__all__ = ["sample_logits", "generate", "kv_cache", "main"]


def _check(prompt, temperature, top_k, n, vocab):
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt: expected a non-empty string, got {prompt!r}")
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature: expected a finite number > 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k: expected None or an int >= 1, got {top_k!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: expected an int >= 0 (characters to generate), got {n!r}")
    return cdata.encode(prompt, vocab)  # names unknown characters


def kv_cache(config, batch: int = 1, capacity: int | None = None):
    """An empty key-value cache for :func:`gl.tasks.char_lm.model.step_kv`: one ``(k, v)``
    pair of zeros ``(batch, capacity, H, D/H)`` float32 per layer (``capacity`` defaults to
    ``config.context``, the most the position table allows)."""
    if config.mixer != "transformer":
        raise ValueError(f"mixer: a key-value cache exists for 'transformer', got {config.mixer!r}")
    capacity = config.context if capacity is None else capacity
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= config.context:
        raise ValueError(f"capacity: expected an int in [1, context={config.context}], got {capacity!r}")
    H = config.n_head
    shape = (batch, capacity, H, config.d_model // H)
    return [(jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32))
            for _ in range(config.n_layer)]


def sample_logits(key, logits, temperature=1.0, top_k=None):
    """One id per row of ``logits`` ``(B, V)``: softmax sampling at ``temperature``, ``top_k``."""
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = jnp.sort(logits, axis=-1)[..., -top_k][..., None]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    return jax.random.categorical(key, logits, axis=-1)


def generate(params, config, prompt: str, n: int, *, key, temperature=1.0, top_k=None) -> str:
    """``prompt`` followed by ``n`` sampled characters.

    A ``ValueError`` for an empty prompt, characters outside ``config.vocab`` (named),
    ``temperature <= 0`` or ``top_k < 1``.
    """
    ids = _check(prompt, temperature, top_k, n, config.vocab)
    out = list(ids)
    keys = jax.random.split(key, max(n, 1))
    if config.mixer in cmodel.RECURRENT:
        step = jax.jit(lambda p, s, t: cmodel.step(p, s, t, config))
        state = cmodel.init_state(config, 1)
        for t in ids:
            logits, state = step(params, state, jnp.asarray([t]))
        for i in range(n):
            nxt = int(sample_logits(keys[i], logits, temperature, top_k)[0])
            out.append(nxt)
            logits, state = step(params, state, jnp.asarray([nxt]))
    else:
        # one compiled shape: the window sits at the start of a buffer of ``context`` ids
        # (causal, so the padding after it changes nothing) and its last logits are read
        fwd = jax.jit(lambda p, x, i: cmodel.apply(p, x, config)[0, i])
        for i in range(n):
            window = out[-config.context:]
            buf = np.zeros((1, config.context), np.int32)
            buf[0, :len(window)] = window
            logits = fwd(params, jnp.asarray(buf), len(window) - 1)[None]
            out.append(int(sample_logits(keys[i], logits, temperature, top_k)[0]))
    return cdata.decode(np.asarray(out), config.vocab)


def main(argv=None) -> str:
    from gl.tasks import checkpoint
    from gl.tasks.char_lm import evaluate as ceval

    p = argparse.ArgumentParser(prog="python -m gl.tasks.char_lm.generate",
                                description="Sample text from a character language model.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", help="a char-lm checkpoint.npz or a shipped name "
                   "(lm-gateloop-s0, lm-medium-gateloop-s0, ...)")
    p.add_argument("--prompt", default="ROMEO:\\n", help="the text to continue (\\n: newline)")
    p.add_argument("-n", type=int, default=200, help="characters to generate")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=10, help="0: no top-k cut")
    p.add_argument("--seed", type=int, default=0, help="the sampling key, jax.random.key(seed)")
    args = p.parse_args(argv)
    if args.top_k < 0:  # the function's message would say "None", which no flag spells
        p.error(f"--top-k: expected 0 (no cut) or an int >= 1, got {args.top_k}")
    try:
        path = checkpoint.resolve(args.checkpoint, ceval.shipped(), "char-lm ")
        params, config, _ = checkpoint.load_checked(path, cmodel.Config, cmodel.init)
        text = generate(params, config, args.prompt.replace("\\n", "\n"), args.n,
                        key=jax.random.key(args.seed), temperature=args.temperature,
                        top_k=args.top_k or None)
    except ValueError as e:  # a bad prompt, temperature, top-k, n or checkpoint
        p.error(str(e))
    sys.stdout.write(text + "\n")
    return text


if __name__ == "__main__":
    main()
