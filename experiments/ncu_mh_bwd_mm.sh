#!/bin/bash
# Nsight Compute on the matmul-form backward (issue 30 item 3; experiments/NOTES.md, "The
# matmul-form backward on a GPU"): one untimed call per shape of `mh_bwd_bench.py --once`,
# the kernel `gl_mh_bwd_mm` alone, with its registers, occupancy, local-memory (spill) and DRAM
# bytes. Does the 3x loss at d = 128 come from spills? Each report goes to $OUT.
#   bash experiments/ncu_mh_bwd_mm.sh [SPEC [TIMEOUT_S]]     (SPEC: BLOCKS,PRECISION; 2,tf32x3)
# Without ncu (a CPU), it runs the calls at a tiny shape in the Pallas interpreter instead.
set -u
SPEC=${1:-2,tf32x3}; T=${2:-150}; OUT=${OUT:-/tmp}
export PYTHONPATH=$PWD XLA_PYTHON_CLIENT_PREALLOCATE=false
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
M=dram__bytes_read.sum,dram__bytes_write.sum,gpu__time_duration.sum,launch__registers_per_thread
M=$M,l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum,l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum
for shape in 16,4096,8,64 8,16384,8,128; do
  log=$OUT/ncu_mh_bwd_mm_${shape//,/x}_${SPEC/,/_}.txt
  if [ -n "$NCU" ]; then
    timeout $T "$NCU" --clock-control none -k 'regex:^gl_mh_bwd_mm$' --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section LaunchStats --metrics $M \
      python3 experiments/mh_bwd_bench.py --once $SPEC --shape $shape > $log 2>&1
  else
    timeout $T python3 experiments/mh_bwd_bench.py --once $SPEC --shape 1,32,1,16 > $log 2>&1
  fi
  echo "$shape: exit $?, $(grep -c . $log) lines in $log"
done
