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
    res = subprocess.run(["bash", "experiments/device_batch.sh", "2", "100", "10", "lm:hgrn:0",
                          "lm:rglru:1", "lm:gla:2"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    jobs = dict(line.split("\t") for line in (tmp_path / "jobs.txt").read_text().splitlines())
    modes = {name: cmd.split("--scan-mode ")[1].split()[0] for name, cmd in jobs.items()}
    assert modes == {"lm-hgrn-s0": "parallel", "lm-rglru-s1": "parallel", "lm-gla-s2": "chunked"}
