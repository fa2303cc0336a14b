"""Shared helpers for the tests: random GateLoop inputs, the error measure, the tests' own loop
of the recurrence, the book's notebooks and its solution cells."""
from __future__ import annotations

import ast
import importlib
import os
import pathlib
import re
import zlib

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True)
settings.register_profile("all", deadline=None, max_examples=25, derandomize=True)  # make test-all
settings.register_profile("dev", deadline=None, max_examples=60)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

# The unit tests compile many small programs once each: XLA's optimizations cost more compile
# time than they save run time. They change no result beyond float rounding (the tolerances
# are stated per test); GL_TEST_XLA_OPT=1 keeps them (make test-all does).
if os.environ.get("GL_TEST_XLA_OPT", "0") != "1":
    import jax

    jax.config.update("jax_disable_most_optimizations", True)


ROOT = pathlib.Path(__file__).resolve().parents[1]

# The book's notebooks, from the notebooks directory (test_book.py checks each is in _toc.yml).
#: every notebook: each must be a chapter or back matter (test_book.py)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: the numbered chapters ``NN_name.ipynb``, the quickstart (00) included
CHAPTER_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: back matter ``appendix_name.ipynb``: in the unnumbered back matter, no exercises, no summary
BACK_MATTER = sorted((ROOT / "notebooks").glob("appendix_*.ipynb"))
#: the chapters that teach (objectives, exercises, a summary): the numbered ones but the quickstart
CHAPTERS = [nb for nb in CHAPTER_NOTEBOOKS if not nb.name.startswith("00_")]


def examples(n: int) -> int:
    """Hypothesis examples for a property test whose every example compiles anew: ``n`` under
    ``make test-all`` (profile ``all``) and ``dev``, a third of it (at least 3) in ``make unit``."""
    return max(3, n // 3) if PROFILE == "ci" else n


def random_inputs(rng, batch=(2,), L=16, H=3, d_k=2, d_v=3, mag=(0.5, 1.0), complex_a=True,
                  dtype=np.float32, h0=False):
    """Random ``q, k, v, a`` (and ``h0``) of the shapes of :func:`gl.gate_loop`.

    ``|a|`` is uniform in ``mag``; with ``complex_a`` its phase is uniform in (-π, π).
    """
    cdtype = np.result_type(dtype, np.complex64)
    shape = batch + (L, H, d_k)
    q, k = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    v = rng.standard_normal(batch + (L, H, d_v)).astype(dtype)
    r = rng.uniform(*mag, size=shape)
    if complex_a:
        a = (r * np.exp(1j * rng.uniform(-np.pi, np.pi, size=shape))).astype(cdtype)
    else:
        a = (r * rng.choice([-1.0, 1.0], size=shape)).astype(dtype)
    out = [q, k, v, a]
    if h0:
        hd = cdtype if complex_a else dtype
        out.append((rng.standard_normal(batch + (H, d_k, d_v))).astype(hd))
    return out


def loop_scan(a, x, h0=None, axis=0):
    """Every state of ``h_t = a_t ⊙ h_{t-1} + x_t`` by a plain Python loop over ``axis``.

    The test suite's own sequential recurrence (eq. 7 with ``x_t = k_tᵀ v_t``), independent of
    :mod:`gl`, whose ground truth is the Numba loop :func:`gl.gate_loop_reference`: the tests
    check that loop (and the checkers' truths) against this one. ``a`` broadcasts against ``x``
    (one gate per step, or a constant ``A``); ``h0`` is ``h_{-1}``, zero when None. NumPy's
    promotion of ``a``, ``x``, ``h0`` sets the dtype (cast the inputs to choose it). Returns the
    states ``h_t`` stacked along ``axis`` (the shape of ``x``), C-contiguous.
    """
    x = np.asarray(x)
    a = np.moveaxis(np.broadcast_to(a, x.shape), axis, 0)
    x = np.moveaxis(x, axis, 0)
    h = np.zeros_like(x[0]) if h0 is None else np.asarray(h0)
    hs = []
    for a_t, x_t in zip(a, x):
        h = a_t * h + x_t
        hs.append(h)
    return np.ascontiguousarray(np.moveaxis(np.stack(hs), 0, axis))


def loop_gate_loop(q, k, v, a, h0=None, dtype=np.complex128, return_states=False):
    """GateLoop (eq. 7-8) by the plain loop :func:`loop_scan`: ``h_n = a_n ⊙ h_{n-1} + k_nᵀ v_n``
    (``a_n`` scales the rows of the ``(d_k, d_v)`` state), ``y_n = q_n h_n``; no conjugate anywhere.

    Shapes as :func:`gl.gate_loop`: ``q, k`` ``(..., L, H, d_k)``, ``v`` ``(..., L, H, d_v)``,
    ``a`` ``(..., L, H, d_k)`` or broadcastable to it (``(..., L, H, 1)``: one gate per head),
    ``h0`` ``(..., H, d_k, d_v)`` or None (zero). Every input is cast to ``dtype`` (None: NumPy's
    promotion of the inputs). Returns ``(y, h_L)``, ``y`` ``(..., L, H, d_v)``; with
    ``return_states``, ``(y, hs)``, every state ``h_n`` in ``hs`` ``(..., L, H, d_k, d_v)``.
    """
    if dtype is not None:
        q, k, v, a = (np.asarray(x, dtype) for x in (q, k, v, a))
        h0 = None if h0 is None else np.asarray(h0, dtype)
    q, k, v, a = (np.asarray(x) for x in (q, k, v, a))
    hs = loop_scan(a[..., None], k[..., :, None] * v[..., None, :], h0, axis=-4)  # eq. 7
    y = np.einsum("...hr,...hrp->...hp", q, hs)  # eq. 8
    return y, (hs if return_states else hs[..., -1, :, :, :])


def script_module(rel_path: str):
    """A script outside the package (under ``experiments/`` or ``benchmarks/``), imported by
    its path relative to the repository root: the tests may import it, ``gl`` may not."""
    import importlib.util

    path = ROOT / rel_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bound_names(stmts):
    """The names that module-level statements ``stmts`` bind by ``def``, ``class`` or assignment
    (inside ``if``/``for``/``while``/``with``/``try`` blocks too, not inside functions or classes)."""
    def targets(t):
        if isinstance(t, ast.Name):
            yield t.id
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                yield from targets(e)
        elif isinstance(t, ast.Starred):
            yield from targets(t.value)

    for st in stmts:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield st.name
            continue  # its body is another scope
        if isinstance(st, ast.Assign):
            for t in st.targets:
                yield from targets(t)
        elif isinstance(st, ast.AnnAssign) and st.value is not None:
            yield from targets(st.target)
        blocks = [getattr(st, b, []) for b in ("body", "orelse", "finalbody")]
        for block in blocks + [h.body for h in getattr(st, "handlers", [])]:
            yield from _bound_names(block)


def _calls_checker(st) -> bool:
    """Whether statement ``st`` is a call of a book checker, ``gl.exercises.…(…)``."""
    return (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)
            and ast.unparse(st.value.func).startswith("gl.exercises."))


