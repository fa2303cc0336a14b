#!/bin/bash
# GateLoop's read-out at nanoGPT's CPU configuration (chapter 12, "The read-out"): the
# shipped runs' command (gl/assets/char_lm/summary.json: 4 layers, 4 heads, width 128,
# context 64, batch 12, 2,000 iterations, no dropout) with --readout, on 2 CPU cores, two
# or three processes at a time (about 10-15 minutes each).
#   bash experiments/readout_cpu.sh OUT_DIR READOUT SEED
# The runs of 2026-12-06 (gl at 4f424fb): norm-gate seeds 0-2, norm seeds 0-2, and plain
# seed 0 again (gl at b14b392; the shipped runs are the plain ones, 2026-12-05), gate seeds
# 0-2 (gl at 1fa998f, three processes at a time); raw:
# experiments/bench_logs/readout_cpu_2026-12-06.tgz, distilled by
# experiments/distill_readout_cpu.py into gl/assets/char_lm/readout_cpu.json.
set -eu
OUT=$1 READOUT=$2 SEED=$3
mkdir -p $OUT
JAX_PLATFORMS=cpu python -m gl.train char-lm --model gateloop --seed $SEED --iters 2000 \
  --readout $READOUT --no-progress --overwrite --out $OUT/gateloop-$READOUT-s$SEED \
  > $OUT/$READOUT-s$SEED.log 2>&1
