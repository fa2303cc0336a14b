"""The GateLoop language model of appendix C (Figure 10), in pure JAX.

token embedding → ``n_layer`` × [time mixing, channel mixing] → layer norm → linear head.

* Time mixing (pre-norm, residual): from ``u = LayerNorm(x)`` real linear projections give
  ``q, k`` ``(B, L, H, d_qk/H)``, ``v`` ``(B, L, H, d_v/H)`` and ``α, β`` ``(B, L, H, d_qk/H)``;
  ``a = transition(α, β)`` (eq. 24); ``y = Re(gate_loop(q, k, v, a))`` (eq. 7-8, parallel
  mode, eq. 12-13); then an output projection ``d_v → d_model``; ``x ← x + y``.
* Channel mixing (pre-norm, residual): ``x ← x + W₂ gelu(W₁ LayerNorm(x))``
  (``d_model → d_channel_mixing → d_model``).

``Config.transition`` picks how ``a`` is made:

* ``"data"``: eq. 24 with ``α, β`` linear projections of ``u`` (sigmoid magnitude,
  identity phase): the data-controlled GateLoop of the paper;
* ``"fixed"``: a learned per-channel complex ``a = σ(α) exp(iβ)`` with ``α, β`` learned
  vectors ``(d_qk,)``, the same at every position and for every input;
* ``"real"``: data-controlled, phase 0 (``a = σ(α)``, real and non-negative);
* ``"stable-exp"``: data-controlled, LRU's magnitude ``exp(-exp(α))``, identity phase;
* ``"stable-exp-real"``: data-controlled, LRU's magnitude, phase 0.

``Config.mixer`` replaces the time mixing by a member of the family tree
(:data:`gl.family.mixer.NAMES`, e.g. ``"gla"``, ``"mamba2"``, ``"rwkv6"``):
``y = W_o mix(u) + b_o`` with ``mix`` a :class:`gl.family.mixer.Mixer` of width ``d_model``
(its ``n_head`` and ``d_qk`` as above; ``d_v`` and ``transition`` then do not apply).
Its parameters sit under the layer's key ``"mix"``. The default ``"gateloop"`` is the model
above, so every configuration saved before ``mixer`` existed loads unchanged.

Parameters are an explicit pytree (nested dicts of ``float32`` arrays): ``init(key, config)``
makes them, ``apply(params, tokens, config)`` runs the model. The parameters of the
state-transition projections sit under the keys ``"alpha"`` and ``"beta"`` of each layer
(:func:`transition_mask` marks them, e.g. for a separate learning rate).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from gl import gates
from gl.family import mixer as family_mixer
from gl.operator import gate_loop
from gl.tasks import checkpoint

__all__ = ["Config", "TRANSITIONS", "MIXERS", "init", "apply", "transition_mask", "n_params",
           "load_checkpoint", "shipped_checkpoints"]

# transition -> (data-controlled?, magnitude, phase) for gl.gates.transition
TRANSITIONS = {
    "data": (True, "sigmoid", "identity"),
    "fixed": (False, "sigmoid", "identity"),
    "real": (True, "sigmoid", "zero"),
    "stable-exp": (True, "stable-exp", "identity"),
    "stable-exp-real": (True, "stable-exp", "zero"),
}

#: ``Config.mixer``: GateLoop (with ``Config.transition``) or a family member
MIXERS = ("gateloop",) + family_mixer.NAMES


@dataclass(frozen=True)
class Config:
    """Model hyper-parameters; defaults are Table 3's (Memory Horizon) and Table 2's vocabularies.

    ``n_head = d_qk = d_v = 64`` gives head dimensions ``d_k = d_v/H = 1``: the SISO case.
    """

    vocab_in: int = 6  # numbers 0..4 and the reset token (gl.tasks.memory_horizon.data.reset_id() == 5)
    vocab_out: int = 50  # max_output
    n_layer: int = 4
    d_model: int = 64
    d_qk: int = 64
    d_v: int = 64
    n_head: int = 64
    d_channel_mixing: int = 128
    transition: str = "data"
    mixer: str = "gateloop"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            if f.name == "transition":
                if val not in TRANSITIONS:
                    raise ValueError(f"transition: expected one of {sorted(TRANSITIONS)}, got {val!r}")
                continue
            if f.name == "mixer":
                if val not in MIXERS:
                    raise ValueError(f"mixer: expected one of {list(MIXERS)}, got {val!r}")
                continue
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f"{f.name}: expected a positive int, got {val!r}")
        for name in ("d_qk", "d_v"):
            if getattr(self, name) % self.n_head:
                raise ValueError(f"{name}: expected a multiple of n_head={self.n_head}, got {getattr(self, name)}")
        if self.mixer != "gateloop":
            if self.transition != "data":
                raise ValueError(f"transition: applies to mixer 'gateloop' only; expected the "
                                 f"default 'data' with mixer {self.mixer!r}, got {self.transition!r}")
            _family(self)  # its own checks (d_model a multiple of n_head)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        return cls(**json.loads(text))


def _family(c: Config):
    return family_mixer.Mixer(c.mixer, c.d_model, c.n_head, c.d_qk)


def _dense(key, d_in, d_out, bias=True):
    w = jax.random.normal(key, (d_in, d_out), jnp.float32) / np.sqrt(d_in)
    return {"w": w, "b": jnp.zeros((d_out,), jnp.float32)} if bias else {"w": w}


def _ln(d):
    return {"scale": jnp.ones((d,), jnp.float32), "bias": jnp.zeros((d,), jnp.float32)}


def init(key, config: Config):
    """Initial parameters: normal weights with std ``1/sqrt(fan_in)``, zero biases.

    ``α`` starts at 0 (``|a| = σ(0) = 0.5``; ``exp(-1) ≈ 0.37`` for ``"stable-exp"``) and
    ``β`` as ``N(0, 1)`` for ``"fixed"``; data-controlled ``α, β`` start as random projections.
    A family mixer starts from :meth:`gl.family.mixer.Mixer.init` (:data:`gl.family.INITS`).
    """
    if not isinstance(config, Config):
        raise TypeError(f"config: expected gl.tasks.memory_horizon.model.Config, got {type(config).__name__}")
    c = config
    data_controlled = TRANSITIONS[c.transition][0]
    keys = jax.random.split(key, 2 + c.n_layer)
    layers = []
    for lk in keys[2:]:
        k = jax.random.split(lk, 8)
        if c.mixer != "gateloop":
            layers.append({"ln1": _ln(c.d_model), "mix": _family(c).init(k[0]),
                           "o": _dense(k[3], c.d_model, c.d_model), "ln2": _ln(c.d_model),
                           "ff1": _dense(k[4], c.d_model, c.d_channel_mixing),
                           "ff2": _dense(k[5], c.d_channel_mixing, c.d_model)})
            continue
        layer = {
            "ln1": _ln(c.d_model),
            "q": _dense(k[0], c.d_model, c.d_qk, bias=False),
            "k": _dense(k[1], c.d_model, c.d_qk, bias=False),
            "v": _dense(k[2], c.d_model, c.d_v, bias=False),
            "o": _dense(k[3], c.d_v, c.d_model),
            "ln2": _ln(c.d_model),
            "ff1": _dense(k[4], c.d_model, c.d_channel_mixing),
            "ff2": _dense(k[5], c.d_channel_mixing, c.d_model),
        }
        if data_controlled:
            layer["alpha"] = _dense(k[6], c.d_model, c.d_qk)
            layer["beta"] = _dense(k[7], c.d_model, c.d_qk)
        else:
            layer["alpha"] = {"b": jnp.zeros((c.d_qk,), jnp.float32)}
            # β must not start at 0: with real q, k, v the loss is symmetric under β -> -β
            # (a -> conj a gives conj y, the same Re y), so its gradient at β = 0 is exactly 0
            # and a fixed transition that starts real stays real. N(0, 1) matches the spread
            # of the data-controlled β = W x at initialization.
            layer["beta"] = {"b": jax.random.normal(k[7], (c.d_qk,), jnp.float32)}
        layers.append(layer)
    return {
        "embed": jax.random.normal(keys[0], (c.vocab_in, c.d_model), jnp.float32),
        "layers": layers,
        "ln_f": _ln(c.d_model),
        "head": _dense(keys[1], c.d_model, c.vocab_out),
    }


def n_params(params) -> int:
    """Number of scalar parameters."""
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(params)))


def transition_mask(params):
    """A pytree of bools like ``params``: True for the state-transition parameters (α, β)."""
    def mark(path, _):
        return any(getattr(p, "key", None) in ("alpha", "beta") for p in path)

    return jax.tree_util.tree_map_with_path(mark, params)


def _layer_norm(p, x, eps=1e-5):
    mu = jnp.mean(x, -1, keepdims=True)
    var = jnp.var(x, -1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"]


def _lin(p, x):
    y = x @ p["w"]
    return y + p["b"] if "b" in p else y


def _transition(layer, u, c: Config):
    """``a`` ``(B, L, H, d_qk/H)`` complex64 for one layer (eq. 24)."""
    data_controlled, magnitude, phase = TRANSITIONS[c.transition]
    B, L = u.shape[:2]
    if data_controlled:
        alpha, beta = _lin(layer["alpha"], u), _lin(layer["beta"], u)
    else:
        alpha = jnp.broadcast_to(layer["alpha"]["b"], (B, L, c.d_qk))
        beta = jnp.broadcast_to(layer["beta"]["b"], (B, L, c.d_qk))
    a = gates.transition(alpha, beta, magnitude=magnitude, phase=phase)
    return a.reshape(B, L, c.n_head, c.d_qk // c.n_head)


def _time_mixing(layer, x, c: Config, mode="parallel"):
    B, L = x.shape[:2]
    H = c.n_head
    u = _layer_norm(layer["ln1"], x)
    if c.mixer != "gateloop":
        y, a = _family(c).apply(layer["mix"], u, mode=mode)
        return _lin(layer["o"], y), a
    q = _lin(layer["q"], u).reshape(B, L, H, c.d_qk // H)
    k = _lin(layer["k"], u).reshape(B, L, H, c.d_qk // H)
    v = _lin(layer["v"], u).reshape(B, L, H, c.d_v // H)
    a = _transition(layer, u, c)
    y = gate_loop(q, k, v, a, mode=mode, real=True).reshape(B, L, c.d_v)  # eq. 7-8, Re(.) (App. C)
    return _lin(layer["o"], y), a


def _channel_mixing(layer, x):
    u = _layer_norm(layer["ln2"], x)
    return _lin(layer["ff2"], jax.nn.gelu(_lin(layer["ff1"], u)))


def apply(params, tokens, config: Config, return_gates=False, mode="parallel"):
    """Logits ``(B, L, vocab_out)`` float32 for input ids ``tokens`` ``(B, L)`` (or ``(L,)``).

    Causal: the logits at position ``n`` depend on ``tokens[..., :n+1]`` only. With
    ``return_gates`` also returns the list (one per layer) of the state transitions ``a_n``
    ``(B, L, H, d_qk/H)`` complex64 (Figure 5 plots ``|a_n|``; a family mixer's
    transitions are its mapping's, in its own shape). ``mode``: :func:`gl.gate_loop`'s
    algorithm (every mode computes the same recurrence; ``"parallel"`` is the paper's).
    """
    if not isinstance(config, Config):
        raise TypeError(f"config: expected gl.tasks.memory_horizon.model.Config, got {type(config).__name__}")
    tokens = jnp.asarray(tokens)
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise TypeError(f"tokens: expected an integer array of input ids, got dtype {tokens.dtype}")
    squeeze = tokens.ndim == 1
    if squeeze:
        tokens = tokens[None]
    if tokens.ndim != 2:
        raise ValueError(f"tokens: expected shape (B, L) or (L,), got {tokens.shape}")
    x = params["embed"][tokens]
    gates_out = []
    for layer in params["layers"]:
        y, a = _time_mixing(layer, x, config, mode)
        x = x + y
        x = x + _channel_mixing(layer, x)
        gates_out.append(a)
    logits = _lin(params["head"], _layer_norm(params["ln_f"], x))
    if squeeze:
        logits = logits[0]
        gates_out = [g[0] for g in gates_out]
    return (logits, gates_out) if return_gates else logits


def load_checkpoint(path):
    """``(params, config, info)`` from a checkpoint ``.npz`` (see :mod:`gl.tasks.checkpoint`)."""
    return checkpoint.load(path, Config)


def shipped_checkpoints() -> dict:
    """The checkpoints shipped in ``gl/assets/checkpoints``: ``{name: path}``, e.g. ``"data-s0"``."""
    return checkpoint.shipped()
