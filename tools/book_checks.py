"""Checks of the book's notebooks that the tests and ``make book`` share.

What a notebook must look like (the figure and widget conventions, ``CONTRACTS.md`` of issue 19):

* a code cell that draws a figure draws ONE (at most one ``plt.subplots``/``plt.figure`` call:
  none when it calls a helper that draws, e.g. the widget's), calls
  ``plt.show()``, is tagged ``hide-input`` and carries
  ``{"mystnb": {"figure": {"name": "fig-chNN-slug", "caption": "One sentence."}}}``;
  in a back-matter notebook ``appendix_*.ipynb`` the name is ``fig-app-slug``;
* a results table carries the same metadata named ``tbl-chNN-slug`` (``tbl-app-slug``) and
  draws nothing;
* a cell tagged ``widget`` is followed by a code cell tagged ``widget-twin`` that draws a
  captioned static figure (a grid of settings, say); a widget cell that draws also shows its
  default setting once as a plain image, so a page without a kernel shows every figure the
  notebook draws;
* no code line is over 88 characters; no notebook picks matplotlib's backend.

The number of figures a notebook draws is derived from its source (:func:`figure_cells`), never
from a table. :func:`executed_problems` reads an executed notebook and names every figure cell
that produced no image: that is how a kernel whose backend draws nothing (``MPLBACKEND=Agg``) or
a figure that failed to render (a missing font or glyph) fails the build instead of passing
silently.

Command line (``make book`` runs the first on the chapters, with the build's execution cache)::

    python tools/book_checks.py figures notebooks --cache _build/.jupyter_cache
    python tools/book_checks.py figures EXECUTED_NOTEBOOKS_DIR
    python tools/book_checks.py contract|twins|lines notebooks

With ``--cache``, each notebook's outputs are those of its execution in that jupyter-cache (the
one the build rendered); a notebook the cache does not hold is a problem. (MyST-NB's copies in
``_build/jupyter_execute`` are no record: a notebook read from the cache is written there
without its outputs.)
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

MAX_LINE = 88
# A call that opens a new figure. Comments are stripped before matching.
FIGURE_CALL = re.compile(r"\bplt\s*\.\s*(subplots|figure|subplot_mosaic)\s*\(")
SHOW_CALL = re.compile(r"\bplt\s*\.\s*show\s*\(\s*\)")
CLOSE_CALL = re.compile(r"\bplt\s*\.\s*close\s*\(")
BACKEND_CALL = re.compile(r"\b(matplotlib|mpl)\s*\.\s*use\s*\(|%matplotlib\s+(?!inline\b)\w+")
# Warnings matplotlib prints when a figure does not render as written.
RENDER_WARNING = re.compile(r"findfont: Font family .* not found|Glyph \d+ .*missing from"
                            r"|Matplotlib is currently using agg|FigureCanvasAgg is non-interactive")
IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")
WIDGET_CALL = re.compile(r"\binteract(ive)?\s*\(|@interact|\bwidgets\s*\.\s*\w+\s*\(")


def load(nb) -> dict:
    """The notebook's JSON (``nb`` is a path or an already loaded dict)."""
    if isinstance(nb, dict):
        return nb
    return json.loads(pathlib.Path(nb).read_text(encoding="utf-8"))


def joined(text) -> str:
    """A notebook string field: a string or a list of lines."""
    return "".join(text) if isinstance(text, list) else (text or "")


def source(cell) -> str:
    return joined(cell.get("source", ""))


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def code_without_comments(cell, imports: bool = True) -> str:
    """The cell's code with ``#`` comments and IPython magics/shell lines dropped (roughly: a
    ``#`` inside a string also starts a "comment"; figure code does not put one there), and
    without import lines unless ``imports``."""
    out = []
    for line in source(cell).splitlines():
        if line.lstrip().startswith(("%", "!")):
            continue
        if not imports and re.match(r"\s*(import|from)\s", line):
            continue
        out.append(line.split("#", 1)[0])
    return "\n".join(out)


def figure_meta(cell) -> dict | None:
    fig = cell.get("metadata", {}).get("mystnb", {}).get("figure")
    return fig if isinstance(fig, dict) else None


def is_table_cell(cell) -> bool:
    """A code cell that shows a results table: figure metadata named ``tbl-chNN-slug``
    (MyST-NB numbers and captions it like a figure, but its output is a table, not an image)."""
    meta = figure_meta(cell) if cell.get("cell_type") == "code" else None
    return meta is not None and str(meta.get("name", "")).startswith("tbl-")


