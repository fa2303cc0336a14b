#!/bin/bash
# Issues 29 and 32 on one lent GPU, in one device call (each start of a machine costs device
# time). Runs in the repository root on the device:
#   bash experiments/device_batch.sh JOBS DEADLINE_S MIN_LEFT_S JOB_SPEC...
# JOB_SPEC, in the order the jobs should start:
#   lm:MODEL:SEED       the char-lm at nanoGPT's shakespeare_char GPU scale (6 layers, 6 heads,
#                       width 384, context 256, batch 64, dropout 0.2, 5,000 iterations)
#   lm:MODEL:SEED:NAME=FLAGS  the same with FLAGS appended (they override), in lm/MODEL-NAME-sSEED
#   lm:MODEL:SEED:NAME  the same without flags, in lm/MODEL-NAME-sSEED (a rerun after a change)
#   mh:SEED:NAME=FLAGS  one Memory Horizon study run (experiments/memory_horizon_study.py:
#                       train, then evaluate on the fresh test set of data seed 977)
# Jobs share the GPU (XLA_PYTHON_CLIENT_PREALLOCATE=false), JOBS at a time, inside
# experiments/gpu_batch.py's deadline; Memory Horizon runs stopped there are evaluated from
# their last checkpoint. Writes $OUT/results.tgz: metrics, logs, batch.json, the distilled
# char-lm summary (no char-lm checkpoints: 10.7M parameters are 21 MB in bf16, over 8 MB), the
# study's JSON and its runs' checkpoint.npz ($RESULTS/results.tgz where RESULTS is set: experiments/device_chain.sh).
# Memory Horizon runs stopped at the deadline also come back as $OUT/mh_states.tgz (their
# train_state.npz); unpacked into .states/ here (gitignored) and carried with a later call
# (carry [".states"]), they resume where they stopped.
set -u
JOBS=$1 DEADLINE=$2 MINLEFT=$3; shift 3
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
W=${WORK:-/tmp/work}; mkdir -p $W/lm $W/mh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
IMPL=xla  # the char-lm's scan: Pallas where it agrees with XLA on this device (checked only for lm jobs)
if [ -z "${DRY:-}" ]; then  # DRY=1 (the tests) lists the jobs without the device checks
  case " $* " in *" lm:"*) IMPL=$(python3 experiments/device_check.py --shape 2,256,6,32,64); IMPL=${IMPL:-xla} ;; esac
  echo "char-lm scan impl: $IMPL; Memory Horizon (SISO, impl auto):" \
    "$(python3 experiments/device_check.py --shape 2,1024,64,1,1 --mode parallel)"
fi
for spec in "$@"; do
  case $spec in
    lm:*) IFS=: read -r _ m s c <<< "$spec"; n=$m${c:+-${c%%=*}}; f=
      case $c in *=*) f=${c#*=} ;; esac
      # the chunked Pallas kernel takes a matrix state per head (d_k, d_v powers of two >= 16);
      # members with one number of state per channel (q and v of width 1) run the SISO scan
      # (in 2026-12-06's runs: NAME-par); members with a gate_loop of v width 1 beside d_k 32
      # (S4D, Mamba, mLSTM's normalizer) take impl auto: Pallas where it fits, XLA elsewhere;
      # so do S5 and the LRU: their SISO states are complex, the SISO Pallas kernel real only
      # S4D and Mamba expand each of the 384 channels into N = 32 states, (B, L, D, N) tensors:
      # a training step at batch 64 needs 55 GB (parallel) to 113 GB (chunked) of XLA's temp
      # memory (experiments/lm_memory.py); in micro-batches of 8 (--accum 8) about 7 GB
      MODE=chunked LMIMPL=$IMPL EXTRA=
      case $m in hgrn|rglru) MODE=parallel ;; s5|lru) MODE=parallel LMIMPL=auto ;;
        mlstm) LMIMPL=auto ;;
        s4d|mamba) MODE=parallel LMIMPL=auto EXTRA="--accum 8 --eval-batch 8 " ;; esac
      printf "%s\t%s\n" "lm-$n-s$s" "python3 -m gl.train char-lm --model $m --seed $s \
--n-layer 6 --n-head 6 --d-model 384 --d-qk 192 --context 256 --batch-size 64 --iters 5000 \
--lr 1e-3 --warmup 100 --b2 0.99 --dropout 0.2 --eval-interval 250 --eval-windows 240 \
--checkpoint-every 4 --scan-mode $MODE --scan-impl $LMIMPL $EXTRA--no-progress $f --out $W/lm/$n-s$s" ;;
    mh:*) rest=${spec#mh:}; s=${rest%%:*}; c=${rest#*:}
      printf "%s\t%s\n" "mh-${c%%=*}-s$s" "python3 experiments/memory_horizon_study.py \
--out $W/mh --seeds $s --config '$c' --jobs 1 --eval-seed 977 --eval-samples 200 --resume" ;;
    *) echo "bad job spec: $spec" >&2; exit 2 ;;
  esac
done > $W/jobs.txt
cut -c1-70 $W/jobs.txt
[ -z "${DRY:-}" ] || exit 0  # DRY=1: print the jobs only
# Memory Horizon runs stopped by an earlier call's deadline, carried back in (carry [".states"]):
# .states/mh/NAME-sS/{train_state.npz,checkpoint.npz,metrics.jsonl} resume where they stopped
[ ! -d .states/mh ] || cp -r .states/mh/. $W/mh/
python3 experiments/gpu_batch.py $W/jobs.txt --out $W/batch --jobs $JOBS --deadline $DEADLINE \
  --min-left $MINLEFT
for d in $W/mh/*/; do r=${d%/}
  [ -f $r.json ] || [ ! -f $r/checkpoint.npz ] || \
    python3 -m gl.evaluate $r --seed 977 --samples 200 > $r.stopped.json 2> $r.eval.err &
done; wait
DONE=$(for d in $W/lm/*-s*/; do grep -qs val_loss_full $d/metrics.jsonl && echo ${d%/}; done)
[ -n "$DONE" ] && python3 -m gl.tasks.char_lm.ship $DONE --dest $W/ship --metrics-only \
  --anchor 1.4697 > /dev/null
# Memory Horizon checkpoints (about 0.65 MB each) come back; char-lm weights and training states do not
tar czf ${RESULTS:-$OUT}/results.tgz -C $W --exclude='lm/*.npz' --exclude='train_state.npz' lm mh batch ship jobs.txt
# the stopped Memory Horizon runs' training states (about 2 MB each), to resume in a later call
STOPPED=$(cd $W && for d in mh/*/; do r=${d%/}; [ -f $r.json ] || [ ! -f $r/train_state.npz ] || echo $r; done)
[ -z "$STOPPED" ] || tar czf ${RESULTS:-$OUT}/mh_states.tgz -C $W \
  $(for r in $STOPPED; do echo $r/train_state.npz $r/checkpoint.npz $r/metrics.jsonl; done)
ls -la ${RESULTS:-$OUT}
