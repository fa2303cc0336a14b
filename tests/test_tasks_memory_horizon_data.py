"""gl.tasks.memory_horizon.data: the Memory Horizon set against appendix A's listing (verbatim below)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gl.tasks.memory_horizon import data


def paper_compress_memory(memory_list, max_output_number):
    """Appendix A's listing, verbatim (line breaks of the PDF joined)."""
    accumulated_result = 0
    start_index = 0
    end_index = len(memory_list) - 1
    is_addition_operation = True

    while start_index < end_index:
        if is_addition_operation:
            accumulated_result += memory_list[start_index] * memory_list[end_index]
        else:
            accumulated_result -= memory_list[start_index] * memory_list[end_index]
        is_addition_operation = not is_addition_operation
        start_index += 1
        end_index -= 1

    if start_index == end_index:
        if is_addition_operation:
            accumulated_result += memory_list[start_index]
        else:
            accumulated_result -= memory_list[start_index]

    return accumulated_result % max_output_number


@given(st.lists(st.integers(0, 9), max_size=41), st.integers(1, 60))
def test_compress_memory_matches_listing(memory, m):
    assert data.compress_memory(memory, m) == paper_compress_memory(memory, m)


def test_compress_memory_edge_cases():
    assert data.compress_memory([], 50) == 0
    assert data.compress_memory([3], 50) == 3
    assert data.compress_memory([1, 2, 3], 50) == (1 * 3 - 2) % 50  # odd length: middle subtracted
    assert data.compress_memory([4, 4, 4, 4, 4], 5) == paper_compress_memory([4] * 5, 5)
    with pytest.raises(ValueError, match="max_output"):
        data.compress_memory([1], 0)
    with pytest.raises(TypeError, match="max_output"):
        data.compress_memory([1], 2.5)


@given(st.integers(0, 2**31 - 1), st.integers(0, 4), st.integers(1, 60))
def test_targets_and_spans_match_listing(seed, resets, max_output):
    ds = data.memory_horizon(seed, n_samples=3, length=40, resets_per_sample=resets, max_output=max_output)
    reset = data.reset_id()
    for s in range(3):
        memory = []
        for n in range(40):
            tok = int(ds.inputs[s, n])
            if tok == reset:
                memory = []
            else:
                memory.append(tok)
            assert ds.targets[s, n] == paper_compress_memory(memory, max_output), (s, n)
            assert ds.spans[s, n] == len(memory), (s, n)
        assert (ds.inputs[s] == reset).sum() == resets


def test_shapes_dtypes_ranges_and_seeding():
    ds = data.memory_horizon(7, n_samples=5, length=64)
    for x in ds:
        assert x.shape == (5, 64) and x.dtype == np.int32
    assert ds.inputs.min() >= 0 and ds.inputs.max() <= data.reset_id() == 5
    assert ds.targets.min() >= 0 and ds.targets.max() < 50
    again = data.memory_horizon(7, n_samples=5, length=64)
    other = data.memory_horizon(8, n_samples=5, length=64)
    assert all(np.array_equal(a, b) for a, b in zip(ds, again))
    assert not np.array_equal(ds.inputs, other.inputs)
    np.testing.assert_array_equal(ds.targets[ds.inputs == 5], 0)  # target 0 at a reset
    np.testing.assert_array_equal(ds.spans[ds.inputs == 5], 0)


def test_number_range_offset():
    ds = data.memory_horizon(1, n_samples=2, length=30, number_range=(2, 3), resets_per_sample=0)
    assert set(np.unique(ds.inputs)) <= {0, 1}  # ids are number - lo
    values = ds.inputs[0] + 2
    assert ds.targets[0, -1] == paper_compress_memory(list(values), 50)


def test_table2_size_is_fast():
    data.memory_horizon(0, n_samples=4, length=32)  # compile the Numba kernel
    t = time.perf_counter()
    ds = data.memory_horizon(0)
    assert ds.inputs.shape == (2000, 1024)
    assert time.perf_counter() - t < 5.0  # seconds, on a shared 2-core CPU


def test_split_is_deterministic():
    ds = data.memory_horizon(0, n_samples=20, length=16)
    tr, te = data.split(ds, 0.1)
    assert tr.inputs.shape == (18, 16) and te.inputs.shape == (2, 16)
    np.testing.assert_array_equal(te.inputs, ds.inputs[18:])
    with pytest.raises(ValueError, match="test_fraction"):
        data.split(ds, 1.5)


def test_bad_arguments():
    with pytest.raises(TypeError, match="n_samples"):
        data.memory_horizon(0, n_samples=2.0)
    with pytest.raises(ValueError, match="resets_per_sample"):
        data.memory_horizon(0, n_samples=1, length=2, resets_per_sample=3)
    with pytest.raises(ValueError, match="number_range"):
        data.memory_horizon(0, number_range=(4, 0))
    with pytest.raises(TypeError, match="key_or_seed"):
        data.memory_horizon("zero")


def test_large_numbers_do_not_overflow():
    """Issue 24, item 6: numbers near 2**40 (products near 2**80) used to overflow the int64
    accumulator and give wrong targets; the targets now equal the exact (Python int) listing."""
    lo = 2**40
    ds = data.memory_horizon(3, n_samples=2, length=24, number_range=(lo, lo + 3),
                             resets_per_sample=1, max_output=2**31 - 1)
    reset = data.reset_id((lo, lo + 3))
    for s in range(2):
        memory = []
        for n in range(24):
            tok = int(ds.inputs[s, n])
            memory = [] if tok == reset else memory + [tok + lo]
            assert ds.targets[s, n] == paper_compress_memory(memory, 2**31 - 1), (s, n)


def test_ids_that_do_not_fit_int32_are_an_error():
    """Ids and targets are int32: a range or modulus past 2**31 - 1 is a ValueError, not a
    silent wrap-around (before: inputs wrapped to negative ids)."""
    with pytest.raises(ValueError, match=r"number_range: .*2147483646"):
        data.memory_horizon(0, n_samples=1, length=4, number_range=(0, 2**31))
    with pytest.raises(ValueError, match=r"max_output: .*2147483647"):
        data.memory_horizon(0, n_samples=1, length=4, max_output=2**31)
    with pytest.raises(ValueError, match=r"length: .*2147483647"):
        data.memory_horizon(0, n_samples=1, length=2**31)