def is_figure_cell(cell) -> bool:
    """A code cell that draws a static figure: it opens one or carries figure metadata.
    Cells tagged ``widget`` draw inside the widget, not in the page, and do not count;
    nor do results tables (:func:`is_table_cell`)."""
    if cell.get("cell_type") != "code" or "widget" in tags(cell):
        return False
    code = code_without_comments(cell)
    if is_table_cell(cell):
        return bool(FIGURE_CALL.search(code))  # a table cell that draws is a contract error
    return figure_meta(cell) is not None or bool(FIGURE_CALL.search(code))


def figure_cells(nb) -> list[int]:
    """Indices (into the notebook's ``cells``) of the code cells that draw a static figure."""
    return [i for i, c in enumerate(load(nb)["cells"]) if is_figure_cell(c)]


def chapter_prefix(name: str) -> str:
    """``"05b_family.ipynb"`` -> ``"05b"``: the NN of figure names ``fig-chNN-slug``."""
    m = re.match(r"(\d+[a-z]?)_", pathlib.Path(name).name)
    return m.group(1) if m else ""


def label_stem(name: str) -> str:
    """The middle of a notebook's figure and table names: ``"05b_family.ipynb"`` -> ``"ch05b"``
    (``fig-ch05b-slug``); a back-matter notebook, ``"appendix_x.ipynb"``, -> ``"app"``
    (``fig-app-slug``: it is no chapter, so its figures carry no chapter number)."""
    if pathlib.Path(name).name.startswith("appendix_"):
        return "app"
    return f"ch{chapter_prefix(name)}"


def cell_label(name: str, i: int, cell) -> str:
    first = next((ln.strip() for ln in source(cell).splitlines() if ln.strip()), "")
    return f"{name} cell {i} ({first[:50]!r})"


def long_lines(nb, name: str = "notebook") -> list[str]:
    """Every code line over ``MAX_LINE`` characters, named by notebook, cell index and line."""
    out = []
    for i, c in enumerate(load(nb)["cells"]):
        if c.get("cell_type") != "code":
            continue
        for j, line in enumerate(source(c).splitlines(), 1):
            if len(line) > MAX_LINE:
                out.append(f"{name} cell {i} line {j}: {len(line)} > {MAX_LINE} characters")
    return out


def contract_problems(nb, name: str = "notebook") -> list[str]:
    """Every way the notebook's figure cells break the figure contract, one string each."""
    cells = load(nb)["cells"]
    stem = label_stem(name)
    out = []
    for i, c in enumerate(cells):
        if c.get("cell_type") != "code":
            continue
        code = code_without_comments(c)
        where = cell_label(name, i, c)
        if BACKEND_CALL.search(code):
            out.append(f"{where}: picks matplotlib's backend; leave it to the kernel (inline)")
        if is_table_cell(c):
            meta = figure_meta(c)
            if not re.fullmatch(rf"tbl-{re.escape(stem)}-[a-z0-9][a-z0-9-]*", meta["name"]):
                out.append(f"{where}: table name {meta['name']!r} is not tbl-{stem}-slug")
            if not str(meta.get("caption", "")).strip():
                out.append(f"{where}: table has no caption")
            if FIGURE_CALL.search(code):
                out.append(f"{where}: a table cell (tbl-) draws a figure; split the cell")
            continue
        if not is_figure_cell(c):
            continue
        n_calls = len(FIGURE_CALL.findall(code))
        if n_calls > 1:  # none: it draws through a helper (a widget's, say)
            out.append(f"{where}: {n_calls} plt.subplots/plt.figure calls; a figure cell draws "
                       "exactly one figure")
        if not SHOW_CALL.search(code):  # text printed after the figure is fine
            out.append(f"{where}: does not call plt.show()")
        if CLOSE_CALL.search(code):
            out.append(f"{where}: calls plt.close(); the figure must be shown")
        if "hide-input" not in tags(c):
            out.append(f"{where}: not tagged hide-input")
        meta = figure_meta(c)
        if meta is None:
            out.append(f"{where}: no mystnb.figure metadata (name and caption)")
            continue
        fig_name, caption = meta.get("name", ""), str(meta.get("caption", "")).strip()
        if not re.fullmatch(rf"fig-{re.escape(stem)}-[a-z0-9][a-z0-9-]*", str(fig_name)):
            out.append(f"{where}: figure name {fig_name!r} is not fig-{stem}-slug")
        if not caption:
            out.append(f"{where}: figure has no caption")
    return out


