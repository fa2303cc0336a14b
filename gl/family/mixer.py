"""Each family member as a trainable token mixer: ``u (B, L, D) -> y (B, L, D)``.

The task models (:mod:`gl.tasks.char_lm.model`, :mod:`gl.tasks.memory_horizon.model`) pick
their token mixer by a configuration string. For a member of :data:`NAMES` they build a
:class:`Mixer` and call three functions:

* ``init(key)``: the member's parameters, from :data:`gl.family.INITS`, stored for training
  (below);
* ``apply(params, u)``: the member's mapping (:data:`gl.family.MODELS`) to GateLoop's
  ``(q, k, v, a)``, then :func:`gl.gate_loop` (eq. 7-8: ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``,
  ``y_n = q_n h_n``), then the member's read-out ``out(y, y2)`` (a skip ``D u``, ``Re``,
  a read-out matrix ``C``, RWKV-6's bonus, mLSTM's normalizer);
* ``step(params, state, u_t)``: the same, one token at a time from the state
  ``h_{t-1}`` (``gate_loop(..., h0=h, return_state=True)``): O(1) memory per token.

Sizes. ``Mixer(name, d_model, n_head, d_qk)`` gives the member ``heads = n_head`` and
``d_state = d_qk / n_head`` (the key width of a head, as in GateLoop's multi-head form),
except S5 and the LRU, whose ``d_state = d_qk`` SISO states are the whole layer's.
Members with one SISO channel per model dimension (S4D, HGRN, Mamba, RG-LRU) ignore
``n_head``. RetNet's decays ``γ_h = 1 − 2^{−e_h}`` use its ``e_h = 5, 6, …`` for up to 8
heads; with more heads ``e`` is spread evenly over ``[5, 12]`` (``1 − 2^{−5−h}`` rounds to
1 in float32 from ``h = 20``: ``1 − 2^{−24}`` is the largest float32 below 1).

Storage for training (every array float32). A parameter the member needs in a range is
stored unconstrained and mapped into it on each call: Mamba's ``A = −exp(A_log)`` (as
Mamba stores it), S4D's and S5's step ``Δ = exp(·)`` and ``Re Λ = −exp(·)``, HGRN's lower
bound ``γ = σ(·)``. RetNet's ``γ`` and ``θ`` are fixed (RetNet does not learn them): they
are stored but pass through ``stop_gradient``. Complex parameters are stored as their
real and imaginary parts. The input projections (names ``W_*``, ``w_*``) stay matrices;
every other parameter is stored flattened to one dimension, so that weight decay on
"arrays of ≥ 2 dimensions" (:func:`gl.tasks.loop.adamw`) reaches the projections only,
never the decays, steps, biases or state matrices.

Recurrent steps. Every member's read-out uses the current token only, so a step is its
mapping on one token with the state carried, except two:

* RWKV-6 reads ``S_{t−1}``: the mapping shifts ``k, v, a`` by one token. The step carries
  the previous input ``u_{t−1}`` and maps the window ``[u_{t−1}, u_t]``: from
  ``h0 = S_{t−2}`` the window ends in ``S_{t−1}``, and its last output is
  ``r_t S_{t−1} + bonus_t``. (At ``t = 0`` the carried input is 0, whose ``k, v`` are 0.)
* mLSTM's stabilizer ``m_t = max(log f_t + m_{t−1}, ĩ_t)`` is a scan over the sequence;
  the step carries ``m_{t−1}`` with the stabilized states ``C'``, ``n'``
  (:func:`gl.family.mlstm` gives the relation) and applies xLSTM's eq. 19-27 to one token.

mLSTM as a mixer also normalizes each head of the cell's output (``head_norm=True``,
:func:`gl.family.matrix.head_norm`), as xLSTM's layer does: the division by
``max(|n_tᵀ q_t|, 1)`` leaves that output's scale to the data.

``tests/test_family_mixer.py`` checks ``step`` against ``apply`` for every member.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..operator import gate_loop
from . import INITS, MODELS
from .matrix import head_norm

__all__ = ["NAMES", "Mixer", "check_name"]

#: The family members usable as token mixers: every key of :data:`gl.family.MODELS` but
#: ``"gateloop"``, which the task models implement themselves (eq. 24, with biases).
NAMES = tuple(n for n in MODELS if n != "gateloop")

_EXP = (jnp.exp, np.log)  # stored -> used, used -> stored
_NEG_EXP = (lambda r: -jnp.exp(r), lambda a: np.log(-a))
_SIGMOID = (jax.nn.sigmoid, lambda g: np.log(g / (1 - g)))
_FIXED = (jax.lax.stop_gradient, lambda p: p)
#: (member, parameter) -> how it is stored; for a complex parameter, of its real part.
STORED = {("mamba", "A"): _NEG_EXP, ("mamba2", "A"): _NEG_EXP,
          ("s4d", "delta"): _EXP, ("s5", "delta"): _EXP,
          ("s4d", "Lambda"): _NEG_EXP, ("s5", "Lambda"): _NEG_EXP,
          ("hgrn", "lower"): _SIGMOID,
          ("retnet", "gamma"): _FIXED, ("retnet", "theta"): _FIXED}


def check_name(name) -> str:
    """``name`` if it is in :data:`NAMES`, else a ``ValueError`` listing them."""
    if name not in NAMES:
        raise ValueError(f"mixer: expected one of the family members {list(NAMES)}, "
                         f"got {name!r}")
    return name


def _is_matrix(pname: str) -> bool:
    return pname.startswith(("W_", "w_"))


@functools.lru_cache(maxsize=64)
def _layout(name, d_model, heads, d_state):
    """``{parameter: (shape, complex?)}`` of the member's ``INITS`` at these sizes."""
    p = INITS[name](0, d_model, heads=heads, d_state=d_state)
    return {k: (np.shape(v), bool(np.iscomplexobj(v))) for k, v in p.items() if k != "heads"}


