"""A pytest plugin: nbval's run of each notebook also fills the book's execution cache.

Usage (what ``make notebooks`` does)::

    python -m pytest -p tools.nbval_cache --nbval-lax notebooks --nbval-cache _build/.jupyter_cache

``make test`` ran every chapter twice: once under nbval, then again when ``jupyter-book build``
executed it into its jupyter-cache. With this plugin nbval's run is the one the book shows.
While nbval runs a notebook, every kernel message of a cell goes also through nbclient's own
message handling (:meth:`nbclient.NotebookClient.process_message`, the code the book's
execution uses), which builds the cell's outputs, the widget state and the display updates
as MyST-NB's execution does (``tests/test_nbval_cache.py`` compares the two on every kind of
output the chapters make). When every cell of the notebook passed, the notebook
with those outputs is stored in the jupyter-cache under the hash MyST-NB looks up, and the
book build renders it without running it again. A notebook with a failed, skipped or
timed-out cell is not stored, so the book build executes it itself (and fails as strictly).

Two details follow nbclient rather than nbval: cells run with ``store_history=True`` (as in
Jupyter and nbclient, so execution counts and ``Out`` match), and the notebook's
``language_info`` comes from the kernel's ``kernel_info`` reply.
"""
from __future__ import annotations

import contextlib
import fcntl
import pathlib
import time

import nbformat
import pytest


def pytest_addoption(parser):
    parser.addoption("--nbval-cache", metavar="DIR", default=None,
                     help="store each notebook that passed nbval, with its outputs, in the "
                          "jupyter-cache DIR (the book build's execution cache)")


class _Recorder:
    """The outputs of one notebook's nbval run, as nbclient would have recorded them."""

    def __init__(self, nbfile):
        from nbclient import NotebookClient

        self.path = pathlib.Path(str(nbfile.fspath))
        self.nb = nbformat.read(str(self.path), as_version=4)
        self.code = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        self.kernel = nbfile.kernel
        self.client = NotebookClient(self.nb, km=self.kernel.km, record_timing=False)
        self.client.kc = self.kernel.kc  # nbclient's Output-widget mimic talks to the kernel
        self.client.reset_execution_trackers()
        self.ok, self.ran, self.count = True, 0, 0
        self.start = time.perf_counter()
        self.cell = self.index = self.msg_id = None
        self.nb.metadata["language_info"] = self._language_info()
        orig_get = nbfile.get_kernel_message

        def get_kernel_message(*args, **kwargs):
            msg = orig_get(*args, **kwargs)
            if self.msg_id is not None and msg["parent_header"].get("msg_id") == self.msg_id:
                self._process(msg)
            return msg

        def execute_cell_input(cell_input, allow_stdin=None):
            self.msg_id = self.kernel.kc.execute(
                cell_input, store_history=bool(cell_input.strip()), allow_stdin=allow_stdin,
                stop_on_error=False)
            return self.msg_id

        nbfile.get_kernel_message = get_kernel_message
        self.kernel.execute_cell_input = execute_cell_input

    def _language_info(self):
        kc = self.kernel.kc
        msg_id = kc.kernel_info()
        while True:
            reply = kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]["language_info"]

    def start_cell(self, cell_num):
        self.index = self.code[cell_num]
        self.cell = self.nb.cells[self.index]
        self.cell.outputs = []
        self.client.clear_before_next_output = False
        self.msg_id = None

    def _process(self, msg):
        from nbclient.exceptions import CellExecutionComplete

        with contextlib.suppress(CellExecutionComplete):
            self.client.process_message(msg, self.cell, self.index)

    def end_cell(self, passed):
        self.msg_id = None
        if not passed:
            self.ok = False
            return
        self.ran += 1
        if self.cell.source.strip():  # nbclient skips empty cells: no count, no outputs
            self.count += 1
            self.cell.execution_count = self.count
        else:
            self.cell.outputs, self.cell.execution_count = [], None

    def store(self, cache_dir):
        """Put the executed notebook in the jupyter-cache, as MyST-NB's cache mode does."""
        if not (self.ok and self.ran == len(self.code)):
            return
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        self.client.set_widgets_metadata()
        cache_dir = pathlib.Path(cache_dir).resolve()
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir.parent / (cache_dir.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers write one at a time
            cache = get_cache(str(cache_dir))
            uri = cache.add_nb_to_project(str(self.path)).uri
            cache.cache_notebook_bundle(
                CacheBundleIn(self.nb, uri,
                              data={"execution_seconds": time.perf_counter() - self.start,
                                    "executed_by": "nbval"}),
                check_validity=False, overwrite=True)


def _is_nbval_cell(item):
    from nbval.plugin import IPyNbCell

    return isinstance(item, IPyNbCell)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield
    if item.config.getoption("nbval_cache") and _is_nbval_cell(item):
        nbfile = item.parent
        if getattr(nbfile, "_cache_recorder", None) is None and nbfile.kernel is not None:
            nbfile._cache_recorder = _Recorder(nbfile)
        rec = getattr(nbfile, "_cache_recorder", None)
        if rec is not None:
            rec.start_cell(item.cell_num)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rec = getattr(getattr(item, "parent", None), "_cache_recorder", None)
    if rec is None or not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    if report.when == "call":
        rec.end_cell(report.passed)
    elif not report.passed:  # a failed setup (kernel start) or a skip
        rec.ok = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    rec = getattr(getattr(item, "parent", None), "_cache_recorder", None)
    if rec is not None and (nextitem is None or nextitem.parent is not item.parent):
        rec.store(item.config.getoption("nbval_cache"))
        item.parent._cache_recorder = None
    yield
