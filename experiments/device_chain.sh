#!/bin/bash
# One batch of experiments/device_batch.sh run across several device calls, on one warm
# machine: a call may last 10 minutes, a batch longer. The first call starts the batch in a
# process session of its own (setsid), which the device keeps running after the call returns
# while the machine is held; each later call, made within the machine's idle release, waits
# for it again. Every call waits at most WAIT_S seconds (or until the batch ends) and returns
# what the batch wrote so far ($OUT/partial.tgz, no checkpoints), its log, and, once it has
# ended, its $OUT/results.tgz. If the machine goes back in between, the batch is lost, and
# the last partial.tgz is what remains.
#   first call:  bash experiments/device_chain.sh WAIT_S JOBS DEADLINE_S MIN_LEFT_S JOB_SPEC...
#   later calls: bash experiments/device_chain.sh WAIT_S
set -u
WAIT=$1; shift
W=${WORK:-/tmp/work}  # where the batch writes (the same for every call)
if [ $# -gt 0 ]; then
  [ ! -e $W/chain.pid ] || { echo "a batch was started on this machine already" >&2; exit 2; }
  mkdir -p $W/final
  RESULTS=$W/final setsid bash -c 'echo $$ > '$W'/chain.pid; exec bash experiments/device_batch.sh "$@"' \
    batch "$@" > $W/chain.log 2>&1 < /dev/null &
  sleep 2
fi
[ -e $W/chain.pid ] || { echo "no batch on this machine (it was given back?)" >&2; exit 3; }
t0=$(date +%s)
while kill -0 "$(cat $W/chain.pid)" 2>/dev/null && [ $(( $(date +%s) - t0 )) -lt "$WAIT" ]; do
  sleep 5
done
kill -0 "$(cat $W/chain.pid)" 2>/dev/null && echo "batch still running" || echo "batch ended"
cp $W/chain.log $OUT/
tar czf $OUT/partial.tgz -C $W --exclude='*.npz' --exclude=final --exclude=chain.pid .
[ ! -f $W/final/results.tgz ] || cp $W/final/results.tgz $OUT/
[ ! -f $W/final/mh_states.tgz ] || cp $W/final/mh_states.tgz $OUT/
tail -5 $W/chain.log; ls -la $OUT
