"""Make the student edition's source tree: the book with every exercise solution removed.

Usage: python tools/student_edition.py OUT_DIR
Copies _config.yml, _toc.yml, _static/, book/ and notebooks/ into OUT_DIR, cutting from each
notebook everything between ``{solution-start}`` and ``{solution-end}`` (markdown and code
cells alike) and every ``{solution}`` block. ``make book-student`` then builds OUT_DIR, which also checks
that every chapter still runs without its solution cells; OUT_DIR/notebooks holds the
notebooks to hand out. (sphinx-exercise's ``hide_solutions`` option cannot do this: it drops
the gated start marker but leaves the solution's code cells and end marker in place.)
"""
from __future__ import annotations

import json
import pathlib
import re
import shutil
import sys

import yaml

START = re.compile(r"^(`{3,})\{solution-start\}[^\n]*\n(?::[^\n]*\n)*\1[ \t]*(?:\n|$)", re.M)
END = re.compile(r"^(`{3,})\{solution-end\}[^\n]*\n\1[ \t]*(?:\n|$)", re.M)
BLOCK = re.compile(r"^(`{3,})\{solution\}.*?^\1[ \t]*(?:\n|$)", re.M | re.S)


def strip_solutions(cells):
    """Return the cells without solutions; raise ValueError on an unterminated solution."""
    out, inside = [], False
    for cell in cells:
        src = "".join(cell["source"])
        if cell["cell_type"] != "markdown":
            if not inside:
                out.append(cell)
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
    return out


def main(out: pathlib.Path) -> None:
    root = pathlib.Path(__file__).resolve().parents[1]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["title"] += " (student edition)"
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(root / "_toc.yml", out / "_toc.yml")
    shutil.copytree(root / "book", out / "book")
    if (root / "_static").is_dir():  # the book's CSS (Jupyter Book adds _static/*.css itself)
        shutil.copytree(root / "_static", out / "_static")
    (out / "notebooks").mkdir()
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        data = json.loads(nb.read_text())
        try:
            data["cells"] = strip_solutions(data["cells"])
        except ValueError as e:
            raise SystemExit(f"{nb.name}: {e}")
        (out / "notebooks" / nb.name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote the student edition's sources to {out}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]).resolve())
