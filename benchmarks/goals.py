"""The performance goals of issue 5 as a pass/fail table, from a ``python -m gl.bench`` run.

``python benchmarks/goals.py RESULTS.json [--json GOALS.json]``: each ``measured`` is a ratio of
two times from the same run (or a compile time / an error); goals whose rows are missing (the
GPU kernels on a CPU, the kernel rows of ``benchmarks/kernel_variants.py``) are left out.
Older results name rows by the modes before issue 20 (``gate_loop[parallel]``); this reads the
current names.
"""
from __future__ import annotations

import argparse
import json


def _ms(rows, shape, method):
    """The time of ``method`` (a name, or its prefix before `` (over``) at ``shape``, or None."""
    for r in rows:
        if tuple(r["shape"]) == tuple(shape) and r["method"].split(" (over")[0] == method:
            return r["ms"], r
    return None, None


def goals(res) -> list[dict]:
    """The performance goals as rows ``{goal, shape, measured, target, met, note}`` from bench rows.

    Each ``measured`` is a ratio of two times from the same run (or a compile time / an error).
    Goals whose rows are missing (e.g. the GPU kernels on a CPU) are left out.
    """
    rows, out = res["rows"], []
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in rows))

    def add(goal, shape, num, den, target, note=""):
        if num is not None and den is not None:
            out.append(dict(goal=goal, shape=list(shape), measured=num / den, target=target,
                            met=num / den >= target, note=note))

    for s in shapes:
        listing, _ = _ms(rows, s, "paper_listing")
        copy, _ = _ms(rows, s, "copy")
        fast, r = _ms(rows, s, "pallas_siso[planar a]")
        fp32 = fast  # the two-kernel scan, the bfloat16 comparison's float32 side
        name = "pallas_siso[planar a]"
        add("1 SISO forward vs listing", s, listing, fast, 2.5, name)
        add("1 SISO forward vs listing, both planar a", s, _ms(rows, s, "paper_listing[planar a]")[0], fast, 2.5, name)
        add("1 SISO forward, fraction of copy", s, copy, fast, 0.75, name)
        if r is not None:
            out.append(dict(goal="1 compile time (s)", shape=list(s), measured=r["compile_s"], target="< 30",
                            met=r["compile_s"] < 30, note="first call, " + name))
            out.append(dict(goal="1 error vs complex128 loop", shape=list(s), measured=r["max_rel_err"],
                            target="< 2e-5", met=r["max_rel_err"] < 2e-5, note=name))
        ad, _ = _ms(rows, s, "fwd+bwd[parallel, autodiff]")
        for custom in ("fwd+bwd[parallel, pallas]", "fwd+bwd[parallel, xla]"):
            t, r = _ms(rows, s, custom)
            if ad is None or t is None:
                continue
            add("2 custom VJP vs autodiff", s, ad, t, 2.0, custom)
            if r["max_rel_err"] is not None:
                out.append(dict(goal="2 gradient error vs autodiff", shape=list(s), measured=r["max_rel_err"],
                                target="< 1e-4", met=r["max_rel_err"] < 1e-4, note=custom))
        if len(s) == 4:
            scan, attn = _ms(rows, s, "gate_loop[parallel, xla]")[0], _ms(rows, s, "gate_loop[attention, xla]")[0]
            for name in ("gate_loop[chunked, xla]", "gate_loop[chunked, pallas]", "gate_loop[auto]", "pallas_mh[f16x3, Re y]",
                         "pallas_mh[tf32x3, Re y]", "pallas_mh[bf16x3, Re y]", "pallas_mh[f16x3, complex y]"):
                t, r = _ms(rows, s, name)
                if t is None:
                    continue
                add("3 chunked vs associative scan", s, scan, t, 10.0, name)
                add("3 chunked vs surrogate attention", s, attn, t, 5.0, name)
                out.append(dict(goal="3 error vs complex128 loop", shape=list(s), measured=r["max_rel_err"],
                                target="< 2e-5", met=r["max_rel_err"] < 2e-5, note=name))
            _, rg = _ms(rows, s, "fwd+bwd[chunked, xla]")
            if rg is not None and rg["max_rel_err"] is not None:
                out.append(dict(goal="3 gradient error", shape=list(s), measured=rg["max_rel_err"], target="< 1e-4",
                                met=rg["max_rel_err"] < 1e-4, note="fwd+bwd[chunked, xla] vs fwd+bwd[parallel, xla]"))
        bf, r = _ms(rows, s, "pallas_siso[bf16 planar]")
        add("4 bf16 vs fp32 throughput", s, fp32, bf, 1.6, "pallas_siso[bf16 planar] vs [planar a]")
        if r is not None:
            out.append(dict(goal="4 bf16 error (documented)", shape=list(s), measured=r["max_rel_err"],
                            target="report", met=True, note="inputs rounded to bfloat16, fp32 accumulation"))
        nb, _ = _ms(rows, s, "numba_reference")
        if res["provenance"].get("backend") == "cpu":
            add("5 CPU Numba vs JAX associative scan", s, listing, nb, 2.0, "vs paper_listing")
            add("5 CPU Numba, fraction of copy", s, copy, nb, 0.5, "within 2x of the copy")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", help="a JSON written by python -m gl.bench --json")
    p.add_argument("--json", help="write the goals here")
    args = p.parse_args(argv)
    out = goals(json.load(open(args.results)))
    for x in out:
        print(f"goal {x['goal']:<44s} {str(tuple(x['shape'])):20s} {x['measured']:8.3g} (target {x['target']})"
              f"  {'met' if x['met'] else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
