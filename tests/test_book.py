"""The book's structure: every chapter in the table of contents, stored without outputs, with
objectives, prerequisites, at least three exercises each with a solution, a "What we learned"
summary of 3-6 bullets just before the exercises, index entries, and every exercise listed in
the instructors' guide, and every ``gl`` name the prose quotes importable. (Figures, widgets
and code lines: ``test_figures.py``.)

A back-matter notebook (``notebooks/appendix_*.ipynb``, e.g. the study log behind a chapter's
distilled results) is a notebook but no chapter: it must be in the table of contents, in its
unnumbered back matter, stored without outputs, with cell ids and index entries, but it needs
no objectives, exercises or summary, since it teaches no new idea."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import BACK_MATTER, CHAPTER_NOTEBOOKS, CHAPTERS, GL_NAME, NOTEBOOKS, ROOT, resolve_gl


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def cells(nb):
    return json.loads(nb.read_text())["cells"]


def text(nb):
    return "\n".join("".join(c["source"]) for c in cells(nb))


def test_every_notebook_is_in_the_toc():
    listed = set(toc_files())
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"
    for f in listed:
        assert list(ROOT.glob(f + ".*")), f"_toc.yml lists {f}, which does not exist"


def test_every_notebook_is_a_chapter_or_back_matter():
    """A notebook named otherwise would escape both the chapter and the notebook checks."""
    stray = sorted(set(NOTEBOOKS) - set(CHAPTER_NOTEBOOKS + BACK_MATTER))
    assert not stray, f"name a chapter NN_name.ipynb, back matter appendix_name.ipynb: {stray}"


def test_back_matter_notebooks_are_unnumbered_back_matter():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    back = next(p for p in toc["parts"] if p["caption"] == "Back matter")
    assert back.get("numbered") is False, "the back matter must not be numbered"
    listed = [c["file"] for c in back["chapters"]]
    for nb in BACK_MATTER:
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in the back matter"
        exercises = re.findall(r"```\{exercise\}", text(nb))
        assert not exercises, f"{nb.name}: back matter has no exercises; they belong to a chapter"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(nb):
    for i, c in enumerate(cells(nb)):
        if c["cell_type"] == "code":
            assert not c.get("outputs") and c.get("execution_count") is None, \
                f"{nb.name}: cell {i} has outputs; run `jupyter nbconvert --clear-output --inplace`"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_a_unique_id(nb):
    """nbformat 4.5 requires cell ids (a missing one is a warning today, an error later)."""
    ids = [c.get("id") for c in cells(nb)]
    missing = [i for i, c in enumerate(ids) if not c]
    assert not missing, f"{nb.name}: cells {missing} have no id; add them with nbformat.validator.normalize"
    assert len(set(ids)) == len(ids), f"{nb.name}: duplicate cell ids"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_shape(nb):
    t = text(nb)
    assert re.search(r"learning objectives", t, re.I), f"{nb.name}: no learning objectives"
    assert re.search(r"prerequisites", t, re.I), f"{nb.name}: no prerequisites"
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", t)
    assert len(exercises) >= 3, f"{nb.name}: {len(exercises)} exercises, expected at least 3"
    solutions = set(re.findall(r"```\{solution(?:-start)?\} (\S+)", t))
    assert set(exercises) <= solutions, f"{nb.name}: exercises without a solution: {set(exercises) - solutions}"
    assert "gl.exercises.check_" in t or "exercises import" in t, f"{nb.name}: no coding exercise with a checker"
    assert "{cite}" in t or "{cite:" in t, f"{nb.name}: cites nothing"
    assert re.search(r"\bassert\b|assert_allclose", t), f"{nb.name}: no visible check"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_what_we_learned(nb):
    md = [(i, "".join(c["source"])) for i, c in enumerate(cells(nb))
          if c["cell_type"] == "markdown"]
    learned = [(i, src) for i, src in md if re.search(r"^## What we learned\s*$", src, re.M)]
    assert len(learned) == 1, f"{nb.name}: {len(learned)} '## What we learned' sections, want 1"
    i, src = learned[0]
    section = re.split(r"^## What we learned\s*$", src, flags=re.M)[1]
    section = re.split(r"^#{1,2} ", section, flags=re.M)[0]
    bullets = re.findall(r"^[-*] ", section, re.M)
    assert 3 <= len(bullets) <= 6, f"{nb.name} cell {i}: {len(bullets)} bullets, want 3-6"
    exercises = [j for j, s in md if re.search(r"^## Exercises\s*$", s, re.M)]
    assert exercises and exercises[0] >= i, \
        f"{nb.name}: '## What we learned' (cell {i}) must come before '## Exercises'"
    between = [j for j, s in md if i < j < exercises[0] and re.search(r"^## ", s, re.M)]
    assert not between, f"{nb.name}: sections between the summary and the exercises: {between}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_has_index_entries(nb):
    assert re.search(r"\{index\}", text(nb)), \
        f"{nb.name}: no {{index}} entry, so genindex does not list its key ideas"


def test_instructors_guide_lists_every_exercise():
    guide = (ROOT / "book" / "instructors.md").read_text()
    for nb in CHAPTERS:
        for label in re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text(nb)):
            assert f"{{ref}}`{label}`" in guide, f"book/instructors.md does not list {label} ({nb.name})"


def test_instructors_guide_names_only_exercises_that_exist():
    """An exercise deleted from a chapter (ex-ch09-segments once was, by an edit of the
    cell around it) must not stay in the guide: the guide's labels are the chapters'."""
    guide = (ROOT / "book" / "instructors.md").read_text()
    labels = {label for nb in CHAPTERS
              for label in re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text(nb))}
    named = set(re.findall(r"\b(ex-ch[0-9]+-[a-z0-9]+(?:-[a-z0-9]+)*)", guide))
    assert named <= labels, f"book/instructors.md names missing exercises: {sorted(named - labels)}"


def test_instructors_exercise_list_is_the_chapters():
    """The guide's list of exercises (titles, order, which have a checker) is what
    ``tools/exercise_list.py`` prints from the chapters: a renamed exercise or a new checker
    cannot leave the list stale."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "exercise_list.py")],
                         capture_output=True, text=True, check=True).stdout.strip()
    guide = (ROOT / "book" / "instructors.md").read_text()
    first = out.splitlines()[0]
    assert first in guide, f"book/instructors.md lacks the list's first line {first!r}"
    assert guide[guide.index(first):].strip() == out, (
        "book/instructors.md's exercise list differs from python tools/exercise_list.py: "
        "paste the tool's output under 'The exercises'")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_open_and_close_in_order(nb):
    """Every {solution-start} of an exercise is closed by one {solution-end} before the next
    exercise or solution (sphinx-exercise otherwise fails the whole build)."""
    marks = re.findall(r"```\{(exercise|solution-start|solution-end)\}[^\n]*\n(?::label: (\S+))?",
                       text(nb))
    state, last = "closed", None
    for kind, label in marks:
        if kind == "exercise":
            assert state == "closed", f"{nb.name}: exercise {label} inside an open solution"
            last = label
        elif kind == "solution-start":
            assert state == "closed", f"{nb.name}: a solution opens inside another (after {last})"
            state = "open"
        else:
            assert state == "open", f"{nb.name}: a solution-end with no open solution (after {last})"
            state = "closed"
    assert state == "closed", f"{nb.name}: the last solution is never closed"


