#!/usr/bin/env bash
# Subscriber fan-out benchmark: N WebSocket subscribers on one gateway instance.
# Raises the open-files limit (each subscriber is one socket on each side) and prints one
# line per size. Usage: scripts/bench-fanout.sh [sizes, default 1000,5000,20000]
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # one socket per subscriber on each side
export FANOUT_SUBSCRIBERS="${1:-1000,5000,20000}"
exec cargo bench --bench fanout
