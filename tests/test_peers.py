"""benchmarks/peers.py, peer_cases.py, peer_precision.py and peer_maps.py on the CPU, without
torch or the peers installed.

Each peer is stood in for by the tests' NumPy loops (``conftest.loop_gate_loop``, ``loop_scan``)
called as its documented semantics say (fla 0.6.0's docstrings and ``naive.py``, accelerated-scan
0.3.1's docstrings and ``ref.py``: layout, ``exp`` of the log-gate, the scale), injected into
``sys.modules``. The maps are checked against the float64 Numba loop (``gl.gate_loop_reference``)
to 1e-5; a wrong transpose, a linear gate where fla takes its log, or fla's default scale
``K^-1/2`` misses that by orders of magnitude (``test_mutated_maps_are_caught``).
"""
import dataclasses
import os
import sys
import types

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import peer_cases  # noqa: E402  (benchmarks/peer_cases.py)
import peer_maps  # noqa: E402  (benchmarks/peer_maps.py)
import peer_precision  # noqa: E402  (benchmarks/peer_precision.py)
import peers  # noqa: E402  (benchmarks/peers.py, a script)
from conftest import loop_gate_loop, loop_scan  # noqa: E402


# ---- the peers' documented semantics, on NumPy arrays ----------------------------------

def _gla(q, k, v, g, scale=None, initial_state=None, output_final_state=False, **kw):
    """fla GLA: (B, T, H, K); h = exp(g)[:, None] * h + kᵀv; o = (scale q) h."""
    B, T, H, K = q.shape
    assert k.shape == g.shape == q.shape and v.shape[:3] == q.shape[:3], "fla layout"
    scale = K ** -0.5 if scale is None else scale
    o, _ = loop_gate_loop(q * scale, k, v, np.exp(g), dtype=None)  # gl's layout, a = exp(g)
    return o.astype(np.result_type(q, v, g), copy=False), None


def _fused_recurrent_gla(q, k, v, gk=None, gv=None, scale=None, **kw):
    return _gla(q, k, v, gk, scale=scale)


def _simple_gla(q, k, v, g=None, g_gamma=None, scale=None, **kw):
    """fla simple GLA: g (B, T, H), one log-gate per head."""
    assert g.shape == q.shape[:3], "simple_gla: g is (B, T, H)"
    return _gla(q, k, v, np.broadcast_to(g[..., None], q.shape), scale=scale)


def _hgrn(x, g, initial_state=None, output_final_state=False):
    """fla HGRN: (B, T, D); h_t = exp(g_t) h_{t-1} + x_t; returns (h, final)."""
    assert x.shape == g.shape
    return loop_scan(np.exp(g), x, axis=1), None


def _scan(gates, tokens):
    """accelerated-scan: (B, C, T), x_t = gates_t x_{t-1} + tokens_t along the last axis."""
    assert gates.shape == tokens.shape and gates.flags.c_contiguous, "(B, C, T) contiguous"
    return loop_scan(gates, tokens, axis=-1)


def _warp(gates, tokens):
    T = gates.shape[-1]
    assert T >= 32 and not T & (T - 1), "warp: T a power of two from 32"
    return _scan(gates, tokens)


def _complex(forget, inputs):
    if not np.iscomplexobj(forget):
        raise TypeError("forget must be a complex tensor")
    return _scan(forget, inputs)


FAKES = {"fla.ops.gla": dict(chunk_gla=_gla, fused_recurrent_gla=_fused_recurrent_gla),
         "fla.ops.simple_gla": dict(chunk_simple_gla=_simple_gla),
         "fla.ops.hgrn": dict(chunk_hgrn=_hgrn),
         "accelerated_scan.warp": dict(scan=_warp),
         "accelerated_scan.scalar": dict(scan=_scan),
         "accelerated_scan.complex": dict(scan=_complex)}