def test_requirements_keep_jupyter_book_1():
    req = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^jupyter-book>=1[^\n]*<2", req, re.M), "jupyter-book must stay <2"


def prose_words(nb) -> int:
    """Words of a chapter's prose: its markdown before ``## Exercises``, without fenced blocks
    (``{index}``, directives) and math (``$…$``, ``$$…$$``)."""
    md = "\n".join("".join(c["source"]) for c in cells(nb) if c["cell_type"] == "markdown")
    md = md.split("\n## Exercises")[0]
    md = re.sub(r"```.*?```", " ", md, flags=re.S)
    md = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", md, flags=re.S)
    return len(re.findall(r"[A-Za-z0-9][\w'’,.\-]*", md))


def test_chapter_9_teaches_rather_than_logs():
    """Issue 20 capped the speed chapter at about 2,500 words of prose; its lab history lives
    in ``experiments/NOTES.md``. (2,566 when it was cut, 2026-12-07.)"""
    nb = ROOT / "notebooks" / "09_making_it_fast.ipynb"
    assert 2000 < prose_words(nb) <= 2700, prose_words(nb)


def test_every_gl_name_in_the_prose_exists():
    """Every ``gl`` name the chapters' prose, the back matter and the README quote imports:
    chapter 7 once sent readers to ``gl.train.make_optimizer`` after the function had moved to
    ``gl.tasks.memory_horizon.train`` (mutation-checked on that version)."""
    pages = [(nb.name, "".join(c["source"])) for nb in NOTEBOOKS for c in cells(nb)
             if c["cell_type"] == "markdown"]
    pages += [(md.name, md.read_text()) for md in [ROOT / "README.md",
                                                   *sorted((ROOT / "book").glob("*.md"))]]
    missing, seen = set(), 0
    for where, page in pages:
        for m in GL_NAME.finditer(page):
            seen += 1
            try:
                resolve_gl(m.group(1))
            except (AttributeError, ImportError):
                missing.add(f"{where}: {m.group(1)}")
    assert seen > 100, f"only {seen} gl names found: is the pattern still right?"
    assert not missing, "names that do not exist in gl: " + "; ".join(sorted(missing))
