"""Read Nsight Compute text reports (the ``ncu_*`` logs under ``experiments/bench_logs/``)."""
from __future__ import annotations

import re

_NCU_KERNEL = re.compile(r"^  (\S+) \(\d+, \d+, \d+\)x\(\d+, \d+, \d+\), Context", re.M)
_NCU_SCALE = {"ns": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0, "s": 1e3,
              "byte": 1e-6, "Kbyte": 1e-3, "Mbyte": 1.0, "Gbyte": 1e3}  # to ms and MB


def read_ncu(text: str) -> list[tuple[str, dict]]:
    """The kernels of an Nsight Compute text report (``ncu`` with ``--section`` or ``--metrics``),
    in order: ``[(kernel name, {metric: value})]``, times in ms, bytes in MB, other units as given."""
    heads = list(_NCU_KERNEL.finditer(text))
    out = []
    for head, nxt in zip(heads, heads[1:] + [None]):
        metrics = {}
        for line in text[head.end():nxt.start() if nxt else len(text)].splitlines()[1:]:
            if hit := re.fullmatch(r"(.+?)\s{2,}(?:(\S+)\s+)?([\d,.]+)", line.strip()):  # name [unit] value
                metrics[hit[1]] = float(hit[3].replace(",", "")) * _NCU_SCALE.get(hit[2], 1.0)
        out.append((head[1], metrics))
    return out
