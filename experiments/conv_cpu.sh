#!/bin/bash
# A short convolution before GateLoop's gates (gl/tasks/char_lm/conv.py, --conv) at nanoGPT's
# CPU configuration (chapter 10, "What the family adds"): the shipped runs' command
# (4 layers, 4 heads, width 128, context 64, batch 12, 2,000 iterations, no dropout) with
# --conv WIDTH and a read-out, on 2 CPU cores, three processes at a time (about 16 minutes
# each).
#   bash experiments/conv_cpu.sh OUT_DIR READOUT WIDTH SEED
# Distilled by experiments/distill_readout_cpu.py into gl/assets/char_lm/readout_cpu.json.
set -eu
OUT=$1 READOUT=$2 WIDTH=$3 SEED=$4
mkdir -p $OUT
JAX_PLATFORMS=cpu python -m gl.train char-lm --model gateloop --seed $SEED --iters 2000 \
  --readout $READOUT --conv $WIDTH --no-progress --overwrite \
  --out $OUT/gateloop-$READOUT-c$WIDTH-s$SEED > $OUT/$READOUT-c$WIDTH-s$SEED.log 2>&1