def book_solution(notebook: str, *names, **namespace):
    """The objects ``names`` as the book's solution cells define them in ``notebooks/<notebook>``.

    Every code cell is parsed with :mod:`ast`; a name's cell is the first whose module level
    defines it (``def name``, ``class name`` or an assignment to ``name``), however the cell is
    formatted. Each such cell runs once, in notebook order, in one namespace holding
    ``namespace``, without its top-level calls of the checker (``gl.exercises.…(…)``, which
    the tests make themselves): the tests then check the solution the reader sees, not a copy of
    it, and the cell's own asserts run with it. A name that no cell defines raises
    ``LookupError`` naming the notebook and the name (and any cell that mentions it but is not
    Python, e.g. one with IPython magics, which are skipped).
    """
    import json
    import re

    cells = [(i, "".join(c["source"])) for i, c in
             enumerate(json.loads((ROOT / "notebooks" / notebook).read_text())["cells"])
             if c["cell_type"] == "code"]
    where, unparsed = {}, []  # name -> (cell index, module); cells that are not Python
    for i, src in cells:
        try:
            tree = ast.parse(src, filename=f"{notebook} cell {i}")
        except SyntaxError as e:
            unparsed.append((i, src, e))
            continue
        for name in _bound_names(tree.body):
            where.setdefault(name, (i, tree))
    for name in names:
        if name not in where:
            near = [f"cell {i} mentions it but does not parse ({e.msg}, line {e.lineno})"
                    for i, src, e in unparsed if re.search(rf"\b{re.escape(name)}\b", src)]
            raise LookupError(f"{notebook}: no code cell defines {name!r} (a def, class or "
                              f"assignment at its top level){''.join('; ' + n for n in near)}")
    for i, tree in sorted(dict(where[n] for n in names).items()):
        body = [st for st in tree.body if not _calls_checker(st)]
        exec(compile(ast.Module(body, type_ignores=[]), f"{notebook} cell {i}", "exec"), namespace)
    missing = [n for n in names if n not in namespace]
    if missing:  # bound only on a branch the cell did not take
        raise LookupError(f"{notebook}: running cells {sorted({where[n][0] for n in missing})} "
                          f"did not define {', '.join(map(repr, missing))}")
    return tuple(namespace[n] for n in names)


def rel_err(x, ref):
    """``‖x − ref‖ / ‖ref‖`` over all elements (the error measure the tolerances refer to)."""
    x, ref = np.asarray(x), np.asarray(ref)
    return float(np.linalg.norm((x - ref).ravel())) / max(float(np.linalg.norm(ref.ravel())), 1e-300)


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's name: each test has its own fixed stream."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


def sweep(cases, fast=(0,)):
    """Parametrize ``cases``, all but those at the indices ``fast`` marked ``slow``: ``make unit``
    runs the fast ones (every code path keeps one), ``make test-all`` the whole sweep."""
    out = []
    for i, case in enumerate(cases):
        args = case if isinstance(case, tuple) else (case,)
        out.append(pytest.param(*args, marks=() if i in fast else pytest.mark.slow))
    return out


#: a dotted ``gl`` name after a backtick on its line: `gl.gate_loop`, `python -m gl.train ...`
GL_NAME = re.compile(r"`[^`\n]*?\b(gl(?:\.[A-Za-z_]\w*)+)")


def resolve_gl(name: str):
    """The object a dotted ``gl`` name stands for: its longest importable module prefix, then
    attributes; ``AttributeError`` or ``ImportError`` when there is none."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(name)
