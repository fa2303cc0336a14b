#!/bin/bash
# Chapter 10's exercise "A shorter schedule" (ex-ch10-full): each model at nanoGPT's CPU
# configuration for 500 iterations instead of 2,000 (warm-up 100, the cosine decay ending
# at 500), on 2 CPU cores, three processes at a time (about 3 minutes each).
#   bash experiments/short_schedule_cpu.sh OUT_DIR MODEL SEED
# Distilled by experiments/distill_short_schedule_cpu.py into
# gl/assets/char_lm/short_schedule_cpu.json.
set -eu
OUT=$1 MODEL=$2 SEED=$3
mkdir -p $OUT
JAX_PLATFORMS=cpu python -m gl.train char-lm --model $MODEL --seed $SEED --iters 500 \
  --eval-interval 125 --no-progress --overwrite \
  --out $OUT/$MODEL-s$SEED > $OUT/$MODEL-s$SEED.log 2>&1