@dataclass(frozen=True)
class Mixer:
    """Family member ``name`` as a token mixer of width ``d_model`` (module docstring)."""

    name: str
    d_model: int
    n_head: int
    d_qk: int

    def __post_init__(self):
        check_name(self.name)
        for f in ("d_model", "n_head", "d_qk"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{self.name}: {f}: expected a positive int, got {v!r}")
        for f in ("d_model", "d_qk"):
            if getattr(self, f) % self.n_head:
                raise ValueError(f"{self.name}: {f}: expected a multiple of n_head="
                                 f"{self.n_head}, got {getattr(self, f)}")

    @property
    def heads(self) -> int:
        return self.n_head

    @property
    def d_state(self) -> int:
        return self.d_qk if self.name in ("s5", "lru") else self.d_qk // self.n_head

    @property
    def layout(self) -> dict:
        return _layout(self.name, self.d_model, self.heads, self.d_state)

    def init(self, key):
        """Parameters ``{name: float32 array}`` (stored form) from :data:`gl.family.INITS`
        (NumPy), seeded from the JAX ``key``'s data. A ``jax.pure_callback``, so it also
        runs under ``jax.jit`` and ``jax.eval_shape`` (which the checkpoint checks use)."""
        spec = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in self.stored_shapes().items()}
        return jax.pure_callback(self._init_numpy, spec, jax.random.key_data(key))

    def _init_numpy(self, key_data):
        seed = np.random.default_rng(np.asarray(key_data).ravel())
        fam = INITS[self.name](seed, self.d_model, heads=self.heads, d_state=self.d_state)
        if self.name == "retnet":
            H = self.heads
            fam["gamma"] = 1 - 2.0 ** -np.linspace(5, 5 + min(H, 8) - 1, H)
        out = {}
        for k, (shape, cplx) in self.layout.items():
            v = np.asarray(fam[k])
            to_store = STORED.get((self.name, k), (None, lambda z: z))[1]
            if cplx:
                v = np.concatenate([to_store(v.real).ravel(), v.imag.ravel()])
            else:
                v = to_store(v)
                v = v if _is_matrix(k) else v.ravel()
            out[k] = np.asarray(v, np.float32)
            assert out[k].shape == self.stored_shapes()[k], (k, out[k].shape)
        return out

    def n_params(self) -> int:
        """Scalar parameters (a complex one counts 2)."""
        return int(sum(np.prod(s, dtype=int) * (1 + c) for s, c in self.layout.values()))

    def family_params(self, params) -> dict:
        """The stored ``params`` as the dict :data:`gl.family.MODELS` ``[name]`` takes."""
        want = self.stored_shapes()
        missing = sorted(set(want) - set(params))
        if missing:
            raise ValueError(f"{self.name}: params: missing {missing}; got {sorted(params)}")
        for k, s in want.items():
            if tuple(np.shape(params[k])) != s:
                raise ValueError(f"{self.name}: params[{k!r}]: expected shape {s} (stored "
                                 f"form), got {tuple(np.shape(params[k]))}")
        fam = {"heads": self.heads}
        if self.name == "mlstm":  # xLSTM's layer normalizes each head of the cell's output
            fam["head_norm"] = True
        for k, (shape, cplx) in self.layout.items():
            to_use = STORED.get((self.name, k), (lambda z: z, None))[0]
            v = params[k]
            if cplx:
                n = int(np.prod(shape, dtype=int))
                v = (to_use(v[:n]) + 1j * v[n:]).reshape(shape)
            else:
                v = to_use(v).reshape(shape)
            fam[k] = v
        return fam

    def mapped(self, params, u):
        """The member's :class:`gl.family.Mapped` for the input ``u`` ``(B, L, D)``."""
        return MODELS[self.name](u, self.family_params(params))

    def apply(self, params, u, mode="auto", impl="auto"):
        """``(y, a)``: the output ``(B, L, D)`` (float32 for float32 ``u``) and the
        transitions ``a`` of the mapping ``(B, L, H, d_k)`` (the member's own ``H, d_k``).
        ``mode``, ``impl``: :func:`gl.gate_loop`'s."""
        m = self.mapped(params, u)
        y = gate_loop(m.q, m.k, m.v, m.a, mode=mode, impl=impl)
        y2 = None if m.second is None else gate_loop(*m.second, mode=mode, impl=impl)
        return m.out(y, y2), m.a

    def init_state(self, batch: int = 1, dtype=jnp.float32):
        """The zero state for :meth:`step`: ``{"h": (batch, H, d_k, d_v)}`` (complex for
        complex transitions), plus mLSTM's normalizer ``"h2"`` and stabilizer ``"m"``, or
        RWKV-6's previous input ``"u"`` ``(batch, D)``."""
        zeros_in = jax.ShapeDtypeStruct((batch, 1, self.d_model), dtype)
        params = {k: jax.ShapeDtypeStruct(s, dtype) for k, s in self.stored_shapes().items()}

        def qkva(p, u):
            m = self.mapped(p, u)
            return (m.q, m.k, m.v, m.a), m.second

        first, second = jax.eval_shape(qkva, params, zeros_in)

        def zeros(q, k, v, a):
            dt = jnp.result_type(q.dtype, k.dtype, v.dtype, a.dtype)
            return jnp.zeros((batch,) + q.shape[-2:] + v.shape[-1:], dt)

        state = {"h": zeros(*first)}
        if second is not None:
            state["h2"] = zeros(*second)
        if self.name == "mlstm":
            state["m"] = jnp.zeros((batch, self.heads), dtype)
        if self.name == "rwkv6":
            state["u"] = jnp.zeros((batch, self.d_model), dtype)
        return state

    def stored_shapes(self) -> dict:
        """``{parameter: shape}`` of the stored form (:meth:`init`'s arrays)."""
        def one(k, shape, cplx):
            n = int(np.prod(shape, dtype=int))
            return (2 * n,) if cplx else (tuple(shape) if _is_matrix(k) else (n,))
        return {k: one(k, s, c) for k, (s, c) in self.layout.items()}

    def step(self, params, state, u):
        """One token: ``(y (B, D), new_state)`` for ``u`` ``(B, D)`` and the state of
        :meth:`init_state` (or of the previous step)."""
        if self.name == "mlstm":
            return self._mlstm_step(params, state, u)
        x = u[:, None, :]
        if self.name == "rwkv6":
            x = jnp.concatenate([state["u"][:, None, :].astype(u.dtype), x], axis=1)
        m = self.mapped(params, x)
        y, h = gate_loop(m.q, m.k, m.v, m.a, mode="recurrent", h0=state["h"],
                         return_state=True)
        new = {"h": h.astype(state["h"].dtype)}
        if self.name == "rwkv6":
            new["u"] = u
        return m.out(y, None)[:, -1], new

    def _mlstm_step(self, params, state, u):
        """xLSTM eq. 19-27 on one token, in the stabilized form of :func:`gl.family.mlstm`."""
        p, H = self.family_params(params), self.heads
        x = u[:, None, :]
        split = lambda t: t.reshape(t.shape[:-1] + (H, t.shape[-1] // H))  # noqa: E731
        q, k, v = (split(x @ p[n]) for n in ("W_q", "W_k", "W_v"))
        log_i = x @ p["w_i"] + p["b_i"]  # (B, 1, H)
        log_f = jax.nn.log_sigmoid(x @ p["w_f"] + p["b_f"])
        m_prev = state["m"][:, None, :]
        m = jnp.maximum(log_f + m_prev, log_i)
        a = jnp.broadcast_to(jnp.exp(jnp.minimum(log_f + m_prev - m, 0))[..., None], q.shape)
        k = jnp.exp(jnp.minimum(log_i - m, 0))[..., None] * k
        ones = jnp.ones(v.shape[:-1] + (1,), v.dtype)
        y, C = gate_loop(q, k, v, a, mode="recurrent", h0=state["h"], return_state=True)
        yn, n = gate_loop(q, k, ones, a, mode="recurrent", h0=state["h2"], return_state=True)
        den = jnp.maximum(jnp.abs(yn), jnp.exp(-m)[..., None])
        o = jax.nn.sigmoid(x @ p["W_o"] + p["b_o"])
        y = o * head_norm(y / den).reshape(x.shape)  # as the mapping's, with head_norm
        return y[:, 0], {"h": C, "h2": n, "m": m[:, 0]}