def twin_problems(nb, name: str = "notebook") -> list[str]:
    """Every widget cell without a static twin right after it, by notebook and cell index."""
    cells = load(nb)["cells"]
    out = []
    for i, c in enumerate(cells):
        if c.get("cell_type") != "code":
            continue
        code = code_without_comments(c, imports=False)
        if "widget" not in tags(c):
            if WIDGET_CALL.search(code):
                out.append(f"{cell_label(name, i, c)}: builds a widget but is not tagged widget")
            continue
        nxt = next((j for j in range(i + 1, len(cells)) if cells[j].get("cell_type") == "code"),
                   None)
        if nxt is None:
            out.append(f"{cell_label(name, i, c)}: widget cell has no code cell after it, "
                       "so no widget-twin")
        elif "widget-twin" not in tags(cells[nxt]):
            out.append(f"{cell_label(name, i, c)}: the next code cell ({nxt}) is not tagged "
                       "widget-twin")
        elif not is_figure_cell(cells[nxt]):
            out.append(f"{cell_label(name, nxt, cells[nxt])}: widget-twin draws no figure")
    for i, c in enumerate(cells):
        if "widget-twin" in tags(c):
            prev = next((j for j in range(i - 1, -1, -1) if cells[j].get("cell_type") == "code"),
                        None)
            if prev is None or "widget" not in tags(cells[prev]):
                out.append(f"{cell_label(name, i, c)}: tagged widget-twin but does not follow "
                           "a widget cell")
    return out


def executed_problems(nb, name: str = "notebook") -> list[str]:
    """Every figure cell of an EXECUTED notebook that shows no image or warns that its figure
    did not render (a missing font or glyph, a non-interactive backend)."""
    out = []
    for i, c in enumerate(load(nb)["cells"]):
        if c.get("cell_type") != "code":
            continue
        outputs = c.get("outputs", [])
        text = "".join(joined(o.get("text")) for o in outputs if o.get("name") == "stderr")
        m = RENDER_WARNING.search(text)
        if m and (is_figure_cell(c) or "widget" in tags(c)):
            out.append(f"{cell_label(name, i, c)}: the figure did not render as written: "
                       f"{m.group(0)!r}")
        n_img = sum(1 for o in outputs for mime in IMAGE_MIMES if mime in o.get("data", {}))
        if "widget" in tags(c) and FIGURE_CALL.search(code_without_comments(c)) and not n_img:
            out.append(f"{cell_label(name, i, c)}: a widget cell that draws shows no static "
                       "image; draw its default setting once, so the page shows every figure "
                       "the notebook draws (the widget itself needs a kernel)")
        if not is_figure_cell(c):
            continue
        n_img = sum(1 for o in outputs for mime in IMAGE_MIMES if mime in o.get("data", {}))
        if n_img == 0 and WIDGET_CALL.search(code_without_comments(c, imports=False)):
            out.append(f"{cell_label(name, i, c)}: builds a widget, which shows no image "
                       "without a kernel: tag it widget and add a widget-twin cell after it")
        elif n_img == 0:
            out.append(f"{cell_label(name, i, c)}: draws a figure but its output holds no image "
                       "(is the kernel's matplotlib backend non-inline, e.g. MPLBACKEND=Agg?)")
    return out


def cached_execution(nb_path, cache_path) -> tuple[dict | None, str]:
    """The notebook with the outputs of its execution in the jupyter-cache at ``cache_path``,
    or ``(None, why)`` when the cache holds no execution of this notebook's code."""
    import nbformat
    from jupyter_cache import get_cache

    if not pathlib.Path(cache_path, "global.db").is_file():
        return None, f"{pathlib.Path(nb_path).name}: no execution cache at {cache_path}"
    nb = nbformat.read(str(nb_path), as_version=4)
    try:
        _, merged = get_cache(str(cache_path)).merge_match_into_notebook(nb)
    except KeyError:
        return None, (f"{pathlib.Path(nb_path).name}: the execution cache {cache_path} holds no "
                      "run of this notebook's code, so its figures cannot be checked")
    return merged, ""


def main(argv: list[str]) -> int:
    cache = None
    if "--cache" in argv:
        k = argv.index("--cache")
        cache, argv = argv[k + 1:k + 2], argv[:k] + argv[k + 2:]
        cache = cache[0] if cache else None
    if len(argv) != 2 or argv[0] not in ("figures", "contract", "twins", "lines"):
        print(__doc__)
        return 2
    what, folder = argv
    notebooks = sorted(pathlib.Path(folder).glob("*.ipynb"))
    if not notebooks:
        print(f"book_checks: no notebooks in {folder}")
        return 1
    check = {"figures": executed_problems, "contract": contract_problems,
             "twins": twin_problems, "lines": long_lines}[what]
    problems = []
    for nb in notebooks:
        data = nb
        if cache is not None and what == "figures":
            data, why = cached_execution(nb, cache)
            if data is None:
                problems.append(why)
                continue
        problems += check(data, nb.name)
    n_fig = sum(len(figure_cells(nb)) for nb in notebooks)
    for p in problems:
        print(p)
    print(f"book_checks {what}: {len(notebooks)} notebooks, {n_fig} figure cells, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
