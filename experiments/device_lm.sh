#!/bin/bash
# Issue 32 on a lent GPU: the char-lm models at nanoGPT's shakespeare_char GPU scale
# (6 layers, 6 heads, width 384, context 256, batch 64, dropout 0.2, 5,000 iterations).
#   bash experiments/device_lm.sh "SEEDS" JOBS DEADLINE_S MIN_LEFT_S [MODELS]
# Runs in the repository root on the device; writes $OUT/lm.tgz (metrics, logs, batch.json;
# no checkpoints: 10.7M parameters are 21 MB in bf16, over the 8 MB a shipped file may take).
set -u
SEEDS=$1 JOBS=$2 DEADLINE=$3 MINLEFT=$4 MODELS=${5:-"gateloop fixed transformer"}
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
W=/tmp/work; mkdir -p $W/lm
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
IMPL=$(python3 experiments/device_check.py --shape 2,256,6,32,64)
echo "scan impl: $IMPL"
for s in $SEEDS; do for m in $MODELS; do
  printf "%s\t%s\n" "$m-s$s" "python3 -m gl.train char-lm --model $m --seed $s --n-layer 6 \
--n-head 6 --d-model 384 --d-qk 192 --context 256 --batch-size 64 --iters 5000 --lr 1e-3 \
--warmup 100 --b2 0.99 --dropout 0.2 --eval-interval 250 --eval-windows 240 \
--checkpoint-every 4 --scan-mode chunked --scan-impl $IMPL --no-progress --out $W/lm/$m-s$s"
done; done > $W/jobs.txt
python3 experiments/gpu_batch.py $W/jobs.txt --out $W/lm --jobs $JOBS --deadline $DEADLINE \
  --min-left $MINLEFT
nvidia-smi --query-gpu=memory.used --format=csv,noheader
DONE=$(for d in $W/lm/*-s*/; do grep -qs val_loss_full $d/metrics.jsonl && echo ${d%/}; done)
[ -n "$DONE" ] && python3 -m gl.tasks.char_lm.ship $DONE --dest $W/ship --metrics-only \
  --anchor 1.4697
tar czf $OUT/lm.tgz -C $W --exclude='*.npz' lm ship jobs.txt
ls -la $OUT
