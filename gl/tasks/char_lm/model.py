"""Character language models in one code base: the token mixer is chosen by ``Config.mixer``.

Shared by every model (nanoGPT's layout, pre-norm, no biases in the linear maps):
token embedding ``(V, D)`` → ``n_layer`` × [``x ← x + mix(LN(x))``,
``x ← x + W₂ gelu(W₁ LN(x))``] → ``LN`` → logits ``LN(x) Eᵀ`` (the head is the embedding,
tied as in nanoGPT). Layer norms have a scale and no bias.

Token mixers (:data:`MIXERS`):

* ``"gateloop"``: multi-head GateLoop (eq. 7-8) with data-controlled transitions (eq. 24):
  ``q, k = u W_q, u W_k`` ``(B, L, H, d_qk/H)``, ``v = u W_v`` ``(B, L, H, D/H)``,
  ``a = σ(u W_α + b_α) exp(i (u W_β + b_β))``; ``y = Re gate_loop(q, k, v, a)``, then ``W_o``.
  With ``d_qk = D/2`` its mixer has the attention's ``4 D²`` weights (plus ``2 d_qk`` biases).
  ``Config.readout`` (:data:`READOUTS`) chooses what happens to ``y`` before ``W_o``: nothing
  (``"plain"``, the paper's appendix C), a per-head normalization (``"norm"``,
  :func:`gl.family.matrix.head_norm`, as RetNet's GroupNorm and xLSTM's head norm, without
  their affine part), a gate (``"gate"``: ``silu(u W_g) ⊙ y``) or both, RetNet's block
  (``"norm-gate"``: ``silu(u W_g) ⊙ norm(y)``, Sun et al. 2023, section 2.2); ``W_g``
  ``(D, D)`` is paid for by a narrower channel mixing. ``Config.conv > 1`` filters ``u`` by
  a short causal convolution before ``W_q, W_k, W_v, W_α, W_β`` (:mod:`.conv`; the gate
  reads ``u``), its ``conv · D`` weights paid for likewise.
* ``"fixed"``: the same with a data-independent transition ``a = σ(b_α) exp(i b_β)`` (learned
  vectors; the paper's ablation). It lacks ``W_α, W_β``; a wider channel mixing (``d_ff``)
  makes up the parameters (:func:`default_d_ff`).
* ``"transformer"``: causal softmax attention with ``H`` heads and learned position
  embeddings ``(context, D)`` (nanoGPT's GPT).
* a member of the family tree (:data:`FAMILY`: ``"s4d"``, ``"s5"``, ``"lru"``, ``"retnet"``,
  ``"gla"``, ``"hgrn"``, ``"mamba"``, ``"mamba2"``, ``"rglru"``, ``"mlstm"``, ``"rwkv6"``):
  ``y = mix(u)`` by :class:`gl.family.mixer.Mixer` (the member's mapping to GateLoop's
  ``(q, k, v, a)``, :func:`gl.gate_loop`, the member's read-out), then ``W_o``. Its
  parameters sit under the layer's key ``"mix"``; :func:`default_d_ff` widens or narrows
  the channel mixing so the count matches GateLoop's.

GateLoop, its ablation and every family member also run as a recurrence, one character at a
time with a state whose size does not grow with the text (for GateLoop ``n_layer × H × d_qk/H ×
D/H`` complex numbers; :func:`init_state`, :func:`step`); the transformer generates by
re-reading its last ``context`` characters, or one character at a time with a key-value cache
that grows with the text (:func:`step_kv`).
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
from gl.family.matrix import head_norm
from gl.operator import gate_loop
from gl.tasks import checkpoint
from gl.tasks.char_lm import conv as short_conv

__all__ = ["Config", "MIXERS", "FAMILY", "CHOICES", "READOUTS", "default_d_ff", "init", "apply",
           "n_params", "init_state", "step", "step_kv", "load_checkpoint"]

#: the mixers implemented here (the shipped checkpoints are of these)
MIXERS = ("gateloop", "fixed", "transformer")
#: the family members (:data:`gl.family.mixer.NAMES`)
FAMILY = family_mixer.NAMES
#: every valid ``Config.mixer``
CHOICES = MIXERS + FAMILY
RECURRENT = ("gateloop", "fixed") + FAMILY
#: what GateLoop's mixer does to its output before ``W_o`` (``Config.readout``)
READOUTS = ("plain", "norm", "gate", "norm-gate")
_NORMED, _GATED = ("norm", "norm-gate"), ("gate", "norm-gate")  # the read-outs' two parts


@dataclass(frozen=True)
class Config:
    """Hyper-parameters; defaults are nanoGPT's small CPU configuration (4 × 4 heads × 128)."""

    vocab: str  #: the characters, id ``i`` is ``vocab[i]``
    mixer: str = "gateloop"
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_qk: int = 64  #: GateLoop's q, k, α, β width (unused by the transformer)
    d_ff: int = 512
    context: int = 64  #: training window; the transformer's position table
    readout: str = "plain"  #: GateLoop's and the ablation's read-out (:data:`READOUTS`)
    conv: int = 1  #: width of the short convolution before their gates (:mod:`.conv`); 1: none

    def __post_init__(self):
        if not isinstance(self.vocab, str) or len(self.vocab) < 2 or len(set(self.vocab)) != len(self.vocab):
            raise ValueError(f"vocab: expected a string of >= 2 distinct characters, got {self.vocab!r:.40}")
        if self.mixer not in CHOICES:
            raise ValueError(f"mixer: expected one of {list(CHOICES)}, got {self.mixer!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout: expected one of {list(READOUTS)}, got {self.readout!r}")
        if self.readout != "plain" and self.mixer not in ("gateloop", "fixed"):
            raise ValueError(f"readout: {self.readout!r} exists for the gateloop and fixed "
                             f"mixers; {self.mixer!r} takes 'plain'")
        if self.conv != 1 and self.mixer not in ("gateloop", "fixed"):
            raise ValueError(f"conv: a short convolution exists for the gateloop and fixed "
                             f"mixers; {self.mixer!r} takes 1, got {self.conv!r}")
        for f in dataclasses.fields(self):
            if f.name in ("vocab", "mixer", "readout"):
                continue
            val = getattr(self, f.name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ValueError(f"{f.name}: expected a positive int, got {val!r}")
        for name in ("d_qk", "d_model"):
            if getattr(self, name) % self.n_head:
                raise ValueError(f"{name}: expected a multiple of n_head={self.n_head}, "
                                 f"got {getattr(self, name)}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        d = json.loads(text)
        if not isinstance(d, dict) or "vocab" not in d or "mixer" not in d:
            raise ValueError(f"config: expected a char-lm configuration (with vocab and mixer), "
                             f"got keys {sorted(d) if isinstance(d, dict) else type(d).__name__}")
        return cls(**d)


def default_d_ff(mixer: str, d_model: int = 128, d_qk: int = 64, n_head: int = 4,
                 readout: str = "plain", conv: int = 1) -> int:
    """The channel-mixing width that matches the parameter counts: ``4 D``, and for
    ``"fixed"`` ``4 D + d_qk`` (its missing ``2 D d_qk`` weights of ``W_α, W_β`` moved into
    ``W₁, W₂``: ``2 D`` weights per unit of ``d_ff``); a read-out with a gate (``"gate"``,
    ``"norm-gate"``) takes ``D/2`` off either (the gate's ``D²`` weights), a short convolution
    of width ``K > 1`` takes ``K/2`` (rounded; its ``K D`` weights). For a family
    member, ``4 D`` plus
    its deficit against GateLoop's mixer (``4 D d_qk + D² + 2 d_qk`` before ``W_o``) over
    ``2 D``, rounded: the counts then differ by at most ``D`` per layer."""
    if mixer in FAMILY:
        n = family_mixer.Mixer(mixer, d_model, n_head, d_qk).n_params()
        d_ff = 4 * d_model + round((4 * d_model * d_qk + d_model**2 + 2 * d_qk - n)
                                   / (2 * d_model))
        if d_ff < 1:
            raise ValueError(f"d_ff: the {mixer} mixer has {n} parameters, more than a "
                             f"GateLoop mixer and a channel mixing of width 4 D together")
        return d_ff
    gate = round(d_model / 2) if readout in _GATED else 0
    filt = round(conv / 2) if conv > 1 else 0
    return 4 * d_model + (d_qk if mixer == "fixed" else 0) - gate - filt


def _normal(key, shape, std):
    return std * jax.random.normal(key, shape, jnp.float32)


def init(key, config: Config):
    """nanoGPT's initialization: weights ``N(0, 0.02²)``, the projections into the residual
    stream ``N(0, (0.02/√(2 n_layer))²)``, norm scales 1. GateLoop's ``b_α`` puts ``|a|``
    evenly in ``[0.5, 0.97]`` across the ``d_qk`` channels of a layer; ``b_β ~ N(0, 1)``
    (a phase that starts exactly real has zero gradient: :mod:`gl.tasks.memory_horizon.model`)."""
    if not isinstance(config, Config):
        raise TypeError(f"config: expected gl.tasks.char_lm.model.Config, got {type(config).__name__}")
    c = config
    D, V = c.d_model, len(c.vocab)
    res_std = 0.02 / np.sqrt(2 * c.n_layer)
    keys = jax.random.split(key, 2 + c.n_layer)
    params = {"embed": _normal(keys[0], (V, D), 0.02), "ln_f": jnp.ones((D,), jnp.float32)}
    if c.mixer == "transformer":
        params["pos"] = _normal(keys[1], (c.context, D), 0.02)
    mag = jnp.linspace(0.5, 0.97, c.d_qk, dtype=jnp.float32)
    layers = []
    for lk in keys[2:]:
        k = jax.random.split(lk, 9)
        layer = {"ln1": jnp.ones((D,), jnp.float32), "ln2": jnp.ones((D,), jnp.float32),
                 "o": _normal(k[0], (D, D), res_std),
                 "ff1": _normal(k[1], (D, c.d_ff), 0.02),
                 "ff2": _normal(k[2], (c.d_ff, D), res_std)}
        if c.mixer == "transformer":
            layer["qkv"] = _normal(k[3], (D, 3 * D), 0.02)
        elif c.mixer in FAMILY:
            layer["mix"] = _family(c).init(k[3])
        else:
            layer["q"] = _normal(k[3], (D, c.d_qk), 0.02)
            layer["k"] = _normal(k[4], (D, c.d_qk), 0.02)
            layer["v"] = _normal(k[5], (D, D), 0.02)
            layer["alpha_b"] = jnp.log(mag / (1 - mag))  # σ(b_α) = mag
            layer["beta_b"] = jax.random.normal(k[6], (c.d_qk,), jnp.float32)
            if c.mixer == "gateloop":
                layer["alpha_w"] = _normal(k[7], (D, c.d_qk), 0.02)
                layer["beta_w"] = _normal(k[8], (D, c.d_qk), 0.02)
            if c.readout in _GATED:
                layer["g"] = _normal(jax.random.fold_in(lk, 9), (D, D), 0.02)
            if c.conv > 1:
                layer["conv"] = short_conv.init(c.conv, D)
        layers.append(layer)
    params["layers"] = layers
    return params


def n_params(params) -> int:
    """Number of scalar parameters."""
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(params)))


