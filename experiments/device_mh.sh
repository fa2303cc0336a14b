#!/bin/bash
# Issue 29 on a lent GPU: Memory Horizon study configurations x seeds, inside one device call.
#   bash experiments/device_mh.sh "SEEDS" JOBS DEADLINE_S NAME=FLAGS...
# Each (configuration, seed) is one experiments/memory_horizon_study.py run (train, then
# evaluate on the fresh test set of data seed 977); runs still training at the deadline are
# stopped and their last checkpoint evaluated the same way. Writes $OUT/mh.tgz.
set -u
SEEDS=$1 JOBS=$2 DEADLINE=$3; shift 3
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
W=/tmp/work; mkdir -p $W/mh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for s in $SEEDS; do for c in "$@"; do
  printf "%s\t%s\n" "${c%%=*}-s$s" "python3 experiments/memory_horizon_study.py --out $W/mh \
--seeds $s --config '$c' --jobs 1 --eval-seed 977 --eval-samples 200"
done; done > $W/jobs.txt
python3 experiments/gpu_batch.py $W/jobs.txt --out $W/mh/batch --jobs $JOBS --deadline $DEADLINE
for d in $W/mh/*/; do r=${d%/}
  [ -f $r.json ] || [ ! -f $r/checkpoint.npz ] || \
    (python3 -m gl.evaluate $r --seed 977 --samples 200 > $r.stopped.json 2> $r.eval.err &)
done; sleep 1; wait; while pgrep -f "gl.evaluate" > /dev/null; do sleep 2; done
tar czf $OUT/mh.tgz -C $W --exclude='*.npz' mh jobs.txt
ls -la $OUT
