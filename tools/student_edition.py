"""Make the student edition's source tree: the book with every exercise solution removed.

Usage: python tools/student_edition.py OUT_DIR [--executed CACHE]
Copies _config.yml, _toc.yml, _static/, book/ and notebooks/ into OUT_DIR, cutting from each
notebook everything between ``{solution-start}`` and ``{solution-end}`` (markdown and code
cells alike) and every ``{solution}`` block. OUT_DIR/handout holds the solution-free notebooks
to hand out, without outputs, with each exercise as plain markdown and an answer cell after it
(:func:`handout_cells`). (sphinx-exercise's ``hide_solutions`` option cannot do this: it
drops the gated start marker but leaves the solution's code cells and end marker in place.)

With ``--executed CACHE`` (what ``make book-student`` does) the notebooks in OUT_DIR/notebooks
keep the outputs of the instructor edition's execution, read from its jupyter-cache, and the
student edition is built without executing anything: the same code ran once already, so a
second run would only cost CI minutes. A notebook whose code is not in the cache is an error.
What a second run would also have caught, a cell after a solution that needs a name only the
solution defines, is checked statically instead (:func:`solution_only_names`).
"""
from __future__ import annotations

import ast
import builtins
import json
import pathlib
import re
import shutil
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from book_checks import cached_execution  # noqa: E402  (a sibling script, not a package)

START = re.compile(r"^(`{3,})\{solution-start\}[^\n]*\n(?::[^\n]*\n)*\1[ \t]*(?:\n|$)", re.M)
END = re.compile(r"^(`{3,})\{solution-end\}[^\n]*\n\1[ \t]*(?:\n|$)", re.M)
BLOCK = re.compile(r"^(`{3,})\{solution\}.*?^\1[ \t]*(?:\n|$)", re.M | re.S)


def _names(src: str) -> tuple[set, set]:
    """``(defined, used)`` names of a code cell (IPython magics and shell lines skipped)."""
    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(), set()
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, (ast.Store, ast.Del)) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    return defined, used


def solution_only_names(cells) -> list[str]:
    """Names that a kept code cell uses, that a removed solution cell defined before it, and
    that no kept cell defines: in the student edition that cell would fail with NameError.
    ``cells`` are the original cells, each marked with ``"_removed"`` by :func:`strip_solutions`."""
    kept_defs, removed_defs, problems = set(), {}, []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        defined, used = _names("".join(cell["source"]))
        if cell.get("_removed"):
            removed_defs.update({n: i for n in defined})
            continue
        missing = sorted(n for n in used - kept_defs - defined if n in removed_defs
                         and not hasattr(builtins, n))
        for n in missing:
            problems.append(f"cell {i} uses {n!r}, defined only in the solution cell "
                            f"{removed_defs[n]}")
        kept_defs |= defined
    return problems


def strip_solutions(cells):
    """Return the cells without solutions; raise ValueError on an unterminated solution or
    on a kept cell that needs a name only a solution defines."""
    out, inside = [], False
    for cell in cells:
        src = "".join(cell["source"])
        if cell["cell_type"] != "markdown":
            if not inside:
                out.append(cell)
            else:
                cell["_removed"] = True
            continue
        kept, pos = "", 0
        while True:
            if not inside:
                m = START.search(src, pos)
                if not m:
                    kept += src[pos:]
                    break
                kept, inside, pos = kept + src[pos:m.start()], True, m.end()
            else:
                m = END.search(src, pos)
                if not m:
                    break
                inside, pos = False, m.end()
        kept = BLOCK.sub("", kept)
        if kept.strip():
            out.append(dict(cell, source=kept))
    if inside:
        raise ValueError("a {solution-start} has no {solution-end}")
    problems = solution_only_names(cells)
    for cell in cells:
        cell.pop("_removed", None)
    if problems:
        raise ValueError("; ".join(problems))
    return out


EXERCISE = re.compile(r"^(`{3,})\{exercise\}[ \t]*([^\n]*)\n((?::[^\n]*\n)*)(.*?)^\1[ \t]*$",
                      re.M | re.S)
CHECK = re.compile(r"gl\.exercises\.check_\w+\(\w+\)")


def handout_cells(cells):
    """The hand-out's cells: each ``{exercise}`` block as plain markdown (Jupyter and Colab
    show MyST directives as literal text), followed by an empty answer cell that names the
    checker calls its exercises ask for."""
    out = []
    for cell in cells:
        src = "".join(cell["source"])
        if cell["cell_type"] != "markdown" or "{exercise}" not in src:
            out.append(cell)
            continue
        checks = []

        def plain(m):
            label = re.search(r":label:\s*(\S+)", m[3])
            checks.extend(c for c in CHECK.findall(m[4]) if c not in checks)
            head = "**Exercise" + (f": {m[2].strip()}" if m[2].strip() else "") + "**"
            return head + (f" (`{label[1]}`)" if label else "") + "\n\n" + m[4].rstrip() + "\n"

        out.append(dict(cell, source=EXERCISE.sub(plain, src).splitlines(keepends=True)))
        stub = "# Your answer here." + "".join(f"\n# Then check it: {c}" for c in checks)
        out.append({"cell_type": "code", "id": f"{cell.get('id', 'cell')}-answer"[:64],
                    "metadata": {}, "execution_count": None, "outputs": [],
                    "source": stub.splitlines(keepends=True)})
    return out


def main(out: pathlib.Path, executed: pathlib.Path | None = None) -> None:
    root = pathlib.Path(__file__).resolve().parents[1]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["title"] += " (student edition)"
    if executed is not None:  # outputs come from the instructor edition's run
        config.setdefault("execute", {})["execute_notebooks"] = "off"
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(root / "_toc.yml", out / "_toc.yml")
    shutil.copytree(root / "book", out / "book")
    if (root / "_static").is_dir():  # the book's CSS (Jupyter Book adds _static/*.css itself)
        shutil.copytree(root / "_static", out / "_static")
    (out / "notebooks").mkdir()
    (out / "handout").mkdir()
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        data = json.loads(nb.read_text())
        if executed is not None:
            data, why = cached_execution(nb, executed)
            if data is None:
                raise SystemExit(f"{why} (build the instructor edition first: make book)")
        try:
            data["cells"] = strip_solutions(data["cells"])
        except ValueError as e:
            raise SystemExit(f"{nb.name}: {e}")
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        (out / "notebooks" / nb.name).write_text(text)
        for cell in data["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        data["cells"] = handout_cells(data["cells"])
        (out / "handout" / nb.name).write_text(json.dumps(data, indent=1, ensure_ascii=False)
                                               + "\n")
    print(f"wrote the student edition's sources to {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    cache = None
    if "--executed" in args:
        k = args.index("--executed")
        cache, args = pathlib.Path(args[k + 1]).resolve(), args[:k] + args[k + 2:]
    if len(args) != 1:
        raise SystemExit(__doc__)
    main(pathlib.Path(args[0]).resolve(), cache)
