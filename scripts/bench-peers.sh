#!/usr/bin/env bash
# Airlock against CEL and Cedar engines on the same workloads, in one run (`make bench-peers`).
#   1. builds airlock_bench (Release) in build-bench/
#   2. installs the pinned peer packages (bench/peers/package-lock.json) when missing
#   3. writes the W2/W3 workloads, facts and Airlock's decisions to build-bench/peers-run/workloads
#   4. times Airlock (Google Benchmark, medians of 5) and each peer (after checking that it reaches
#      Airlock's decision on every transfer it is timed on), then prints one table with the ratios.
# Environment: BUILD (default build-bench), JOBS (default nproc), PEER_ARGS (extra flags for run.mjs,
# e.g. "--verify-seconds 60 --runs 7"), BENCH_ARGS (extra Google Benchmark flags).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
JOBS=${JOBS:-$(nproc)}
OUT="$BUILD/peers-run"

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAIRLOCK_BUILD_BENCH=ON -DAIRLOCK_BUILD_TESTS=OFF \
  ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target airlock_bench

if [ ! -d bench/peers/node_modules ]; then
  (cd bench/peers && npm ci --no-audit --no-fund)
fi

rm -rf "$OUT" && mkdir -p "$OUT"
PEER_WORKLOADS=--workloads=W2-10,W2-100,W2-1000,W2-10000,W3
"$BUILD/bench/airlock_bench" "$PEER_WORKLOADS" --write-workloads "$OUT/workloads"

echo "== Airlock"
"$BUILD/bench/airlock_bench" "$PEER_WORKLOADS" --benchmark_filter='^(evaluate|outcome)/(W2-[0-9]+|W3)/real_time/threads:1$' \
  --benchmark_out="$OUT/airlock.json" --benchmark_out_format=json ${BENCH_ARGS:-}

echo "== Peers"
status=0
node bench/peers/run.mjs --workloads "$OUT/workloads" --json "$OUT/peers.json" ${PEER_ARGS:-} || status=$?

echo "== Airlock against the peers"
node bench/peers/report.mjs "$OUT/airlock.json" "$OUT/peers.json"
exit $status
