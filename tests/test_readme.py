"""README.md's "Using gl" section: its Python block runs as written, and its modes table lists
exactly the (mode, impl) pairs gl.gate_loop accepts."""
from __future__ import annotations

import pathlib
import re
import textwrap

import jax
import pytest

import gl
from gl.operator import IMPLS, MODES, pick

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
SECTION = README[README.index("## Using `gl`"):]
SECTION = SECTION[:SECTION.index("\n## ", 1)]


GPU_GUARD = 'if jax.default_backend() == "gpu":'


def usage_block() -> str:
    """The first ``python`` block of the section, as written."""
    return re.search(r"```python\n(.*?)```", SECTION, re.S)[1]


def run_usage(block: str, gpu: bool) -> dict:
    """Run ``block`` as written. Without a GPU, the part under ``GPU_GUARD`` (the block's end)
    must still get past every check of its arguments and stop only at the missing GPU: it runs
    on its own inside ``try``, and any other error (a shape the kernels refuse, say) fails."""
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    if not gpu:
        guarded = textwrap.dedent(block.partition(GPU_GUARD)[2].split("\n", 1)[1])
        with pytest.raises(RuntimeError, match="need a GPU"):
            exec(compile(guarded, "README.md (the GPU-only lines)", "exec"), namespace)
    return namespace


def test_usage_block_runs():
    """The block runs as a user copies it, on a CPU-only install too (its Pallas line used to
    raise RuntimeError there): the GPU-only lines are under a backend check that ends it."""
    block = usage_block()
    head, guard, tail = block.partition(GPU_GUARD)
    assert guard and "impl=\"pallas\"" in tail and "impl=\"pallas\"" not in head
    assert all(line.startswith("    ") for line in tail.split("\n")[1:] if line.strip())
    namespace = run_usage(block, jax.default_backend() == "gpu")
    assert namespace["y"].shape == namespace["y_ref"].shape


# the mutation check of the test above (15 s); make test-all runs it
@pytest.mark.slow
def test_usage_block_fails_when_broken():
    """The test can fail: a block with an undefined name raises."""
    with pytest.raises(NameError):
        run_usage(usage_block().replace("y4 - y_ref", "y4 - y_missing"), False)
    # the GPU-only line with shapes the kernels refuse fails on a CPU too
    with pytest.raises(ValueError, match="powers of two"):
        run_usage(usage_block().replace("d_v = 2, 64, 4, 16, 16", "d_v = 2, 64, 4, 8, 8"), False)


def test_modes_table_lists_every_valid_pair():
    rows = re.findall(r"^\| `\"(\w+)\"` \| (.*?) \| (.*?) \| (.*?) \|$", SECTION, re.M)
    table = {mode: {"xla": xla.strip() != "–", "pallas": pallas.strip() != "–"} for mode, xla, pallas, _ in rows}
    assert set(table) == set(MODES) - {"auto"}, table
    for mode, impls in table.items():
        for impl in set(IMPLS) - {"auto"}:
            try:  # pick checks the pair before anything else (a refused pair: ValueError)
                pick("cpu", (1, 1, 1), (1, 1, 1), "float32", has_pallas=False, mode=mode, impl=impl)
                valid = True
            except ValueError:
                valid = False
            assert impls[impl] == valid, (mode, impl)
    assert hasattr(gl.operator, "pick")  # the README names gl.operator.pick


def test_trained_model_block_runs(capsys):
    """The section's second block (load a shipped language model and sample) runs as written
    and prints the command the model was trained with, then 200 characters after the prompt."""
    blocks = re.findall(r"```python\n(.*?)```", SECTION, re.S)
    assert len(blocks) == 2 and "load_checkpoint" in blocks[1]
    exec(compile(blocks[1], "README.md (second block)", "exec"), {})
    out = capsys.readouterr().out
    command, sample = out.split("\n", 1)
    assert command.startswith("python -m gl.train char-lm --model gateloop")
    assert sample.startswith("ROMEO:\n") and len(sample) == len("ROMEO:\n") + 200 + 1
