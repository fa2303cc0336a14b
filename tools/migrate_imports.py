"""Rewrite imports of the modules that issue 20 ("a house a newcomer can live in") moved.

``python tools/migrate_imports.py FILE ...`` rewrites ``.py`` files and the code cells of
``.ipynb`` notebooks in place. Only import lines and names qualified by ``gl.`` change:

* ``from gl import X [as Y]`` -> ``from gl.PKG import NEW [as Y]`` (``as X`` added when the
  name changed, so the rest of the code keeps working);
* ``from gl.X import ...`` -> ``from gl.PKG.NEW import ...``; ``import gl.X`` and ``gl.X.``
  -> ``gl.PKG.NEW``.

Idempotent: a second run changes nothing. Notebooks keep their JSON layout (one space indent,
as ``nbformat`` writes it). After the merge of issue 20 this script can be deleted.
"""
from __future__ import annotations

import json
import re
import sys

#: old module under gl -> (new package, new module name)
MOVES = {
    "pallas_scan": ("gl.kernels", "siso_scan"),
    "pallas_tma": ("gl.kernels", "siso_tma"),
    "pallas_chunked": ("gl.kernels", "chunked"),
    "ssm": ("gl.theory", "ssm"),
    "prefix": ("gl.theory", "prefix"),
    "special_cases": ("gl.theory", "special_cases"),
    "checkpoint": ("gl.tasks", "checkpoint"),
    "data": ("gl.tasks.memory_horizon", "data"),
    "model": ("gl.tasks.memory_horizon", "model"),
    "gates_analysis": ("gl.tasks.memory_horizon", "gates_analysis"),
    # the Python API of these two moved; ``python -m gl.train`` / ``gl.evaluate`` stay as CLIs
    "train": ("gl.tasks.memory_horizon", "train"),
    "evaluate": ("gl.tasks.memory_horizon", "evaluate"),
}

FROM_GL = re.compile(r"^(\s*)from gl import (.+?)\s*$")


def _from_gl(line: str) -> str:
    """``from gl import a, b as c`` -> one line per moved name, the rest kept together."""
    m = FROM_GL.match(line)
    if not m or "(" in m[2]:
        return line
    indent, kept, moved = m[1], [], []
    for item in (s.strip() for s in m[2].split(",")):
        name, _, alias = (p.strip() for p in item.partition(" as "))
        if name not in MOVES:
            kept.append(item)
            continue
        pkg, new = MOVES[name]
        alias = alias or (name if new != name else "")
        moved.append(f"{indent}from {pkg} import {new}" + (f" as {alias}" if alias else ""))
    out = ([f"{indent}from gl import {', '.join(kept)}"] if kept else []) + moved
    return "\n".join(out)


def rewrite(text: str) -> str:
    lines = [_from_gl(line) for line in text.split("\n")]
    text = "\n".join(lines)
    for old, (pkg, new) in MOVES.items():
        if old in ("train", "evaluate"):  # ``python -m gl.train`` is the CLI: keep gl.train
            text = re.sub(rf"^(\s*)from gl\.{old} import", rf"\1from {pkg}.{new} import", text, flags=re.M)
            continue
        text = re.sub(rf"^(\s*)from gl\.{old} import", rf"\1from {pkg}.{new} import", text, flags=re.M)
        text = re.sub(rf"^(\s*)import gl\.{old}\b", rf"\1import {pkg}.{new}", text, flags=re.M)
        text = re.sub(rf"(?<![\w.])gl\.{old}\.(?=\w)", f"{pkg}.{new}.", text)
    return text


def rewrite_notebook(path: str) -> bool:
    nb = json.load(open(path, encoding="utf-8"))
    changed = False
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        new = rewrite(src)
        if new != src:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
            f.write("\n")
    return changed


def main(paths):
    for path in paths:
        if path.endswith(".ipynb"):
            changed = rewrite_notebook(path)
        else:
            text = open(path, encoding="utf-8").read()
            new = rewrite(text)
            changed = new != text
            if changed:
                open(path, "w", encoding="utf-8").write(new)
        if changed:
            print("rewrote", path)


if __name__ == "__main__":
    main(sys.argv[1:])