def _ln(scale, x, eps=1e-5):
    mu = jnp.mean(x, -1, keepdims=True)
    var = jnp.var(x, -1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + eps) * scale


def _family(c: Config):
    return family_mixer.Mixer(c.mixer, c.d_model, c.n_head, c.d_qk)


def _gates(layer, u, c: Config):
    """``q, k, v, a`` ``(B, L, H, ·)`` of a GateLoop mixer; ``a`` complex64 (eq. 24)."""
    B, L, _ = u.shape
    H = c.n_head
    alpha, beta = layer["alpha_b"], layer["beta_b"]
    if c.mixer == "gateloop":
        alpha, beta = u @ layer["alpha_w"] + alpha, u @ layer["beta_w"] + beta
    else:
        alpha, beta = jnp.broadcast_to(alpha, (B, L, c.d_qk)), jnp.broadcast_to(beta, (B, L, c.d_qk))
    a = gates.transition(alpha, beta, magnitude="sigmoid", phase="identity")
    split = lambda t: t.reshape(B, L, H, t.shape[-1] // H)  # noqa: E731
    return split(u @ layer["q"]), split(u @ layer["k"]), split(u @ layer["v"]), split(a)


def _readout(layer, u, y, c: Config):
    """GateLoop's output ``y`` ``(B, L, H, D/H)`` → ``(B, L, D)`` before ``W_o``, by
    ``c.readout``: as it is, normalized per head, gated by ``silu(u W_g)``, or both
    (RetNet's block)."""
    if c.readout in _NORMED:
        y = head_norm(y)
    y = y.reshape(u.shape)
    if c.readout in _GATED:
        y = jax.nn.silu(u @ layer["g"]) * y
    return y


def _dropout(x, rate, key):
    """Inverted dropout: zero each entry with probability ``rate``, scale the rest by
    ``1/(1-rate)``; the identity for ``rate == 0``."""
    if rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def _attention(layer, u, c: Config, dropout=0.0, key=None):
    B, L, D = u.shape
    H = c.n_head
    q, k, v = jnp.split((u @ layer["qkv"]).reshape(B, L, 3, H, D // H), 3, axis=2)
    q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]
    s = jnp.einsum("blhd,bmhd->bhlm", q, k) / np.sqrt(D // H)
    s = jnp.where(jnp.tril(jnp.ones((L, L), bool)), s, -jnp.inf)
    p = _dropout(jax.nn.softmax(s, -1), dropout, key)
    return jnp.einsum("bhlm,bmhd->blhd", p, v).reshape(B, L, D)


def _check_tokens(tokens, c: Config):
    tokens = jnp.asarray(tokens)
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise TypeError(f"tokens: expected an integer array of ids, got dtype {tokens.dtype}")
    if tokens.ndim != 2:
        raise ValueError(f"tokens: expected shape (B, L), got {tokens.shape}")
    if c.mixer == "transformer" and tokens.shape[1] > c.context:
        raise ValueError(f"tokens: the transformer reads at most context={c.context} "
                         f"characters, got L={tokens.shape[1]}")
    return tokens


def apply(params, tokens, config: Config, return_gates=False, mode="parallel", impl="auto",
          dropout=0.0, key=None):
    """Logits ``(B, L, V)`` float32 for ids ``tokens`` ``(B, L)`` (causal).

    ``mode``, ``impl``: the GateLoop algorithm and implementation (:func:`gl.gate_loop`'s).
    With ``return_gates`` also the transitions ``a`` of each layer, ``(B, L, H, d_qk/H)``
    complex64 (GateLoop models; a family member's are its mapping's, in its own shape).
    ``dropout`` (training only; needs ``key``): nanoGPT's inverted dropout on the
    embeddings, on each block's two residual branches and on the transformer's attention
    weights, with keys folded from ``key`` by layer. GateLoop has no attention matrix, so
    its mixer drops only its output, like the transformer's.
    """
    c = config
    tokens = _check_tokens(tokens, c)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout: expected a rate in [0, 1), got {dropout!r}")
    if dropout and key is None:
        raise ValueError("key: dropout > 0 needs a PRNG key, got None")

    def keys(i):  # (attention weights, mixer output, channel mixing) of layer i
        return jax.random.split(jax.random.fold_in(key, i), 3) if dropout else (None,) * 3

    x = params["embed"][tokens]
    if c.mixer == "transformer":
        x = x + params["pos"][: tokens.shape[1]]
    x = _dropout(x, dropout, keys(c.n_layer)[0])
    all_a = []
    for i, layer in enumerate(params["layers"]):
        k_att, k_mix, k_ff = keys(i)
        u = _ln(layer["ln1"], x)
        if c.mixer == "transformer":
            y = _attention(layer, u, c, dropout, k_att)
        elif c.mixer in FAMILY:
            y, a = _family(c).apply(layer["mix"], u, mode=mode, impl=impl)
            all_a.append(a)
        else:
            uc = short_conv.apply(layer["conv"], u) if c.conv > 1 else u
            q, k, v, a = _gates(layer, uc, c)
            y = _readout(layer, u, gate_loop(q, k, v, a, mode=mode, impl=impl, real=True), c)
            all_a.append(a)
        x = x + _dropout(y @ layer["o"], dropout, k_mix)
        ff = jax.nn.gelu(_ln(layer["ln2"], x) @ layer["ff1"]) @ layer["ff2"]
        x = x + _dropout(ff, dropout, k_ff)
    logits = _ln(params["ln_f"], x) @ params["embed"].T
    return (logits, all_a) if return_gates else logits


def init_state(config: Config, batch: int = 1):
    """The zero recurrent state: one ``(batch, H, d_qk/H, D/H)`` complex64 array per layer
    (with ``c.conv > 1`` a pair: it and :func:`.conv.init_buffer`; a family member: one
    :meth:`gl.family.mixer.Mixer.init_state` dict per layer)."""
    c = config
    if c.mixer not in RECURRENT:
        raise ValueError(f"mixer: a recurrent state exists for {list(RECURRENT)}, got {c.mixer!r}")
    if c.mixer in FAMILY:
        return [_family(c).init_state(batch) for _ in range(c.n_layer)]
    H = c.n_head
    h = jnp.zeros((batch, H, c.d_qk // H, c.d_model // H), jnp.complex64)
    if c.conv > 1:
        h = (h, short_conv.init_buffer(c.conv, batch, c.d_model))
    return [h for _ in range(c.n_layer)]


def step(params, state, token, config: Config):
    """One recurrent step (eq. 7-8): ``(logits (B, V), new_state)`` for ids ``token`` ``(B,)``.

    Equal to :func:`apply`'s logits at the same position (``tests/test_tasks_char_lm.py``)."""
    c = config
    if c.mixer not in RECURRENT:
        raise ValueError(f"mixer: step exists for {list(RECURRENT)}, got {c.mixer!r}")
    x = params["embed"][jnp.asarray(token)][:, None, :]  # (B, 1, D)
    new = []
    for layer, h in zip(params["layers"], state):
        u = _ln(layer["ln1"], x)
        if c.mixer in FAMILY:
            y, h = _family(c).step(layer["mix"], h, u[:, 0])
        else:
            uc = u
            if c.conv > 1:
                (h, buf) = h
                uc, buf = short_conv.step(layer["conv"], buf, u[:, 0])
                uc = uc[:, None]
            q, k, v, a = _gates(layer, uc, c)
            y, h = gate_loop(q, k, v, a, mode="recurrent", h0=h, return_state=True, real=True)
            y = _readout(layer, u, y, c)
            if c.conv > 1:
                h = (h, buf)
        new.append(h)
        x = x + y.reshape(x.shape) @ layer["o"]
        x = x + jax.nn.gelu(_ln(layer["ln2"], x) @ layer["ff1"]) @ layer["ff2"]
    return (_ln(params["ln_f"], x) @ params["embed"].T)[:, 0], new


def step_kv(params, cache, token, pos, config: Config):
    """One transformer decoding step with a key-value cache: ``(logits (B, V), new_cache)``.

    ``cache``: one ``(k, v)`` pair per layer, each ``(B, C, H, D/H)`` float32 (``C`` the
    capacity, at most ``context``); rows ``0 … pos-1`` hold the keys and values of the
    characters read so far, the rest is ignored. ``token`` ``(B,)`` ids at position ``pos``
    (an int, may be traced): its key and value are written at row ``pos`` and it attends to
    rows ``0 … pos``. Reading ``pos`` characters this way costs ``2 · n_layer · pos · D``
    stored floats, against GateLoop's fixed state (:func:`step`). Equal to :func:`apply`'s
    logits at the same position (``tests/test_tasks_char_lm_model.py``)."""
    c = config
    if c.mixer != "transformer":
        raise ValueError(f"mixer: step_kv exists for 'transformer', got {c.mixer!r}")
    if len(cache) != c.n_layer:
        raise ValueError(f"cache: expected {c.n_layer} (k, v) pairs, got {len(cache)}")
    B, C, H, dh = cache[0][0].shape
    if C > c.context or H != c.n_head or dh * H != c.d_model:
        raise ValueError(f"cache: expected (B, C <= {c.context}, {c.n_head}, "
                         f"{c.d_model // c.n_head}) arrays, got {cache[0][0].shape}")
    x = params["embed"][jnp.asarray(token)] + params["pos"][pos]  # (B, D)
    seen = jnp.arange(C) <= pos  # the rows this character attends to
    new = []
    for layer, (kc, vc) in zip(params["layers"], cache):
        u = _ln(layer["ln1"], x)
        q, k, v = jnp.split((u @ layer["qkv"]).reshape(B, 3, H, dh), 3, axis=1)
        kc = jax.lax.dynamic_update_slice_in_dim(kc, k, pos, axis=1)
        vc = jax.lax.dynamic_update_slice_in_dim(vc, v, pos, axis=1)
        new.append((kc, vc))
        s = jnp.einsum("bhd,bmhd->bhm", q[:, 0], kc) / np.sqrt(dh)
        p = jax.nn.softmax(jnp.where(seen, s, -jnp.inf), -1)
        x = x + jnp.einsum("bhm,bmhd->bhd", p, vc).reshape(B, -1) @ layer["o"]
        x = x + jax.nn.gelu(_ln(layer["ln2"], x) @ layer["ff1"]) @ layer["ff2"]
    return _ln(params["ln_f"], x) @ params["embed"].T, new


def load_checkpoint(path):
    """``(params, config, info)`` of a char-lm checkpoint; another task's is a
    :class:`gl.tasks.checkpoint.CheckpointError` naming the file and the config."""
    return checkpoint.load(path, Config)
