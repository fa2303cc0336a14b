"""Run many training commands on one lent device inside a fixed time, and record what ran.

    python experiments/gpu_batch.py JOBS_FILE --out DIR --jobs 6 --deadline 540 --min-left 240

``JOBS_FILE`` holds one job per line, ``NAME<TAB>COMMAND`` (blank lines and ``#`` comments
skipped), in the order they should start. At most ``--jobs`` run at once, each in its own
process group with its output in ``DIR/NAME.log``. A job starts only while at least
``--min-left`` seconds remain before ``--deadline`` (seconds from the start); at the deadline
every job still running is stopped (SIGTERM, then SIGKILL after 10 s), so the device call
ends on time and keeps what the runs wrote so far (``metrics.jsonl`` after every evaluation).
``DIR/batch.json`` records, per job, its command, status (``done``, ``failed``, ``stopped``
or ``not started``), return code, start offset and wall time, and the device.

Lab tooling for the device calls of issues 29 and 32 (``experiments/GPU_COMMANDS.md``);
nothing in ``gl`` imports it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time


def read_jobs(path):
    jobs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, cmd = line.partition("\t")
            if not sep or not name or "/" in name or not cmd.strip():
                raise SystemExit(f"{path}:{n}: expected NAME<TAB>COMMAND, got {line!r}")
            jobs.append((name, cmd))
    names = [j[0] for j in jobs]
    if len(set(names)) != len(names):
        raise SystemExit(f"{path}: job names must be unique, got {names}")
    return jobs


def _stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run(jobs, out, n_jobs, deadline, min_left, poll=1.0, clock=time.monotonic):
    os.makedirs(out, exist_ok=True)
    t0 = clock()
    pending, running, record = list(jobs), {}, {}
    for name, cmd in jobs:
        record[name] = {"command": cmd, "status": "not started"}
    while pending or running:
        now = clock() - t0
        for name, (proc, start, log) in list(running.items()):
            rc = proc.poll()
            if rc is not None:
                log.close()
                record[name].update(status="done" if rc == 0 else "failed", returncode=rc,
                                    wall_s=round(now - start, 1))
                del running[name]
        if now >= deadline:
            for name, (proc, start, log) in running.items():
                _stop(proc)
                log.close()
                record[name].update(status="stopped", returncode=proc.returncode,
                                    wall_s=round(clock() - t0 - start, 1))
            running.clear()
            break
        while pending and len(running) < n_jobs and deadline - now >= min_left:
            name, cmd = pending.pop(0)
            log = open(os.path.join(out, f"{name}.log"), "w")
            proc = subprocess.Popen(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            running[name] = (proc, now, log)
            record[name].update(status="running", start_s=round(now, 1))
            print(f"[{now:6.0f}s] start {name}", flush=True)
        if not running and pending:  # too little time left for the rest
            break
        time.sleep(poll)
    summary = {"jobs": record, "deadline_s": deadline, "min_left_s": min_left, "n_jobs": n_jobs,
               "elapsed_s": round(clock() - t0, 1), "device": _device()}
    with open(os.path.join(out, "batch.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    return summary


def _device():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "no nvidia-smi"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("jobs_file")
    p.add_argument("--out", required=True)
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--deadline", type=float, required=True, help="seconds from the start")
    p.add_argument("--min-left", type=float, default=0.0,
                   help="start no job with fewer seconds than this before the deadline")
    args = p.parse_args(argv)
    s = run(read_jobs(args.jobs_file), args.out, args.jobs, args.deadline, args.min_left)
    for name, r in s["jobs"].items():
        print(f"{name:28s} {r['status']:12s} {r.get('wall_s', '')}")
    return s


if __name__ == "__main__":
    main()
