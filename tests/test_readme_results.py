"""The README's table of what the experiments found is recomputed from the shipped files it
names: each cell must equal what the files give, rounded as printed."""
from __future__ import annotations

import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).parents[1]
ASSETS = ROOT / "gl" / "assets"


def pm(x, digits=3):
    x = np.asarray(x, dtype=float)
    return f"{x.mean():.{digits}f} ± {x.std(ddof=1):.{digits}f}"


def memory_horizon_row():
    acc = {}
    for t in ("data", "fixed"):
        acc[t] = []
        for s in range(5):
            path = ASSETS / "checkpoints" / f"{t}-s{s}" / "metrics.jsonl"
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            acc[t].append([r["test_accuracy"] for r in rows if "test_accuracy" in r][-1])
    return f"| {pm(acc['data'])} | {pm(acc['fixed'])} | – | paper: 0.43 and 0.25 |"


def small_lm_row():
    m = json.loads((ASSETS / "char_lm" / "summary.json").read_text())["models"]
    cell = lambda k: f"{m[k]['val_loss_full_mean']:.3f} ± {m[k]['val_loss_full_std']:.3f}"
    assert all(len(m[k]["seeds"]) == 3 for k in m)
    return f"| {cell('gateloop')} | {cell('fixed')} | {cell('transformer')} | nanoGPT: 1.886 |"


def medium_lm_row():
    m = json.loads((ASSETS / "char_lm_medium" / "summary.json").read_text())["models"]
    return (f"| {m['gateloop']['best_val_loss_mean']:.3f} | – | "
            f"{m['transformer']['best_val_loss_mean']:.3f} | nanoGPT: 1.525 |")


def gpu_lm_row():
    runs = json.loads((ASSETS / "char_lm" / "gpu_runs.json").read_text())["runs"]
    best = lambda m: [runs[f"{m}-s{s}"]["best_val_loss"] for s in range(3)]
    return (f"| {pm(best('gateloop'))} | {pm(best('fixed'))} | {pm(best('transformer'))} | "
            "nanoGPT: 1.4697 |")


def gpu_dropout_row():
    runs = json.loads((ASSETS / "char_lm" / "gpu_runs.json").read_text())["runs"]
    gateloop = [runs[f"gateloop-drop3-s{s}"]["best_val_loss"] for s in range(3)]
    return (f"| {pm(gateloop)} | – | {runs['transformer-drop3-s0']['best_val_loss']:.3f} (1 seed) | "
            "nanoGPT: 1.4697 |")


def gpu_push_rows():
    runs = json.loads((ASSETS / "char_lm" / "gpu_runs.json").read_text())["runs"]
    state = [runs[f"gateloop-dqk384-s{s}"]["best_val_loss"] for s in range(3)]
    return (f"| {pm(state)} | – | – | nanoGPT: 1.4697 |",
            f"| {pm([runs[f'gateloop-lr6-s{s}']['best_val_loss'] for s in range(3)])} | – | – "
            "| nanoGPT: 1.4697 |",
            f"| {pm([runs[f'gateloop-wd1-s{s}']['best_val_loss'] for s in range(3)])} | – | – "
            "| nanoGPT: 1.4697 |",
            *(f"| {pm([runs[f'gateloop-{ro}-s{s}']['best_val_loss'] for s in range(3)])} | – | "
              "– | nanoGPT: 1.4697 |" for ro in ("ng", "norm", "gate")),
            # RetNet's read-out again, beside the transformer in one H100 batch
            f"| {pm([runs[f'gateloop-ng2-s{s}']['best_val_loss'] for s in range(3)])} | – | "
            f"{pm([runs[f'transformer-t2-s{s}']['best_val_loss'] for s in range(3)])} | "
            "nanoGPT: 1.4697 |",
            # a schedule that ends at N: both models at 1,250 and at 2,000 (one batch each),
            # then each at its best length of seeds 0-2: GateLoop 1,250, the transformer 2,500
            *(f"| {pm([runs[f'gateloop-ngi{g}-s{s}']['best_val_loss'] for s in range(3)])} | – | "
              f"{pm([runs[f'transformer-i{t}-s{s}']['best_val_loss'] for s in range(3)])} | "
              "nanoGPT: 1.4697 |" for g, t in ((1250, 1250), (2000, 2000), (1250, 2500))),
            # ending at 2,000, each at its better dropout: GateLoop 0.3, the transformer 0.2
            # (six seeds each), and the transformer at 0.3
            f"| {pm([runs[f'gateloop-ngi2000d3-s{s}']['best_val_loss'] for s in range(6)])} | – | "
            f"{pm([runs[f'transformer-i2000-s{s}']['best_val_loss'] for s in range(6)])} | "
            "nanoGPT: 1.4697 |",
            f"at 0.3 it gave {pm([runs[f'transformer-i2000d3-s{s}']['best_val_loss'] for s in range(3)])})",
            # ending at 1,500, six seeds each: GateLoop at dropout 0.3 (and 0.2), the transformer
            f"| {pm([runs[f'gateloop-ngi1500d3-s{s}']['best_val_loss'] for s in range(6)])} | – | "
            f"{pm([runs[f'transformer-i1500-s{s}']['best_val_loss'] for s in range(6)])} | "
            "nanoGPT: 1.4697 |",
            f"(at 0.2 it gave {pm([runs[f'gateloop-ngi1500-s{s}']['best_val_loss'] for s in range(6)])};",
            # ending at 2,500: GateLoop at dropout 0.3 (six seeds), the transformer (five)
            f"| {pm([runs[f'gateloop-ngi2500d3-s{s}']['best_val_loss'] for s in range(6)])} | – | "
            f"{pm([runs[f'transformer-i2500-s{s}']['best_val_loss'] for s in range(5)])} | "
            "nanoGPT: 1.4697 |",
            # the gate's batch ran the recipe again beside it
            f"which gave {pm([runs[f'gateloop-h2-s{s}']['best_val_loss'] for s in range(3)])};",
            "| " + "; ".join(f"{label}: {pm([runs[f'{run}-s{s}']['best_val_loss'] for s in range(3)])}"
                             f"{note}" for label, run, note in FAMILY)
            + " | – | – | nanoGPT: 1.4697 |")


