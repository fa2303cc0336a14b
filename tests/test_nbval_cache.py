"""tools/nbval_cache.py: the notebook nbval ran is stored in the jupyter-cache with the outputs
that MyST-NB's own execution (jupyter-cache's ``single_nb_execution``, i.e. nbclient) gives,
under the hash the book build looks up; a notebook with a failing cell is not stored."""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Every kind of output the chapters make: streams (with \r), rich display, an execute_result,
# a display updated in place, a widget, an Output widget that captures a print.
CELLS = [
    'import sys\nprint("a", end="")\nprint("\\rb")\nprint("err", file=sys.stderr)',
    'from IPython.display import Markdown, display\ndisplay(Markdown("**x**"))\n1 + 1',
    'h = display("first", display_id=True)\nh.update("second")',
    'import ipywidgets as w\nw.IntSlider(3)',
    'out = w.Output()\nwith out:\n    print("inside")\nout',
    '',
    'x = 40\nx + 2',
]


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# t")] + [nbformat.v4.new_code_cell(c)
                                                         for c in cells]
    return nb


def run_nbval(paths, cache):
    cmd = [sys.executable, "-m", "pytest", "-p", "tools.nbval_cache", "--nbval-lax",
           "--nbval-cache", str(cache), *map(str, paths), "-q", "-p", "no:cacheprovider",
           "-p", "no:xdist", "--rootdir", str(paths[0].parent)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def comparable(nb):
    """Outputs and counts, with widget model ids (random per run) replaced."""
    def norm(s):
        return re.sub(r"[0-9a-f]{32}", "ID", s)

    cells = [(c.execution_count, norm(json.dumps(c.outputs, sort_keys=True)))
             for c in nb.cells if c.cell_type == "code"]
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    states = sorted(norm(json.dumps(w["state"], sort_keys=True))
                    for w in widgets.get("state", {}).values())
    return cells, states, nb.metadata.get("language_info")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """One nbval run of two notebooks: ``t.ipynb`` (every kind of output) and ``bad.ipynb``,
    whose second cell raises."""
    from jupyter_cache import get_cache

    tmp = tmp_path_factory.mktemp("nbval_cache")
    good, bad = tmp / "t.ipynb", tmp / "bad.ipynb"
    nbformat.write(notebook(CELLS), good)
    nbformat.write(notebook(['print("ok")', 'raise ValueError("boom")', 'print("after")']), bad)
    result = run_nbval([good, bad], tmp / "cache")
    assert result.returncode == 1 and "boom" in result.stdout, result.stdout + result.stderr
    assert "1 failed" in result.stdout and "9 passed" in result.stdout, result.stdout
    return good, bad, get_cache(str(tmp / "cache"))


# MyST-NB's execution of a notebook, in a fresh interpreter: run inside a pytest worker that
# had already run other tests, the same call took 61 s instead of 1 (a 60 s wait somewhere in
# the kernel's start or stop), in every full run of the suite.
EXECUTE = """
import sys, nbformat
from jupyter_cache.executors.utils import single_nb_execution
nb = nbformat.read(sys.argv[1], as_version=4)
result = single_nb_execution(nb, cwd=sys.argv[3], timeout=60, allow_errors=False,
                             meta_override=True)
if result.err is not None:
    raise SystemExit(f"execution failed: {result.err!r}")
nbformat.write(nb, sys.argv[2])
"""


def execute_like_myst_nb(path):
    """``path`` executed as MyST-NB executes it (jupyter-cache's ``single_nb_execution``)."""
    out = path.with_name(path.stem + ".reference.ipynb")
    proc = subprocess.run([sys.executable, "-c", EXECUTE, str(path), str(out), str(path.parent)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return nbformat.read(out, as_version=4)


def test_stored_notebook_is_what_myst_nb_would_have_executed(stored):
    path, _, cache = stored
    nb = nbformat.read(path, as_version=4)
    _, merged = cache.merge_match_into_notebook(nb)  # KeyError if the book's lookup misses
    reference = execute_like_myst_nb(path)
    got, want = comparable(merged), comparable(reference)
    assert got[0] == want[0], "cell outputs or execution counts differ from nbclient's"
    assert got[1] == want[1] and got[1], "widget state differs from nbclient's"
    assert got[2] == want[2], "language_info differs"
    # what nbval's own capture drops: the display update and what the Output widget caught
    assert "'second'" in str(merged.cells[3].outputs) and "'first'" not in str(merged.cells[3].outputs)
    assert "inside" in str(merged.metadata["widgets"])
    assert merged.cells[-1].outputs[0]["data"]["text/plain"] == "42"


def test_a_failing_notebook_is_not_stored(stored):
    good, bad, cache = stored
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(bad, as_version=4))
    assert [r.uri for r in cache.list_cache_records()] == [str(good.resolve())]
