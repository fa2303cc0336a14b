"""README.md's "Using gl" section: its Python block runs as written, and its modes table lists
exactly the (mode, impl) pairs gl.gate_loop accepts."""
from __future__ import annotations

import pathlib
import re

import jax
import pytest

import gl
from gl._checks import IMPLS, MODES, check_mode_impl

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
SECTION = README[README.index("## Using `gl`"):]
SECTION = SECTION[:SECTION.index("\n## ", 1)]


def usage_block(gpu: bool) -> str:
    """The first ``python`` block of the section. Without a GPU, a line marked ``# GPU only``
    must get past every check of its arguments and stop only at the missing GPU: it runs
    inside ``try``, and any other error (a shape the kernels refuse, say) fails the test."""
    block = re.search(r"```python\n(.*?)```", SECTION, re.S)[1]
    if gpu:
        return block
    on_cpu = (r"\1pass\n\1try:\n\1    \2\n\1except RuntimeError as e:\n"
              r"\1    assert 'need a GPU' in str(e), e")
    return "\n".join(re.sub(r"^(\s*)(.*# GPU only.*)$", on_cpu, line) for line in block.split("\n"))


def test_usage_block_runs():
    gpu = jax.default_backend() == "gpu"
    src = usage_block(gpu)
    assert "gl.gate_loop" in src and "pass" in src or gpu  # the GPU-only line exists and is skipped
    namespace: dict = {}
    exec(compile(src, "README.md", "exec"), namespace)
    assert namespace["y"].shape == namespace["y_ref"].shape


# the mutation check of the test above (15 s); make test-all runs it
@pytest.mark.slow
def test_usage_block_fails_when_broken():
    """The test can fail: a block with an undefined name raises."""
    with pytest.raises(NameError):
        exec(compile(usage_block(False).replace("y4 - y_ref", "y4 - y_missing"), "README.md", "exec"), {})
    # the GPU-only line with shapes the kernels refuse fails on a CPU too
    with pytest.raises(ValueError, match="powers of two"):
        exec(compile(usage_block(False).replace("d_v = 2, 64, 4, 16, 16", "d_v = 2, 64, 4, 8, 8"),
                     "README.md", "exec"), {})


def test_modes_table_lists_every_valid_pair():
    rows = re.findall(r"^\| `\"(\w+)\"` \| (.*?) \| (.*?) \| (.*?) \|$", SECTION, re.M)
    table = {mode: {"xla": xla.strip() != "–", "pallas": pallas.strip() != "–"} for mode, xla, pallas, _ in rows}
    assert set(table) == set(MODES) - {"auto"}, table
    for mode, impls in table.items():
        for impl in set(IMPLS) - {"auto"}:
            try:
                check_mode_impl(mode, impl)
                valid = True
            except ValueError:
                valid = False
            assert impls[impl] == valid, (mode, impl)
    assert hasattr(gl.operator, "pick")  # the README names gl.operator.pick
