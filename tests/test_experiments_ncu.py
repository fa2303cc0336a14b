"""experiments/ncu.py: the Nsight Compute report reader of the kernel research."""
from __future__ import annotations

import pathlib

import pytest

from experiments.ncu import read_ncu


def test_read_ncu():
    """Both report forms (``--section`` tables and ``--metrics`` lists), kernels in order, units
    to ms and MB, thousands separators; non-kernel lines (warnings, ``==PROF==``) ignored."""
    text = """==PROF== Profiling "gl_a": 0%....50%....100% - 3 passes
== {"cfg": 1}
  gl_a (8, 1, 64)x(64, 1, 1), Context 1, Stream 14, Device 0, CC 9.0
    Warning: Data collection happened without fixed GPU frequencies. Profiling results may be inconsistent.
    dram__bytes_read.sum                                     Gbyte         1.21
    gpu__time_duration.sum                                      us       515.65
    Elapsed Cycles                cycle    1,124,088
    Grid Size                                 384
  wrapped_slice (4, 1, 1)x(128, 1, 1), Context 1, Stream 14, Device 0, CC 9.0
    dram__bytes_read.sum             Kbyte         5.63
    gpu__time_duration.sum              ms         1.02
"""
    (a, ma), (b, mb) = read_ncu(text)
    assert (a, b) == ("gl_a", "wrapped_slice")
    assert ma == {"dram__bytes_read.sum": 1210.0, "gpu__time_duration.sum": pytest.approx(0.51565),
                  "Elapsed Cycles": 1124088.0, "Grid Size": 384.0}
    assert mb == {"dram__bytes_read.sum": pytest.approx(0.00563), "gpu__time_duration.sum": 1.02}
    logs = pathlib.Path(__file__).parent.parent / "experiments" / "bench_logs"
    shipped = dict(read_ncu((logs / "ncu_mh_re_y_h100.txt").read_text()))
    assert shipped["gl_mh_summary"]["Grid Size"] == 384 and shipped["gl_mh_outputs"]["Registers Per Thread"] == 255
