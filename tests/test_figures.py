"""The notebooks' figures, widgets and code lines follow the book's conventions
(``tools/book_checks.py``), and the figure check catches a kernel that draws nothing.

``test_agg_kernel_is_caught`` is the mutation check of issue 19 kept in the suite: the same
one-figure notebook is executed by a Jupyter kernel twice, once with the inline backend (the
kernel's default) and once with ``MPLBACKEND=Agg`` forced back on, and the check that
``make book`` runs on the executed chapters must pass the first and name the cell in the second.
"""
from __future__ import annotations

import json
import re
import sys

import pytest

from conftest import NOTEBOOKS, ROOT  # every notebook: the chapters and the back matter

sys.path.insert(0, str(ROOT / "tools"))
import book_checks  # noqa: E402


def code(src, tags=(), figure=None):
    meta = {"tags": list(tags)}
    if figure:
        meta["mystnb"] = {"figure": figure}
    return {"cell_type": "code", "metadata": meta, "source": src, "outputs": [],
            "execution_count": None}


def md(src):
    return {"cell_type": "markdown", "metadata": {}, "source": src}


FIG = "fig, ax = plt.subplots()\nax.plot([0, 1], [0, 1])\nplt.show()\n"
META = {"name": "fig-ch03-line", "caption": "A line."}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit(nb):
    problems = book_checks.long_lines(nb, nb.name)
    assert not problems, f"{len(problems)} code lines over 88 characters:\n" + \
        "\n".join(problems[:20])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_figure_cells_follow_the_contract(nb):
    problems = book_checks.contract_problems(nb, nb.name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_widgets_have_static_twins(nb):
    problems = book_checks.twin_problems(nb, nb.name)
    assert not problems, "\n".join(problems)


def test_figure_names_are_unique():
    seen: dict[str, str] = {}
    for nb in NOTEBOOKS:
        for i, c in enumerate(book_checks.load(nb)["cells"]):
            name = (book_checks.figure_meta(c) or {}).get("name")
            if name:
                assert name not in seen, f"{nb.name} cell {i}: {name} is also in {seen[name]}"
                seen[name] = f"{nb.name} cell {i}"


def test_figure_cells_are_derived_from_the_source():
    nb = {"cells": [md("plt.figure() in prose"), code("import matplotlib.pyplot as plt"),
                    code(FIG), code("# plt.subplots() in a comment"),
                    code("show(x)", figure=META), code(FIG, tags=["widget"]),
                    code("fig = plt.figure(figsize=(3, 2))\nplt.show()")]}
    assert book_checks.figure_cells(nb) == [2, 4, 6]


def test_the_contract_check_names_cell_and_fault():
    nb = {"cells": [code(FIG, tags=["hide-input"], figure=META),
                    code(FIG),
                    code(FIG + FIG, tags=["hide-input"], figure=META),
                    code(FIG.replace("plt.show()", "plt.close(fig)"), ["hide-input"], META),
                    code(FIG, ["hide-input"], {"name": "fig-ch3-x", "caption": ""}),
                    code("import matplotlib\nmatplotlib.use('Agg')"),
                    code("show(rows)", ["hide-input"], {"name": "tbl-ch03-x", "caption": ""}),
                    code(FIG, ["hide-input"], {"name": "tbl-ch03-y", "caption": "A table."})]}
    text = "\n".join(book_checks.contract_problems(nb, "03_x.ipynb"))
    assert "cell 0 " not in text, text
    assert re.search(r"03_x.ipynb cell 1 .*not tagged hide-input", text), text
    assert re.search(r"cell 1 .*no mystnb.figure metadata", text), text
    assert re.search(r"cell 2 .*2 plt.subplots/plt.figure calls", text), text
    assert re.search(r"cell 3 .*does not call plt.show", text), text
    assert re.search(r"cell 3 .*calls plt.close", text), text
    assert re.search(r"cell 4 .*'fig-ch3-x' is not fig-ch03-slug", text), text
    assert re.search(r"cell 4 .*no caption", text), text
    assert re.search(r"cell 5 .*picks matplotlib's backend", text), text
    assert re.search(r"cell 6 .*table has no caption", text), text
    assert re.search(r"cell 7 .*table cell \(tbl-\) draws a figure", text), text


def test_back_matter_figures_carry_no_chapter_number():
    nb = {"cells": [code(FIG, ["hide-input"], {"name": "fig-app-line", "caption": "A line."}),
                    code(FIG, ["hide-input"], META),
                    code("show(rows)", [], {"name": "tbl-app-runs", "caption": "Runs."})]}
    problems = book_checks.contract_problems(nb, "appendix_x.ipynb")
    assert len(problems) == 1 and "cell 1 " in problems[0], problems
    assert "'fig-ch03-line' is not fig-app-slug" in problems[0], problems
    assert book_checks.contract_problems(nb, "03_x.ipynb")[0].endswith(
        "'fig-app-line' is not fig-ch03-slug"), "a chapter's figure needs its number"


def test_a_widget_without_twin_is_named():
    widget = code("interact(f, x=(0, 1))", tags=["widget"])
    twin = code(FIG, tags=["hide-input", "widget-twin"], figure=META)
    ok = {"cells": [widget, md("text"), twin]}
    assert book_checks.twin_problems(ok, "nb") == []
    missing = {"cells": [md("a"), widget, code("x = 1")]}
    assert book_checks.twin_problems(missing, "nb") == [
        "nb cell 1 ('interact(f, x=(0, 1))'): the next code cell (2) is not tagged widget-twin"]
    last = {"cells": [widget]}
    assert "no code cell after it" in book_checks.twin_problems(last, "nb")[0]
    untagged = {"cells": [code("from ipywidgets import interact\ninteract(f, x=(0, 1))")]}
    assert "not tagged widget" in book_checks.twin_problems(untagged, "nb")[0]
    assert book_checks.twin_problems({"cells": [code("from ipywidgets import interact")]},
                                     "nb") == []
    stray = {"cells": [code("x = 1"), twin]}
    assert "does not follow a widget cell" in book_checks.twin_problems(stray, "nb")[0]


def test_long_lines_are_named():
    nb = {"cells": [code("x = 1\n" + "y" * 88 + "\n" + "z" * 89), md("w" * 200)]}
    assert book_checks.long_lines(nb, "nb") == ["nb cell 0 line 3: 89 > 88 characters"]


def test_render_warnings_fail_the_figure():
    cell = code(FIG, ["hide-input"], META)
    cell["outputs"] = [
        {"output_type": "stream", "name": "stderr",
         "text": "findfont: Font family 'Nope' not found.\n"},
        {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"},
         "metadata": {}}]
    problems = book_checks.executed_problems({"cells": [cell]}, "nb")
    assert len(problems) == 1 and "nb cell 0" in problems[0] and "findfont" in problems[0]
    cell["outputs"] = cell["outputs"][1:]
    assert book_checks.executed_problems({"cells": [cell]}, "nb") == []


def test_a_drawing_widget_cell_without_its_static_image_is_named():
    cell = code("def f(x):\n    fig, ax = plt.subplots()\n    plt.show()\n\n\n"
                "f(0)\ninteract(f, x=(0, 1))", tags=["widget"])
    cell["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "w"}}]
    problems = book_checks.executed_problems({"cells": [md("x"), cell]}, "nb")
    assert len(problems) == 1 and problems[0].startswith("nb cell 1 ") and \
        "no static image" in problems[0], problems
    cell["outputs"].insert(0, {"output_type": "display_data", "metadata": {},
                               "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}})
    assert book_checks.executed_problems({"cells": [cell]}, "nb") == []


def execute(nb: dict, monkeypatch, backend: str | None) -> dict:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if backend is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    else:
        monkeypatch.setenv("MPLBACKEND", backend)
    node = nbformat.from_dict({"cells": nb["cells"], "metadata": {}, "nbformat": 4,
                               "nbformat_minor": 5})
    for c in node.cells:
        c.setdefault("id", f"c{id(c)}")
    nbclient.NotebookClient(node, timeout=120, kernel_name="python3").execute()
    return node


def test_agg_kernel_is_caught(monkeypatch):
    """Mutation check: a kernel started with MPLBACKEND=Agg draws no image, and the check
    that ``make book`` runs says which cell; the same notebook on the inline backend passes."""
    nb = {"cells": [code("import matplotlib.pyplot as plt"),
                    code(FIG, ["hide-input"], META)]}
    inline = execute(nb, monkeypatch, None)
    assert book_checks.executed_problems(inline, "demo.ipynb") == []
    agg = execute(nb, monkeypatch, "Agg")
    problems = book_checks.executed_problems(agg, "demo.ipynb")
    assert len(problems) == 1 and problems[0].startswith("demo.ipynb cell 1 "), problems
    assert "no image" in problems[0], problems


def test_the_command_line_fails_on_a_figure_without_image(tmp_path, capsys):
    cell = code(FIG, ["hide-input"], META)
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "03_x.ipynb").write_text(json.dumps(nb))
    assert book_checks.main(["figures", str(tmp_path)]) == 1
    assert "03_x.ipynb cell 0 " in capsys.readouterr().out
    cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                        "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}]
    (tmp_path / "03_x.ipynb").write_text(json.dumps(nb))
    assert book_checks.main(["figures", str(tmp_path)]) == 0
    assert book_checks.main(["figures", str(tmp_path), "--cache", str(tmp_path / "none")]) == 1
    assert "no execution cache" in capsys.readouterr().out


def test_the_build_checks_figures_and_leaves_the_backend_alone():
    makefile = (ROOT / "Makefile").read_text()
    assert not re.search(r"MPLBACKEND\s*[:?+]?=", makefile), \
        "the Makefile must not pick matplotlib's backend for the kernels"
    book = re.search(r"^book:.*?(?=^\S)", makefile, re.M | re.S).group(0)
    assert "tools/book_checks.py figures notebooks --cache _build/.jupyter_cache" in book, book
    student = re.search(r"^book-student:.*?(?=^\S)", makefile, re.M | re.S).group(0)
    assert "tools/book_checks.py figures" in student, student


def test_every_figure_and_table_is_cited():
    """Each named figure or table (``mystnb.figure.name``) is referred to from the text of the
    book (``{numref}`` or ``{ref}``, in any notebook's markdown or a page of ``book/``): a
    figure the prose never points at is one a reader may not know to look at."""
    names, text = {}, ""
    for nb in NOTEBOOKS:
        for cell in json.loads(nb.read_text())["cells"]:
            name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
            if name:
                names[name] = nb.name
            if cell["cell_type"] == "markdown":
                text += "".join(cell["source"])
    text += "".join(p.read_text() for p in (ROOT / "book").glob("*.md"))
    cited = set(re.findall(r"\{(?:num)?ref\}`(?:[^`<]*<)?([\w-]+)>?`", text))
    assert len(names) > 40
    assert {n: nb for n, nb in names.items() if n not in cited} == {}