@pytest.fixture
def fakes(monkeypatch):
    for name in ("fla", "fla.ops", "accelerated_scan"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    for name, attrs in FAKES.items():
        mod = types.ModuleType(name)
        for k, f in attrs.items():
            setattr(mod, k, f)
        monkeypatch.setitem(sys.modules, name, mod)


@pytest.fixture
def absent(monkeypatch):
    for name in ("fla", "accelerated_scan"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError


class NumpyRuntime:
    """The peers' runtime on NumPy; ``grad``: central differences in float64, with torch's
    convention for a complex input z = x + iy (dL/dx + i dL/dy; JAX gives the conjugate)."""

    name = "numpy"

    def __init__(self):
        self.dtypes = set()  # the dtypes the peers' inputs were asked in

    def to_dev(self, x, grad=False, dtype="float32"):
        self.dtypes.add(dtype)
        return peer_precision.round_bf16(x) if dtype == "bfloat16" else np.array(x)

    def to_host(self, t):
        return np.asarray(t)

    def sync(self, out):
        pass

    def grad(self, f, w, eps=1e-6):
        def g(*xs):
            xs = [x.astype(np.complex128 if np.iscomplexobj(x) else np.float64) for x in xs]
            loss = lambda: float(np.sum(np.real(f(*xs)) * w))
            out = []
            for x in xs:
                d = np.zeros(x.shape, x.dtype)
                for i in np.ndindex(x.shape):
                    for unit in ((1, 1j) if np.iscomplexobj(x) else (1,)):
                        x0 = x[i]
                        x[i] = x0 + eps * unit
                        up = loss()
                        x[i] = x0 - eps * unit
                        d[i] += unit * (up - loss()) / (2 * eps)
                        x[i] = x0
                out.append(d)
            return tuple(out)
        return g


SHAPES = {"multihead": (2, 32, 3, 4), "siso": (2, 32, 5)}


def _reference(host):
    """gl's y in float64 by the Numba loop, batch row by batch row."""
    return np.concatenate([peer_cases.numba_ref(tuple(h[i:i + 1] for h in host))
                           for i in range(host[0].shape[0])])


def _peer_y(peer, host):
    op = FAKES[peer.module][peer.attr]
    return peer.y_to_gl(peer.call(op, *peer.to_peer(*host)), host)


# ---- layouts and the maps ------------------------------------------------------------

def test_time_major_round_trip():
    x = np.arange(2 * 3 * 5).reshape(2, 3, 5)
    t = peer_maps.to_time_major(x)
    assert t.shape == (2, 5, 3) and t.flags.c_contiguous and t[1, 4, 2] == x[1, 2, 4]
    np.testing.assert_array_equal(peer_maps.from_time_major(t), x)
    with pytest.raises(ValueError, match=r"x: expected a \(B, L, D\) array, got shape \(3, 5\)"):
        peer_maps.to_time_major(x[0])


def test_log_gate_refuses_gates_without_a_real_log():
    np.testing.assert_allclose(peer_maps.log_gate(np.array([0.5, 1.0])), [np.log(0.5), 0])
    for bad in (np.array([0.5, 0.0]), np.array([0.5 + 0.1j])):
        with pytest.raises(ValueError, match="a: fla's log-gates need a real gate a > 0"):
            peer_maps.log_gate(bad)


def test_every_case_has_peers_and_bad_pairs_are_refused():
    assert {p.name for p in peer_maps.peers_for("multihead", "key")} == {
        "fla.chunk_gla", "fla.fused_recurrent_gla"}
    assert len(peer_maps.PEERS) == sum(len(peer_maps.peers_for(f, g))
                                       for f, gs in peer_maps.GATES.items() for g in gs)
    with pytest.raises(ValueError, match="family, gate: expected"):
        peer_maps.peers_for("siso", "key")
    with pytest.raises(ValueError, match="shape: expected siso dims, got"):
        peer_maps.gl_inputs(0, "siso", "real", (2, 3, 4, 5))


@pytest.mark.parametrize("peer", peer_maps.PEERS, ids=lambda p: p.name)
def test_map_is_gate_loop(peer):
    host = peer_maps.gl_inputs(3, peer.family, peer.gate, SHAPES[peer.family])
    y = _peer_y(peer, host)
    assert y.shape == host[2].shape
    assert peer_cases.max_rel(y, _reference(host)) < 1e-5


def _mutants():
    gla, = [p for p in peer_maps.PEERS if p.name == "fla.chunk_gla"]
    hgrn, = [p for p in peer_maps.PEERS if p.name == "fla.chunk_hgrn"]
    scalar, = [p for p in peer_maps.PEERS if p.name == "accelerated_scan.scalar"]
    yield "default scale", dataclasses.replace(gla, call=lambda op, *xs: op(*xs)[0])
    yield "linear gate", dataclasses.replace(
        hgrn, to_peer=lambda q, k, v, a: (q, k, v, a))
    yield "no transpose", dataclasses.replace(
        scalar, to_peer=lambda q, k, v, a: tuple(np.ascontiguousarray(
            x.reshape(x.shape[0], x.shape[2], x.shape[1])) for x in (q, k, v, a)))


@pytest.mark.parametrize("what, peer", list(_mutants()), ids=lambda x: getattr(x, "name", x))
def test_mutated_maps_are_caught(what, peer):
    """A wrong map is off by far more than the tolerances: the checks can fail."""
    host = peer_maps.gl_inputs(3, peer.family, peer.gate, SHAPES[peer.family])
    assert peer_cases.max_rel(_peer_y(peer, host), _reference(host)) > 1e-2, what


def test_max_rel():
    assert peer_cases.max_rel(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == 0.5
    assert peer_cases.max_rel((np.ones(2), np.zeros(1)), (np.ones(2), np.full(1, 4.0))) == 1.0
    with pytest.raises(ValueError, match=r"x: expected shape \(2,\), got \(3,\)"):
        peer_cases.max_rel(np.ones(3), np.ones(2))


# ---- peers absent, peers that fail to import, the runtime ------------------------------

def test_absent_peers_are_rows_not_errors(absent):
    m, rows, _ = peer_cases.case_methods("siso", "real", (1, 32, 2), 0, False, NumpyRuntime())
    assert {r["method"] for r in rows} == {p.name for p in peer_maps.peers_for("siso", "real")}
    assert all(r["status"].startswith("not installed") for r in rows)
    assert not any("peer" in d for d in m.values())


def test_without_torch_installed_peers_are_not_run(fakes):
    _, rows, _ = peer_cases.case_methods("multihead", "key", (1, 16, 1, 4), 0, False, None)
    assert [r["status"] for r in rows] == ["not installed (torch with CUDA)"] * 2


def test_a_peer_whose_import_fails_is_a_row(fakes, monkeypatch):
    broken = types.ModuleType("accelerated_scan.warp")
    broken.__getattr__ = lambda name: (_ for _ in ()).throw(RuntimeError("nvcc: not found"))
    monkeypatch.setitem(sys.modules, "accelerated_scan.warp", broken)
    warp, = [p for p in peer_maps.PEERS if p.name == "accelerated_scan.warp"]
    assert peer_cases.import_peer(warp) == (None, "import failed: RuntimeError: nvcc: not found")


@pytest.mark.parametrize("family, gate, shape", [("siso", "real", (1, 32, 2)),
                                                 ("siso", "complex", (1, 32, 2)),
                                                 ("multihead", "key", (1, 8, 2, 4)),
                                                 ("multihead", "head", (2, 8, 2, 4))])
def test_run_case_checks_and_times_every_peer(fakes, family, gate, shape):
    """The whole case on fakes: forward and gradients (central differences, torch's
    convention) agree with gl's in gl's terms; every row is timed; speed-ups refer to gl."""
    log = []
    rows = peer_cases.run_case(family, gate, shape, 0, 1, False, NumpyRuntime(), log.append)
    names = {p.name for p in peer_maps.peers_for(family, gate)}
    got = {(r["pass"], r["method"]): r for r in rows}
    assert all(r["status"] == "ok" for r in rows), log
    for n in names:
        assert got[("fwd", n)]["agrees"] and got[("fwd", n)]["max_rel_err"] < 1e-5, log
        assert got[("fwd", n)]["gl_speedup"] > 0 and got[("fwd", n)]["vs_copy"] > 0
    for n in {n for n in names if "scan only" not in n}:
        assert got[("fwd+bwd", n)]["max_rel_err"] < 1e-4, (n, got[("fwd+bwd", n)])
    assert got[("fwd", "copy")]["vs_copy"] == 1.0 and got[("fwd", "copy")]["gl_speedup"] is None


# ---- the command line ------------------------------------------------------------------

@pytest.mark.parametrize("argv, msg", [
    (["--mh", "1,2,3"], "--mh: expected 4 positive integers per shape separated by ',', "
                        "got '1,2,3'"),
    (["--siso", "2,x,4"], "--siso: expected 3 positive integers"),
    (["--siso", "2,0,4"], "--siso: expected 3 positive integers"),
    (["--repeats", "0"], "--repeats: expected a positive integer, got 0"),
])
def test_cli_argument_errors(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        peers.main(argv)
    assert e.value.code == 2 and msg in capsys.readouterr().err


@pytest.mark.parametrize("argv, msg", [
    (["--gates", "real"], "--gates: expected a comma-separated subset of key, head (the other "
                          "family's gate kinds go to --siso-gates), got 'real'"),
    (["--gates", "key,hed"], "--gates: expected a comma-separated subset of key, head"),
    (["--gates", ""], "--gates: expected a comma-separated subset of key, head"),
    (["--siso-gates", "head"], "--siso-gates: expected a comma-separated subset of real, complex "
                               "(the other family's gate kinds go to --gates), got 'head'"),
    (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
])
def test_cli_gate_and_dtype_errors(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        peers.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and msg in err
    if "--dtype" in argv:
        assert "float32" in err and "bfloat16" in err


def test_parse_gates():
    assert peers.parse_gates("head", "multihead", "--gates") == ("head",)
    assert peers.parse_gates("head, key,head", "multihead", "--gates") == ("head", "key")
    assert peers.parse_gates("complex", "siso", "--siso-gates") == ("complex",)
    with pytest.raises(ValueError, match="family, gate: expected"):
        peers.run([], [], gates=dict(siso=("key",)), runtime=None)


@pytest.mark.slow  # 8-16 s; make test-all
def test_cli_gates_pick_the_cases(absent):
    """``--gates head`` runs the per-head case alone, ``--siso-gates complex`` the complex one."""
    res = peers.main(["--mh", "1,16,1,4;1,8,2,4", "--siso", "1,32,2", "--gates", "head",
                      "--siso-gates", "complex", "--repeats", "1"])
    cases = []
    for r in res["rows"]:
        c = (r["family"], r["gate"], tuple(r["shape"]))
        if c not in cases:
            cases.append(c)
    assert cases == [("multihead", "head", (1, 16, 1, 4)), ("multihead", "head", (1, 8, 2, 4)),
                     ("siso", "complex", (1, 32, 2))]
    assert "--gates head --siso-gates complex" in res["provenance"]["command"]
    both = peers.main(["--mh", "1,16,1,4", "--siso", "", "--gates", "head,key", "--repeats",
                       "1"])
    assert [g for g in dict.fromkeys(r["gate"] for r in both["rows"])] == ["head", "key"]


# ---- bfloat16 inputs -------------------------------------------------------------------

def test_case_bytes_and_the_copy_for_bfloat16():
    """gl's inputs in their dtype plus a float32 y: 20 and 12 bytes an element of y ('key'),
    16 + 4/d and 10 + 2/d ('head'); the XLA copy reads bfloat16 and writes float32."""
    shape = (2, 8, 3, 4)
    n = int(np.prod(shape))
    key = peer_maps.gl_inputs(0, "multihead", "key", shape)
    head = peer_maps.gl_inputs(0, "multihead", "head", shape)
    assert peer_precision.case_bytes(key, "float32") == 20 * n
    assert peer_precision.case_bytes(key, "bfloat16") == 12 * n
    assert peer_precision.case_bytes(head, "float32") == 16 * n + 4 * n // 4
    assert peer_precision.case_bytes(head, "bfloat16") == 10 * n + 2 * n // 4
    cplx = peer_maps.gl_inputs(0, "siso", "complex", (2, 8, 5))
    assert peer_precision.case_bytes(cplx, "float32") == 24 * 2 * 8 * 5
    jnp = pytest.importorskip("jax.numpy")
    out = peer_cases.bench_copy(*(jnp.asarray(h, jnp.bfloat16) for h in head))
    assert out.dtype == jnp.float32 and out.shape == shape


def test_round_bf16_and_dtype_checks():
    x = np.array([1.0, 1 + 2 ** -8, 1 + 2 ** -7 + 2 ** -9, 0.95], np.float32)
    np.testing.assert_array_equal(peer_precision.round_bf16(x),
                                  [1.0, 1.0, 1 + 2 ** -7, 0.94921875])
    assert peer_precision.round_bf16(x).dtype == np.float32
    with pytest.raises(ValueError, match="dtype: bfloat16 is for the multi-head family only"):
        peer_cases.case_methods("siso", "real", (1, 32, 2), 0, False, None, "bfloat16")
    with pytest.raises(ValueError, match=r"dtype: expected one of \('float32', 'bfloat16'\)"):
        peers.run([], [], dtype="float16", runtime=None)


@pytest.mark.parametrize("gate", ["key", "head"])
def test_bfloat16_case_on_fakes(fakes, gate):
    """With bfloat16 the peers are given bfloat16, every row says so, gl's rows are checked at
    the float32 tolerance (gl computes in float32: its row 0 meets the float64 loop on the
    *rounded* values to 1e-5, where the unrounded ones are ~5e-3 away) and the peers' at
    TOL_BF16."""
    shape = (2, 8, 2, 4)
    rt = NumpyRuntime()
    rows = peer_cases.run_case("multihead", gate, shape, 0, 1, False, rt, lambda *a: None,
                               "bfloat16")
    assert rt.dtypes == {"bfloat16"}
    got = {(r["pass"], r["method"]): r for r in rows}
    assert all(r["status"] == "ok" and r["dtype"] == "bfloat16" for r in rows), rows
    host = peer_maps.gl_inputs(0, "multihead", gate, shape)
    assert {r["bytes"] for r in rows} == {peer_precision.case_bytes(host, "bfloat16")}
    first = got[("fwd", "gate_loop[chunked, xla]")]
    assert first["tol"] == peer_precision.TOL["fwd"] and first["max_rel_err"] < 1e-5
    assert peer_cases.max_rel(peer_cases.numba_ref(host), peer_cases.numba_ref(
        tuple(peer_precision.round_bf16(h) for h in host))) > 1e-3  # so the check above can fail
    assert got[("fwd+bwd", "gate_loop[auto]")]["tol"] == peer_precision.TOL["fwd+bwd"]
    for p in peer_maps.peers_for("multihead", gate):
        for pas in ("fwd", "fwd+bwd"):
            r = got[(pas, p.name)]
            assert r["tol"] == peer_precision.TOL_BF16[pas] and r["agrees"], r
    assert got[("fwd", "copy")]["tol"] is None


@pytest.mark.parametrize("dtype, eps, agrees", [("float32", 1e-2, False),
                                                ("bfloat16", 1e-2, True),
                                                ("bfloat16", 3e-2, False)])
def test_the_dtypes_tolerance_decides(fakes, monkeypatch, dtype, eps, agrees):
    """A peer whose y is off by eps (relative): within TOL_BF16 (2e-2) but not TOL (2e-3)."""
    op = FAKES["fla.ops.simple_gla"]["chunk_simple_gla"]
    monkeypatch.setattr(sys.modules["fla.ops.simple_gla"], "chunk_simple_gla",
                        lambda *a, **kw: (op(*a, **kw)[0] * (1 + eps), None))
    rows = peer_cases.run_case("multihead", "head", (1, 8, 2, 4), 0, 1, False,
                               NumpyRuntime(), lambda *a: None, dtype)
    r, = [r for r in rows if r["method"] == "fla.chunk_simple_gla" and r["pass"] == "fwd"]
    assert r["max_rel_err"] == pytest.approx(eps, rel=1e-3)
    tol = peer_precision.TOL_BF16 if dtype == "bfloat16" else peer_precision.TOL
    assert r["agrees"] is agrees and r["tol"] == tol["fwd"]


@pytest.mark.slow  # 8-16 s; make test-all
def test_bf16_tolerance_covers_gl_in_bfloat16_and_float32_does_not():
    """TOL_BF16's basis, at a small shape: gl's chunked algorithm computed all in bfloat16 is
    within it (and outside the float32 TOL), and gl's own float32 result on the rounded
    inputs meets the float64 loop."""
    for gate in ("key", "head"):
        e = peer_cases.bf16_errors((2, 256, 2, 16), gate)
        assert e["f64"] < 1e-5 and e["log_gate"] < 1e-3, e
        tol, tol16 = peer_precision.TOL, peer_precision.TOL_BF16
        assert tol["fwd"] < e["all_bf16"] < tol16["fwd"] / 2, e
        assert tol["fwd"] < e["all_bf16_grads"] < tol16["fwd+bwd"] / 2, e


@pytest.mark.slow  # 8-16 s; make test-all
def test_bfloat16_head_gate_gradient_is_not_summed_in_bfloat16():
    """gl's gradients for bfloat16 inputs come back bfloat16: rounded, at most one bf16 ulp
    (2^-8) off the float32 ones. Broadcasting a per-head gate before gl's cast to float32 would
    sum its gradient over d_k in bfloat16 (1.1e-2 off at this shape)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    h = tuple(peer_precision.round_bf16(x)
              for x in peer_maps.gl_inputs(0, "multihead", "head", (1, 128, 2, 64)))
    w = jnp.asarray(peer_precision.round_bf16(
        np.random.default_rng(1).standard_normal(h[2].shape)))
    g = peer_cases.jax_grad(peer_cases.gl_fn("multihead", "head", "chunked", "xla"))
    g32 = g(*(jnp.asarray(x) for x in h), w)
    g16 = g(*(jnp.asarray(x, jnp.bfloat16) for x in h), w)
    assert all(t.dtype == jnp.bfloat16 for t in g16)
    assert peer_cases.max_rel(tuple(map(peer_cases.jax_to_host, g16)),
                              tuple(map(np.asarray, g32))) < 2 ** -8


@pytest.mark.slow  # 8-16 s; make test-all
def test_cli_records_the_dtype(absent, tmp_path):
    path = tmp_path / "peers.json"
    peers.main(["--mh", "1,16,1,4", "--siso", "1,32,2", "--gates", "key", "--siso-gates", "real",
                "--dtype", "bfloat16", "--repeats", "1", "--json", str(path)])
    saved = __import__("json").loads(path.read_text())
    prov = saved["provenance"]
    assert prov["dtype"].startswith("multi-head inputs bfloat16") and "--dtype bfloat16" in \
        prov["command"] and str(peer_precision.TOL_BF16) in prov["tolerance"]
    dt = {(r["family"], r["dtype"]) for r in saved["rows"]}
    assert dt == {("multihead", "bfloat16"), ("siso", "float32")}
    mh = {r["bytes"] for r in saved["rows"] if r["family"] == "multihead"}
    assert mh == {12 * 16 * 4}
    assert all(r["agrees"] for r in saved["rows"] if r.get("agrees") is not None)


def test_parse_shapes():
    assert peers.parse_shapes("1,2,3;4,5,6", 3, "--siso") == [(1, 2, 3), (4, 5, 6)]
    assert peers.parse_shapes("", 4, "--mh") == []


def test_cli_writes_json_with_provenance_and_not_installed_rows(absent, tmp_path):
    path = tmp_path / "peers.json"
    res = peers.main(["--mh", "", "--siso", "1,32,2", "--repeats", "1", "--json", str(path)])
    saved = __import__("json").loads(path.read_text())
    assert saved["rows"] == res["rows"] and saved["provenance"]["complete"] is True
    prov = saved["provenance"]
    assert {"command", "device_kind", "date", "versions", "tolerance", "seed"} <= set(prov)
    assert prov["versions"]["jax"] and prov["command"].startswith("python benchmarks/peers.py")
    status = {(r["gate"], r["method"]): r["status"] for r in saved["rows"]}
    for gate in ("real", "complex"):
        for p in peer_maps.peers_for("siso", gate):
            assert status[(gate, p.name)].startswith("not installed")
        assert status[(gate, "gate_loop[parallel, xla]")] == "ok"
    assert all(r["agrees"] for r in saved["rows"] if r.get("agrees") is not None)


# ---- the peers' own torch references, where torch and the peers are installed ----------

def _peer_references(monkeypatch):
    """Inject the peers' own torch references (fla's ``naive.py`` files, loaded without
    ``fla/__init__``, which needs Triton kernels; ``accelerated_scan.ref.scan``) as their
    kernels: the maps and :class:`peer_cases.TorchRuntime` then run on the CPU."""
    import importlib.util
    torch = pytest.importorskip("torch")
    ref = pytest.importorskip("accelerated_scan.ref")
    spec = importlib.util.find_spec("fla")
    if spec is None:
        pytest.skip("fla-core is not installed")
    root = spec.submodule_search_locations[0]

    def naive(sub):
        s = importlib.util.spec_from_file_location(f"_fla_naive_{sub}",
                                                   os.path.join(root, "ops", sub, "naive.py"))
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        return mod

    gla, sgla, hgrn = naive("gla"), naive("simple_gla"), naive("hgrn")

    def chunk_gla(q, k, v, g, scale=None, **kw):  # naive_recurrent_gla fixes scale = K^-1/2
        s = 1.0 if scale is None else scale * q.shape[-1] ** 0.5
        return gla.naive_recurrent_gla(q * s, k, v, g)

    fakes = {"fla.ops.gla": dict(chunk_gla=chunk_gla, fused_recurrent_gla=chunk_gla),
             "fla.ops.simple_gla": dict(chunk_simple_gla=lambda q, k, v, g, scale=None, **kw:
                                        sgla.naive_recurrent_simple_gla(q, k, v, g, scale)),
             "fla.ops.hgrn": dict(chunk_hgrn=hgrn.naive_recurrent_hgrn),
             "accelerated_scan.warp": dict(scan=ref.scan),
             "accelerated_scan.scalar": dict(scan=ref.scan),
             "accelerated_scan.complex": dict(scan=lambda f, x: ref.scan(f, x.to(f.dtype)))}
    for name, attrs in fakes.items():
        mod = types.ModuleType(name)
        for k, f in attrs.items():
            setattr(mod, k, f)
        monkeypatch.setitem(sys.modules, name, mod)
    return torch


@pytest.mark.parametrize("family, gate, shape", [("siso", "real", (2, 32, 3)),
                                                 ("siso", "complex", (2, 32, 3)),
                                                 ("multihead", "key", (2, 8, 2, 4)),
                                                 ("multihead", "head", (2, 8, 2, 4))])
def test_torch_runtime_with_the_peers_references(monkeypatch, family, gate, shape):
    """Forward and autograd gradients (torch's complex convention included) agree with gl."""
    _peer_references(monkeypatch)
    rows = peer_cases.run_case(family, gate, shape, 0, 1, False,
                               peer_cases.TorchRuntime("cpu"), lambda *a: None)
    got = {(r["pass"], r["method"]): r for r in rows}
    assert all(r["status"] == "ok" for r in rows), rows
    for p in peer_maps.peers_for(family, gate):
        assert got[("fwd", p.name)]["max_rel_err"] < 1e-5, got[("fwd", p.name)]
        if p.grads_to_gl is not None:
            assert got[("fwd+bwd", p.name)]["max_rel_err"] < 1e-5, got[("fwd+bwd", p.name)]
    assert got[("fwd", "copy[torch]")]["status"] == "ok"


@pytest.mark.parametrize("gate", ["key", "head"])
def test_torch_runtime_bfloat16_with_the_peers_references(monkeypatch, gate):
    """bfloat16 tensors go to the peers' references, come back as float32, and agree within
    TOL_BF16; the torch copy writes float32."""
    torch = _peer_references(monkeypatch)
    rt = peer_cases.TorchRuntime("cpu")
    t = rt.to_dev(np.array([1 + 2 ** -8], np.float32), grad=True, dtype="bfloat16")
    assert t.dtype == torch.bfloat16 and t.requires_grad and rt.to_host(t).dtype == np.float32
    assert rt.copy(t, t).dtype == torch.float32
    rows = peer_cases.run_case("multihead", gate, (2, 8, 2, 4), 0, 1, False, rt,
                               lambda *a: None, "bfloat16")
    got = {(r["pass"], r["method"]): r for r in rows}
    assert all(r["status"] == "ok" for r in rows), rows
    for p in peer_maps.peers_for("multihead", gate):
        for pas in ("fwd", "fwd+bwd"):
            assert got[(pas, p.name)]["agrees"], got[(pas, p.name)]