#: the family members of the README's row, best first: run names' prefix, a note
FAMILY = [("mLSTM", "mlstm-norm", " (with xLSTM's head norm; stopped at 4,500)"),
          ("HGRN", "hgrn-par", ""), ("GLA", "gla", ""),
          ("Mamba", "mamba", " (stopped at 3,000)"), ("RWKV-6", "rwkv6", ""),
          ("LRU", "lru-auto", ""), ("Mamba-2", "mamba2", ""), ("RG-LRU", "rglru-par", ""),
          ("S5", "s5-auto", ""), ("S4D", "s4d", " (stopped at 2,000-2,250)"),
          ("RetNet", "retnet", ""),
          ("mLSTM without the norm", "mlstm", " (did not train; run before commit `f0c606d`, "
           "since which `--model mlstm` always has the norm)")]


def cpu_readout_rows():
    """The read-out and short-convolution rows at nanoGPT's CPU size (whole-split loss; the
    plain read-out without the filter is the shipped runs')."""
    summary = json.loads((ASSETS / "char_lm" / "summary.json").read_text())
    plain = [r["val_loss_full"] for r in summary["runs"] if "--model gateloop " in r["command"]]
    ro = json.loads((ASSETS / "char_lm" / "readout_cpu.json").read_text())["runs"]
    conv = json.loads((ASSETS / "char_lm" / "conv_cpu.json").read_text())["runs"]
    full = lambda runs, name: [runs[name.format(s=s)]["val_loss_full"] for s in range(3)]  # noqa: E731
    return (f"| plain {pm(plain)}; gate {pm(full(ro, 'gateloop-gate-s{s}'))}; "
            f"norm {pm(full(ro, 'gateloop-norm-s{s}'))}; norm and gate (RetNet's) "
            f"{pm(full(ro, 'gateloop-norm-gate-s{s}'))} | – | – | – |",
            f"| plain {pm(full(conv, 'gateloop-plain-c4-s{s}'))}; "
            f"gate {pm(full(conv, 'gateloop-gate-c4-s{s}'))} | – | – | – |")


def memory_horizon_long_row(budget="long", epochs=1000):
    runs = json.loads((ASSETS / "checkpoints" / "study_gpu.json").read_text())["runs"]
    cells = []
    for config in (budget, f"{budget}-fixed"):
        of_c = [runs[f"{config}-s{s}"] for s in range(3)]
        assert all(r["status"] == "done" and r["epochs_reached"] == epochs for r in of_c)
        hs = [r["horizon"]["horizon"] for r in of_c]
        cells.append(f"{pm([r['fresh_accuracy'] for r in of_c])} (horizons {min(hs)}-{max(hs)} "
                     "tokens)")
    return f"| {cells[0]} | {cells[1]} | – | paper: 0.43 and 0.25 |"


def test_readme_results_table_is_the_files():
    text = (ROOT / "README.md").read_text()
    for row in (memory_horizon_row(), small_lm_row(), medium_lm_row(), gpu_lm_row(),
                gpu_dropout_row(), *gpu_push_rows(), *cpu_readout_rows(),
                memory_horizon_long_row(), memory_horizon_long_row("long2k", 2000)):
        assert row in text, f"README.md lacks the row ending {row!r}"


def test_the_check_notices_a_changed_number():
    text = (ROOT / "README.md").read_text().replace("1.505 ± 0.007", "1.495 ± 0.007")
    assert gpu_lm_row() not in text
