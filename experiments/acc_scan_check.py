"""Does accelerated-scan's ``warp`` backward agree at every sequence length? (a GPU probe)

The peer table (chapter 9, ``gl/assets/bench/peers_h100.json``) found ``accelerated_scan.warp``'s
forward+backward off by a relative 0.29 at (B, L, D) = (8, 65536, 64), while its ``scalar``
kernel, through the same harness, agreed to 4e-7, and ``warp`` agreed at L = 4096 and 2048.
This probe takes ``gl`` out of the question: it compares the two kernels' own gradients
(``torch.autograd``) of ``sum(w * scan(gates, tokens))`` with a float64 sequential loop, at
every power-of-two length ``warp`` accepts from 2048 on, in accelerated-scan's own layout
``(B, C, T)``. One line per length and kernel: the largest relative error of the output and
of each gradient. Needs torch on CUDA and the ``accelerated-scan`` wheel (``experiments/
GPU_COMMANDS.md``, INSTALL):

    python3 experiments/acc_scan_check.py --json $OUT/acc_scan_check.json

``warp`` compiles its CUDA kernel when first imported. Ran on an H100 on 2026-12-05 (torch
2.11, accelerated-scan 0.3.1): ``warp``'s forward agrees at every length, its gradients only up
to T = 4096 (relative errors 0.18-0.33 from 8192 on); ``scalar`` agrees everywhere. The result,
with its provenance: ``gl/assets/bench/acc_scan_check_h100.json`` (chapter 9).
"""
from __future__ import annotations

import argparse
import json
import sys


def reference(gates, tokens, w):
    """float64 ``(y, d gates, d tokens)`` of ``sum(w * y)``, ``y_t = g_t y_{t-1} + x_t``, by a
    sequential loop forward and its adjoint loop backward (no autograd)."""
    import torch
    g, x, w = (t.double() for t in (gates, tokens, w))
    y = torch.empty_like(x)
    h = torch.zeros_like(x[..., 0])
    for t in range(x.shape[-1]):
        h = g[..., t] * h + x[..., t]
        y[..., t] = h
    dx, dg = torch.empty_like(x), torch.empty_like(g)
    lam = torch.zeros_like(h)  # d loss / d y_t, accumulated backwards
    for t in range(x.shape[-1] - 1, -1, -1):
        lam = w[..., t] + (g[..., t + 1] * lam if t + 1 < x.shape[-1] else 0)
        dx[..., t] = lam
        dg[..., t] = lam * (y[..., t - 1] if t > 0 else 0)
    return y, dg, dx


def rel(x, ref):
    return float((x.double() - ref).abs().max() / ref.abs().max())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--lengths", default="2048,4096,8192,16384,32768,65536")
    p.add_argument("--json")
    args = p.parse_args(argv)
    import torch
    from accelerated_scan import scalar, warp
    torch.manual_seed(0)
    rows = []
    for T in map(int, args.lengths.split(",")):
        shape = (args.batch, args.channels, T)
        gates = torch.empty(shape, device="cuda").uniform_(0.9, 1.0)
        tokens, w = torch.randn(shape, device="cuda"), torch.randn(shape, device="cuda")
        y_ref, dg_ref, dx_ref = reference(gates, tokens, w)
        for name, scan in (("warp", warp.scan), ("scalar", scalar.scan)):
            g, x = gates.clone().requires_grad_(), tokens.clone().requires_grad_()
            y = scan(g.contiguous(), x.contiguous())
            (w * y).sum().backward()
            row = dict(T=T, kernel=name, y=rel(y.detach(), y_ref), d_gates=rel(g.grad, dg_ref),
                       d_tokens=rel(x.grad, dx_ref))
            rows.append(row)
            print(f"T={T:6d} {name:6s} y {row['y']:.1e}  d_gates {row['d_gates']:.1e}  "
                  f"d_tokens {row['d_tokens']:.1e}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name(0), torch=torch.__version__,
                           command="python3 experiments/acc_scan_check.py " + " ".join(
                               sys.argv[1:] if argv is None else argv), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
