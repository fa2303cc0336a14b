"""experiments/device_chain.sh: the first call starts device_batch.sh in its own session and
returns what it wrote; a later call finds the same batch (DRY=1: jobs listed, none run)."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tarfile

ROOT = pathlib.Path(__file__).parents[1]


def _call(tmp_path, out, *args):
    out.mkdir()
    env = {**os.environ, "WORK": str(tmp_path / "work"), "OUT": str(out), "DRY": "1",
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    return subprocess.run(["bash", "experiments/device_chain.sh", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def test_chain_starts_then_finds_the_batch(tmp_path):
    first = _call(tmp_path, tmp_path / "out1", "200", "1", "60", "0", "lm:gateloop:3",
                  "mh:1:wide=--d-model 128")
    assert first.returncode == 0, first.stderr
    assert "batch ended" in first.stdout
    log = (tmp_path / "out1" / "chain.log").read_text()
    assert "lm-gateloop-s3" in log and "mh-wide-s1" in log  # the jobs device_batch listed
    with tarfile.open(tmp_path / "out1" / "partial.tgz") as t:
        names = t.getnames()
    assert "./jobs.txt" in names and not any(n.endswith(".npz") for n in names)
    again = _call(tmp_path, tmp_path / "out2", "5")  # a later call: the same batch, ended
    assert again.returncode == 0 and "batch ended" in again.stdout
    twice = _call(tmp_path, tmp_path / "out3", "5", "1", "60", "0", "lm:gateloop:0")
    assert twice.returncode == 2 and "started on this machine already" in twice.stderr


def test_a_later_call_without_a_batch_says_so(tmp_path):
    res = _call(tmp_path, tmp_path / "out", "5")
    assert res.returncode == 3 and "no batch on this machine" in res.stderr


def test_siso_members_get_the_siso_scan(tmp_path):
    """The chunked Pallas kernel takes a matrix state per head: HGRN's first GPU batch failed
    on it in 6 s. Members with one number of state per channel now get ``--scan-mode parallel``."""
    env = {**os.environ, "WORK": str(tmp_path), "DRY": "1"}
    members = ["hgrn", "rglru", "gla", "mlstm", "s4d", "s5"]
    res = subprocess.run(["bash", "experiments/device_batch.sh", "2", "100", "10",
                          *(f"lm:{m}:0" for m in members), "lm:mlstm:1:norm"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    jobs = dict(line.split("\t") for line in (tmp_path / "jobs.txt").read_text().splitlines())
    flag = lambda cmd, f: cmd.split(f"--{f} ")[1].split()[0]  # noqa: E731
    got = {name: (flag(cmd, "scan-mode"), flag(cmd, "scan-impl")) for name, cmd in jobs.items()}
    # DRY=1 runs no device check, so IMPL stays its default, xla; on a GPU it is pallas
    assert got == {"lm-hgrn-s0": ("parallel", "xla"), "lm-rglru-s0": ("parallel", "xla"),
                   "lm-gla-s0": ("chunked", "xla"), "lm-mlstm-s0": ("chunked", "auto"),
                   "lm-s4d-s0": ("parallel", "auto"), "lm-s5-s0": ("parallel", "auto"),
                   "lm-mlstm-norm-s1": ("chunked", "auto")}
    # a spec NAME without "=FLAGS" names the run and adds no flag
    assert jobs["lm-mlstm-norm-s1"].split("--no-progress")[1].split() == [
        "--out", str(tmp_path / "lm" / "mlstm-norm-s1")]
    # S4D's (B, L, D, N) expansion: 55 GB per step at batch 64 (lm_memory.json), 8 at a time
    assert "--accum 8 --eval-batch 8 --no-progress" in jobs["lm-s4d-s0"]
    assert all("--accum" not in cmd for name, cmd in jobs.items() if name != "lm-s4d-s0")


def test_every_member_fits_the_kernel_its_batch_job_asks_for():
    """What device_batch.sh's rule assumes, at the GPU size (6 heads, d_qk 192, width 384):
    with ``impl="pallas"`` each of a member's gate_loop calls must fit the kernel of its mode
    (the chunked one: its shapes; the SISO one: real numbers, which S5 and the LRU are not:
    they failed on it in 8 s),
    except the members that the script gives ``impl="auto"``."""
    import jax
    import jax.numpy as jnp

    from gl import kernels
    from gl.family import mixer as fm

    siso, auto = {"hgrn", "rglru", "s5", "lru"}, {"s4d", "mamba", "mlstm", "s5", "lru"}
    for name in fm.NAMES:
        mx = fm.Mixer(name, 384, 6, 192)

        def q_v_a(p):  # of each gate_loop call of the member
            m = mx.mapped(p, jnp.ones((1, 4, 384)))
            return [(m.q, m.v, m.a)] + ([(m.second[0], m.second[2], m.second[3])]
                                        if m.second else [])

        calls = jax.eval_shape(q_v_a, jax.eval_shape(mx.init, jax.random.key(0)))
        is_siso = [q.shape[-1] == 1 and v.shape[-1] == 1 for q, v, _ in calls]
        # the chunked kernel takes complex numbers (GateLoop's), the SISO kernel real only
        real = [not any(jnp.issubdtype(x.dtype, jnp.complexfloating) for x in c) for c in calls]
        fits = [r if siso_ else kernels.shape_ok(q.shape[-1], v.shape[-1])
                for (q, v, _), siso_, r in zip(calls, is_siso, real)]
        assert (name in siso) == all(is_siso), name
        assert (name in auto) == (not all(fits)), name


def test_every_batch_job_fits_six_to_a_gpu(tmp_path):
    """lm_memory.json (XLA's memory analysis of one training step at the GPU scale) lists each
    mixer in the mode and micro-batch that device_batch.sh trains it in, and none needs more
    than 12 GB: six processes share an 80 GB H100. S4D and Mamba at batch 64 need 54-113 GB;
    the last session's commands would have sent them so. One entry is recomputed here."""
    import json

    from experiments import lm_memory
    from gl.tasks.char_lm import model as cmodel

    data = json.loads((ROOT / "gl/assets/char_lm/lm_memory.json").read_text())
    env = {**os.environ, "WORK": str(tmp_path), "DRY": "1"}
    res = subprocess.run(["bash", "experiments/device_batch.sh", "2", "100", "10",
                          *(f"lm:{m}:0" for m in cmodel.CHOICES)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    jobs = dict(line.split("\t") for line in (tmp_path / "jobs.txt").read_text().splitlines())
    flag = lambda cmd, f, d: cmd.split(f"--{f} ")[1].split()[0] if f"--{f} " in cmd else d  # noqa: E731
    script = {r["model"]: r for r in data["rows"] if r["script"]}
    assert set(script) == set(cmodel.CHOICES)
    for m, r in script.items():
        cmd = jobs[f"lm-{m}-s0"]
        mode = "parallel" if m == "transformer" else flag(cmd, "scan-mode", None)
        assert (r["mode"], r["batch"]) == (mode, 64 // int(flag(cmd, "accum", 1))), m
        assert r["temp_gb"] <= 12, m
    big = {(r["model"], r["mode"]): r["temp_gb"] for r in data["rows"] if not r["script"]}
    assert min(big.values()) > 50 and set(big) >= {("s4d", "parallel"), ("mamba", "chunked")}
    got = lm_memory.step_temp_bytes("s4d", "parallel", 8) / 1e9
    assert abs(got - script["s4d"]["temp_gb"]) < 0.05 * script["s4d"]["temp_gb"]
