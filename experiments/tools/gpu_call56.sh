#!/usr/bin/env bash
# GPU call 56 (H100): the long-tile look-back (item 11) with persistent programs (`programs`), so that
# at most that many tiles wait in L2 between their two walks (item 23), at (8, 65536, 64): checked
# twice and timed next to the two-kernel scan, the listing and the copy.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
c='"chunk":8,"block_d":64,"window":8'
timeout 500 python3 tools/gpu_lookback.py "8,65536,64" \
  "[{\"T\":128,$c},{\"T\":128,$c,\"programs\":132},{\"T\":256,$c,\"programs\":132},{\"T\":64,$c,\"programs\":264},{\"T\":128,$c,\"programs\":264},{\"T\":256,$c,\"programs\":264},{\"T\":32,$c,\"programs\":528},{\"T\":64,$c,\"programs\":528},{\"T\":128,$c,\"programs\":528},{\"T\":32,$c,\"programs\":1056},{\"T\":64,$c,\"programs\":1056}]" 5 \
  2>&1 | grep -v Warning | tee "$OUT/lookback3_h100.log"
