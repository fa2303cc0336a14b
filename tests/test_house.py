"""The house rules of ``gl`` (ARCHITECTURE.md): every module imports, the import graph has no
cycles, no module takes another's ``_private`` names, none is over ~400 lines, and the package
holds no lab (no ``ablate``, no ``GL_*`` environment hooks, no raw logs, no ``experiments``)."""
from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

from conftest import GL_NAME, resolve_gl

ROOT = pathlib.Path(__file__).parent.parent
PKG = ROOT / "gl"
MAX_LINES = 420  # "about 400"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports(name: str, path: pathlib.Path):
    """``(imported module, names taken from it)`` for every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [a.name for a in node.names]
            for n in names:  # "from gl import scan" imports the module gl.scan
                if f"{base}.{n}" in MODULES:
                    yield f"{base}.{n}", []
            yield base, names


def graph():
    return {name: {m for m, _ in imports(name, path) if m in MODULES and m != name}
            for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    importlib.import_module(name)


def find_cycle(g):
    """A cycle of ``g`` (a list of nodes, first == last) or None; a package's ``__init__``
    importing its own submodules lazily is still an edge here."""
    state = {}

    def visit(n, stack):
        state[n] = "open"
        for m in sorted(g[n]):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m, stack + [m])):
                return c
        state[n] = "done"
        return None

    for n in sorted(g):
        if n not in state and (c := visit(n, [n])):
            return c
    return None


def test_no_import_cycles():
    g = {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph().items()}
    # a module importing its parent package (e.g. ``from .. import gates``) is fine; a package
    # importing its child is what the graph tracks
    assert find_cycle(g) is None, find_cycle(g)


def test_find_cycle_finds_one():
    """The check can fail: model -> checkpoint -> model (the cycle this house removed)."""
    assert find_cycle({"model": {"checkpoint"}, "checkpoint": {"model"}}) == ["checkpoint", "model", "checkpoint"]
    assert find_cycle({"model": {"checkpoint"}, "checkpoint": set()}) is None


def test_no_private_names_across_modules():
    bad = [(name, mod, n) for name, path in MODULES.items() for mod, names in imports(name, path)
           for n in names if n.startswith("_") and not n.startswith("__") and mod != name]
    assert not bad, bad


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    n = len(MODULES[name].read_text().splitlines())
    assert n <= MAX_LINES, f"{MODULES[name]}: {n} lines, expected at most about 400"


def test_no_lab_in_the_package():
    for name, path in MODULES.items():
        text = path.read_text()
        assert "ablate" not in text, name
        assert "GL_" not in text, name  # no environment hooks
        assert not any(m.startswith("experiments") for m, _ in imports(name, path)), name
    logs = [p for p in (PKG / "assets").rglob("*")  # raw logs; the data set of a task is data
            if p.suffix == ".log" or (p.suffix == ".txt" and "data" not in p.parts)]
    assert not logs, logs


def test_every_gl_name_in_the_docstrings_and_guides_exists():
    """The ``gl`` names quoted in the package's own text (docstrings, comments, the shipped
    assets' READMEs) and in ARCHITECTURE.md and DEVELOPING.md import; placeholders such as
    ``gl.exercises.NAME`` are skipped (the book's prose: ``test_book.py``)."""
    files = [*sorted(PKG.rglob("*.py")), *sorted((PKG / "assets").rglob("*.md")),
             ROOT / "ARCHITECTURE.md", ROOT / "DEVELOPING.md"]
    missing, seen = set(), 0
    for path in files:
        for m in GL_NAME.finditer(path.read_text()):
            name = m.group(1)
            if set(name.split(".")) & {"NAME", "chNN"}:
                continue  # a placeholder
            seen += 1
            try:
                resolve_gl(name)
            except (AttributeError, ImportError):
                missing.add(f"{path.relative_to(ROOT)}: {name}")
    assert seen > 100, f"only {seen} gl names found: is the pattern still right?"
    assert not missing, "names that do not exist in gl: " + "; ".join(sorted(missing))
