"""tools/student_edition.py: solutions are cut, and a cell that needs a solution's name is caught."""
from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
import student_edition as se  # noqa: E402


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [],
            "execution_count": None}


START = "```{solution-start} ex-x\n:class: dropdown\n```\n"
END = "```{solution-end}\n```\n"


def test_solution_cells_are_cut():
    cells = [md("# T"), code("x = 1"), md("Exercise.\n\n" + START + "Hint."),
             code("answer = x + 1"), md(END + "After."), code("print(x)")]
    out = se.strip_solutions(cells)
    sources = ["".join(c["source"]) for c in out]
    assert sources == ["# T", "x = 1", "Exercise.\n\n", "After.", "print(x)"], sources
    assert all("_removed" not in c for c in cells)


def test_unterminated_solution_is_an_error():
    with pytest.raises(ValueError, match="no {solution-end}"):
        se.strip_solutions([md(START), code("y = 2")])


def test_a_cell_that_needs_a_solution_name_is_caught():
    cells = [code("import numpy as np"), md(START), code("def f(x):\n    return np.sin(x)"),
             md(END), code("print(f(1.0), np.pi, len([]))")]
    with pytest.raises(ValueError, match=r"cell 4 uses 'f', defined only in the solution cell 2"):
        se.strip_solutions(cells)


def test_names_defined_again_outside_the_solution_are_fine():
    cells = [md(START), code("f = 1\n%timeit f"), md(END), code("f = 2\nprint(f)")]
    assert len(se.strip_solutions(cells)) == 1


def test_handout_shows_exercises_as_markdown_with_an_answer_cell():
    ex = ("Text.\n\n```{exercise} Write it\n:label: ex-ch99-write\nWrite `f`. Check it with "
          "`gl.exercises.check_combine(f)`.\n```\n")
    out = se.handout_cells([dict(md(ex), id="c1"), code("x = 1")])
    sources = ["".join(c["source"]) for c in out]
    assert "{exercise}" not in sources[0] and "**Exercise: Write it** (`ex-ch99-write`)" in sources[0]
    assert out[1]["cell_type"] == "code" and out[1]["id"] == "c1-answer"
    assert "gl.exercises.check_combine(f)" in sources[1] and sources[2] == "x = 1"
