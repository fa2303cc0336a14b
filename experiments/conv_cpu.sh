#!/bin/bash
# A short convolution before GateLoop's gates (gl/tasks/char_lm/conv.py, --conv) at nanoGPT's
# CPU configuration (chapter 12, "Around the recurrence"): the shipped runs' command
# (4 layers, 4 heads, width 128, context 64, batch 12, 2,000 iterations, no dropout) with
# --conv WIDTH and a read-out, on 2 CPU cores, three processes at a time (about 11 minutes
# each), then the trained filters into RUN/conv.npz (one (WIDTH, 128) array per layer).
#   bash experiments/conv_cpu.sh OUT_DIR READOUT WIDTH SEED
# The archive experiments/bench_logs/conv_cpu_2026-12-07.tgz holds each run's metrics.jsonl
# and conv.npz and the logs (no checkpoints); experiments/distill_conv_cpu.py distils it
# into gl/assets/char_lm/conv_cpu.json.
set -eu
OUT=$1 READOUT=$2 WIDTH=$3 SEED=$4
RUN=$OUT/gateloop-$READOUT-c$WIDTH-s$SEED
mkdir -p $OUT
JAX_PLATFORMS=cpu python -m gl.train char-lm --model gateloop --seed $SEED --iters 2000 \
  --readout $READOUT --conv $WIDTH --no-progress --overwrite \
  --out $RUN > $OUT/$READOUT-c$WIDTH-s$SEED.log 2>&1
JAX_PLATFORMS=cpu python -c "
import sys, numpy as np
from gl.tasks.char_lm import model
p, _, _ = model.load_checkpoint(sys.argv[1] + '/checkpoint.npz')
np.savez(sys.argv[1] + '/conv.npz',
         **{f'layer{i}': np.asarray(l['conv']) for i, l in enumerate(p['layers'])})" $RUN
