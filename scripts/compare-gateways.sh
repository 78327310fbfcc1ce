#!/usr/bin/env bash
# Two `airlock` binaries, alternated, on the same upload: the firmer comparison on a noisy machine
# (docs/performance.md, "Gateway"). Each round starts each gateway in turn and PATCHes FILE through it
# UPLOADS times; the report gives, per binary, the median and best wall seconds of the PATCH and the median
# CPU seconds of the gateway process (user + system) per upload.
#
# usage: scripts/compare-gateways.sh BINARY_A BINARY_B FILE [TYPE]
#   TYPE: the declared type (default text/csv for .csv, text/plain for .txt, application/octet-stream else)
#   ROUNDS=4 UPLOADS=3 INSPECTION_THREADS=2
#   WORK_DIR=/tmp: where the gateways keep their data (/dev/shm: in memory, so that only the network and the
#   inspectors count)
set -euo pipefail
if [[ $# -lt 3 ]]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
ROOT=$PWD
A=$(realpath "$1")
B=$(realpath "$2")
FILE=$(realpath "$3")
case "$FILE" in
  *.csv) DEFAULT_TYPE=text/csv ;;
  *.txt) DEFAULT_TYPE=text/plain ;;
  *) DEFAULT_TYPE=application/octet-stream ;;
esac
TYPE=${4:-$DEFAULT_TYPE}
ROUNDS=${ROUNDS:-4}
UPLOADS=${UPLOADS:-3}
for binary in "$A" "$B"; do [[ -x "$binary" ]] || { echo "not an executable: $binary" >&2; exit 2; }; done

WORK=$(mktemp -d "${WORK_DIR:-/tmp}/airlock-compare-XXXXXX")
GATEWAY_PID=
cleanup() {
  [[ -n "$GATEWAY_PID" ]] && kill -TERM "$GATEWAY_PID" 2>/dev/null && wait "$GATEWAY_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
TICK=$(getconf CLK_TCK)
# shellcheck source=scripts/gateway-bench-lib.sh
source "$ROOT/scripts/gateway-bench-lib.sh"

# Prints "label wall_seconds cpu_seconds" for each upload through a fresh gateway of `binary`.
uploads() {  # $1 label, $2 binary
  local dir=$WORK/gw name=${FILE##*/} location before result after
  rm -rf "$dir"
  launch_gateway "$2" "$dir" "${INSPECTION_THREADS:-2}"
  for i in $(seq "$UPLOADS"); do
    location=$(create "$FILE" "$i-$name" "$TYPE")
    before=$(awk '{ print $14 + $15 }' "/proc/$GATEWAY_PID/stat")
    result=$(patch "$FILE" "$location")
    after=$(awk '{ print $14 + $15 }' "/proc/$GATEWAY_PID/stat")
    [[ "${result#* }" == 204 ]] || { echo "PATCH answered ${result#* }:" >&2; tail -5 "$dir/gateway.log" >&2; exit 1; }
    echo "$1 ${result% *} $(awk -v t=$((after - before)) -v hz="$TICK" 'BEGIN { printf "%.2f", t / hz }')"
    rm -rf "$dir"/data/released/* "$dir"/data/denied/* "$dir"/data/quarantine/*
  done
  kill -TERM "$GATEWAY_PID"
  wait "$GATEWAY_PID" 2>/dev/null || true
  GATEWAY_PID=
}

for round in $(seq "$ROUNDS"); do
  uploads A "$A"
  uploads B "$B"
done >"$WORK/results"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo "$(stat -c%s "$FILE") bytes of $TYPE, $ROUNDS rounds of $UPLOADS uploads each, binaries alternated ($(date -u +%Y-%m-%dT%H:%MZ))"
for label in A B; do
  binary=$A
  [[ $label == B ]] && binary=$B
  wall_median=$(awk -v l=$label '$1 == l { print $2 }' "$WORK/results" | median)
  wall_best=$(awk -v l=$label '$1 == l { print $2 }' "$WORK/results" | sort -g | head -1)
  cpu_median=$(awk -v l=$label '$1 == l { print $3 }' "$WORK/results" | median)
  printf '  %s %s: wall median %.2f s, best %.2f s; gateway CPU median %.2f s\n' "$label" "$binary" "$wall_median" \
    "$wall_best" "$cpu_median"
done
