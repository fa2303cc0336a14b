#!/bin/bash
# mLSTM with and without xLSTM's per-head norm, and GLA, at a small CPU size where the
# difference shows (chapter 12, "mLSTM"): 4 layers, width 128, context 256, 300 iterations,
# seed 0, one process at a time on 2 cores (about 4 minutes each).
#   bash experiments/mlstm_norm_cpu.sh OUT_DIR MODEL NAME
# The runs of 2026-12-06 (the same command, the first two from a scratch copy of it):
# "mlstm" without the norm and "gla" (gl at 8ef8943), "mlstm-norm" (gl at f0c606d, with
# gl.family.mixer's head_norm); raw: experiments/bench_logs/mlstm_norm_cpu_2026-12-06.tgz,
# distilled by experiments/distill_mlstm_norm.py.
set -eu
OUT=$1 MODEL=$2 NAME=$3
mkdir -p $OUT
JAX_PLATFORMS=cpu python -m gl.train char-lm --model $MODEL --seed 0 --n-layer 4 --n-head 2 \
  --d-model 128 --d-qk 64 --context 256 --batch-size 8 --iters 300 --lr 1e-3 --warmup 100 \
  --b2 0.99 --eval-interval 100 --eval-windows 20 --dropout 0.2 --scan-impl xla --no-progress \
  --out $OUT/$NAME > $OUT/$NAME.log 2>&1
