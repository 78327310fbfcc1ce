#!/usr/bin/env bash
# The gateway's throughput and memory benchmark (docs/performance.md, section "Gateway").
#
# In one run, on this machine:
#   1. one core's SHA-256 speed:       openssl speed -evp sha256 -bytes 16384 -seconds 3
#   2. nginx (Debian) receiving a 1 GiB body to disk (client_body_in_file_only on), same client, same file
#   2b. the bare receiver (bench/gateway/bare_receiver.cpp), on the same disk and in memory: the least work any
#      receiver that hashes and stores each upload must do (recv, SHA-256, write, fdatasync), and the client's
#      CPU beside it; what the cores allow at best is their sum spread over every core
#   3. `airlock serve` (Release) receiving the same 1 GiB through a tus PATCH, every inspector on (clamd
#      off: a real clamd scans at its own speed, far below these), for a mostly binary file, for CSV and for
#      clinical notes (free text); its data directory on the same disk as nginx's, and again in memory (tmpfs,
#      /dev/shm): the gateway makes each PATCH's bytes durable (O_DIRECT, fdatasync) before it answers, which
#      nginx does not, so the disk's own speed for 1 GiB written direct and synced (dd) is measured too, and
#      nginx's time plus the fdatasync of its body file after it (what a receiver that syncs each body would
#      take at best without overlapping the two)
#   4. the gateway's peak RSS (VmHWM) for one 4 GiB upload, and for 100 concurrent 64 MiB uploads (binary, then CSV)
# and prints the ratios gateway/SHA-256 and gateway/nginx. The client is curl streaming the file
# (`curl -T FILE -X PATCH`, never reading it whole). Ratios are fairer than absolute figures on a busy machine.
#
# usage: scripts/bench-gateway.sh            (builds build-bench-gateway/ in Release first)
#   AIRLOCK=path/to/airlock   use this binary instead of building
#   SIZE_MIB=1024 BIG_MIB=4096 CONCURRENT=100 CONCURRENT_MIB=64 RUNS=3   the workload (RUNS: best of N)
#   MEMORY_DIR=/dev/shm   where the in-memory runs keep their data ("" skips them)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-1024}
BIG_MIB=${BIG_MIB:-4096}
CONCURRENT=${CONCURRENT:-100}
CONCURRENT_MIB=${CONCURRENT_MIB:-64}
RUNS=${RUNS:-3}
MEMORY_DIR=${MEMORY_DIR-/dev/shm}

if [[ -z "${AIRLOCK:-}" ]]; then
  BUILD=${BUILD:-build-bench-gateway}
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAIRLOCK_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" --target airlock -j "${JOBS:-$(nproc)}"
  AIRLOCK=$ROOT/$BUILD/cli/airlock
fi
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  echo "installing nginx (Debian package) for the comparison" >&2
  apt-get install -y --no-install-recommends nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/airlock-bench-gateway-XXXXXX)
chmod 755 "$WORK"  # nginx's worker runs as nobody and writes the bodies below it
MEMORY_WORK=
[[ -n "$MEMORY_DIR" && -d "$MEMORY_DIR" ]] && MEMORY_WORK=$(mktemp -d "$MEMORY_DIR/airlock-bench-gateway-XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" ${MEMORY_WORK:+"$MEMORY_WORK"}
}
trap cleanup EXIT

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # user + system CPU of one process
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
best() { sort -g | head -1; }
mib_per_s() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1048576 }'; }

# ---- the files ----
echo "generating ${SIZE_MIB} MiB files in $WORK" >&2
python3 - "$WORK" "$SIZE_MIB" <<'EOF'
import os, random, sys
work, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
# Mostly binary: a Parquet-like file, incompressible pages with some zero-filled stretches.
with open(os.path.join(work, "data.bin"), "wb") as f:
    f.write(b"PAR1")
    block = bytearray(os.urandom(4 << 20))
    for i in range(0, len(block), 1 << 16):
        if rng.random() < 0.2:
            block[i:i + (1 << 15)] = bytes(1 << 15)
    left = (mib << 20) - 4
    while left > 0:
        n = min(left, len(block))
        f.write(block[:n])
        left -= n
# CSV: aggregate counts as a research team exports them (no identifiers), rows of varied numbers.
rows = ["practice,week,age_band,sex,condition,count,rate_per_1000\n"]
size = len(rows[0])
while size < (4 << 20):
    row = "%s%05d,2026-%02d-%02d,%d-%d,%s,%s,%d,%.2f\n" % (
        rng.choice("ABCDEFGHJKLMNPY"), rng.randrange(100000), rng.randrange(1, 13), rng.randrange(1, 29),
        rng.randrange(0, 90, 10), rng.randrange(9, 99, 10), rng.choice("MF"),
        rng.choice(["diabetes", "asthma", "copd", "hypertension", "ckd"]), rng.randrange(5, 5000),
        rng.random() * 100)
    rows.append(row)
    size += len(row)
block = "".join(rows[1:]).encode()
# Notes: clinical free text, sentences of words with an identifier in some, as letters and summaries hold them.
words = ("patient seen in clinic today reported improvement follow up weeks blood pressure stable medication "
         "reviewed and the was with no new symptoms referred for further assessment plan to continue").split()
extras = ["NHS number 943 476 5919", "lives at SW1A 1AA", "email jane.doe@nhs.net", "tel 020 7946 0958",
          "date of birth 12/03/1980", "seen on 2026-01-24"]
notes = []
notes_size = 0
while notes_size < (4 << 20):
    sentence = " ".join(rng.choice(words) for _ in range(rng.randrange(6, 20)))
    if rng.random() < 0.3:
        sentence += " " + rng.choice(extras)
    line = sentence[0].upper() + sentence[1:] + ".\n"
    notes.append(line)
    notes_size += len(line)
notes_block = "".join(notes).encode()
with open(os.path.join(work, "data.txt"), "wb") as f:
    left = mib << 20
    while left > 0:
        n = min(left, len(notes_block))
        f.write(notes_block[:n])
        left -= n
with open(os.path.join(work, "data.csv"), "wb") as f:
    f.write(rows[0].encode())
    left = (mib << 20) - len(rows[0])
    while left > 0:
        n = min(left, len(block))
        piece = block[:n]
        if n < len(block):
            piece = piece[:piece.rfind(b"\n") + 1]  # whole rows: the file stays a table
        f.write(piece)
        left -= n
EOF

# The files' dirty pages would otherwise be written back while the uploads run, slowing whatever writes.
sync

# ---- 1. SHA-256, one core ----
# openssl prints k (1000 bytes) per second for each block size; the last column is 16384-byte blocks.
SHA_K=$(openssl speed -evp sha256 -bytes 16384 -seconds 3 2>/dev/null | awk '/^sha256/ { v = $NF } END { sub(/k$/, "", v); print v }')
SHA_MIB=$(awk -v k="$SHA_K" 'BEGIN { printf "%.0f", k * 1000 / 1048576 }')

# ---- 1b. the disk: 1 GiB written direct and synced, as the gateway stores an upload ----
sync
DISK_S=$(dd if=/dev/zero of="$WORK/disk-probe" bs=1M count=1024 oflag=direct conv=fdatasync 2>&1 |
  awk '/copied/ { for (i = 1; i <= NF; ++i) if ($i == "s,") print $(i - 1) }')
rm -f "$WORK/disk-probe"

# ---- 2. nginx ----
NGINX_PORT=$(free_port)
BACKEND_PORT=$(free_port)
mkdir -p "$WORK/nginx/body" "$WORK/nginx/logs"
chown nobody "$WORK/nginx/body" 2>/dev/null || chmod 777 "$WORK/nginx/body"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  client_body_in_file_only on;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    # proxy_pass reads the whole body (to disk: client_body_in_file_only) before it contacts the backend,
    # which then answers 204 to a request without the body.
    location / {
      proxy_pass http://127.0.0.1:$BACKEND_PORT/done;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Body-File \$request_body_file;
    }
  }
  server { listen 127.0.0.1:$BACKEND_PORT; location / { return 204; } }
}
EOF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" -X POST -d x && break; sleep 0.1; done

NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
nginx_once() {  # "seconds cpu_ticks sync_seconds" to receive $1, then to fdatasync the body file nginx kept
  local seconds code before ticks start
  before=$(cpu_ticks "$NGINX_WORKER")
  read -r seconds code < <(curl -s -o /dev/null -w '%{time_total} %{http_code}' -X PATCH -T "$1" -H 'Expect:' \
    -H 'Content-Type: application/offset+octet-stream' "http://127.0.0.1:$NGINX_PORT/upload")
  [[ "$code" == 204 ]] || { echo "nginx answered $code" >&2; tail -3 "$WORK/nginx/logs/error.log" >&2; exit 1; }
  ticks=$(($(cpu_ticks "$NGINX_WORKER") - before))
  start=$(date +%s.%N)
  sync --data "$WORK"/nginx/body/*
  echo "$seconds $ticks $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')"
  rm -f "$WORK"/nginx/body/*
}

# ---- 2b. the bare receiver: the least work of any receiver that hashes and stores an upload ----
# bench/gateway/bare_receiver.cpp: recv(2), SHA-256, write(2) (O_DIRECT where it can) and fdatasync, nothing else;
# the writing and the hashing each on a thread of its own, as in the gateway. The client's own CPU time (curl
# reading the file and sending it over loopback) is measured with it: on a machine of few cores the client and
# the receiver share them.
g++ -std=c++20 -O2 bench/gateway/bare_receiver.cpp -lcrypto -pthread -o "$WORK/bare_receiver"
bare_once() {  # $1 dir, $2 port file, $3 pid: "seconds server_ticks client_cpu_seconds"
  local seconds code before ticks client
  before=$(cpu_ticks "$3")
  client=$( { TIMEFORMAT='%U %S'; time curl -s -D "$1/head" -o /dev/null -w '%{time_total} %{http_code}\n' \
    -X PATCH -T "$WORK/data.bin" -H 'Expect:' "http://$(cat "$2")/upload" >"$1/curl.out" 2>/dev/null; } 2>&1)
  read -r seconds code <"$1/curl.out"
  [[ "$code" == 204 ]] || { echo "the bare receiver answered $code" >&2; exit 1; }
  # It must have done the work it stands for: the digest of every byte.
  grep -qi "^x-sha-256: $BIN_SHA256" "$1/head" || { echo "the bare receiver's digest is wrong" >&2; exit 1; }
  ticks=$(($(cpu_ticks "$3") - before))
  echo "$seconds $ticks $(awk '{ printf "%.2f", $1 + $2 }' <<<"$client")"
}
bare_best() {  # $1 parent dir: "seconds server_ticks client_cpu_seconds", the fastest of $RUNS
  local dir=$1/bare pid line lines=
  mkdir -p "$dir"
  "$WORK/bare_receiver" "$dir" "$dir/port" both &
  pid=$!
  for _ in $(seq 100); do [[ -s "$dir/port" ]] && break; sleep 0.1; done
  for _ in $(seq "$RUNS"); do
    line=$(bare_once "$dir" "$dir/port" "$pid") || { kill -TERM "$pid"; wait "$pid"; exit 1; }
    lines+="$line"$'\n'
  done
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  printf %s "$lines" | best
}
BIN_SHA256=$(sha256sum "$WORK/data.bin" | cut -d' ' -f1)
BARE=$(bare_best "$WORK")
MEM_BARE="0 0 0"
[[ -n "$MEMORY_WORK" ]] && MEM_BARE=$(bare_best "$MEMORY_WORK")

# ---- 3. the gateway ----
# shellcheck source=scripts/gateway-bench-lib.sh
source "$ROOT/scripts/gateway-bench-lib.sh"
GATEWAY_PID=
start_gateway() {  # $1: a name for its data directory, $2: inspection threads (default 2), $3: parent ($WORK)
  GATEWAY_DIR=${3:-$WORK}/gw-$1
  launch_gateway "$AIRLOCK" "$GATEWAY_DIR" "${2:-2}"
  PIDS+=("$GATEWAY_PID")
}
stop_gateway() { kill -TERM "$GATEWAY_PID"; wait "$GATEWAY_PID" 2>/dev/null || true; rm -rf "$GATEWAY_DIR"; }
gateway_once() {  # $1 file, $2 name, $3 type: "seconds cpu_ticks" for the PATCH (bytes, inspection, decision)
  local location result before
  location=$(create "$1" "$2" "$3")
  before=$(cpu_ticks "$GATEWAY_PID")
  result=$(patch "$1" "$location")
  local ticks=$(($(cpu_ticks "$GATEWAY_PID") - before))
  [[ "${result#* }" == 204 ]] || { echo "PATCH failed: $result" >&2; tail -5 "$GATEWAY_DIR/gateway.log" >&2; exit 1; }
  rm -rf "$GATEWAY_DIR"/data/released/* "$GATEWAY_DIR"/data/denied/* "$GATEWAY_DIR"/data/quarantine/*
  echo "${result% *} $ticks"
}

BYTES=$((SIZE_MIB << 20))
NGINX_RUNS=$(for _ in $(seq "$RUNS"); do nginx_once "$WORK/data.bin"; done)
NGINX_S=$(cut -d' ' -f1,2 <<<"$NGINX_RUNS" | best)
NGINX_SYNCED_S=$(awk '{ printf "%.3f 0\n", $1 + $3 }' <<<"$NGINX_RUNS" | best)
start_gateway single
BIN_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.bin" "data-$i.parquet" application/octet-stream; done | best)
CSV_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.csv" "data-$i.csv" text/csv; done | best)
TXT_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.txt" "notes-$i.txt" text/plain; done | best)
stop_gateway single
# The same uploads with the data directory in memory: what the disk's speed costs.
MEM_BIN_S="0 0"; MEM_CSV_S="0 0"; MEM_TXT_S="0 0"
if [[ -n "$MEMORY_WORK" ]]; then
  start_gateway memory 2 "$MEMORY_WORK"
  MEM_BIN_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.bin" "data-$i.parquet" application/octet-stream; done | best)
  MEM_CSV_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.csv" "data-$i.csv" text/csv; done | best)
  MEM_TXT_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.txt" "notes-$i.txt" text/plain; done | best)
  stop_gateway memory
fi
# The same binary upload inspected on the network thread (inspection_threads: 0), for comparison.
start_gateway threaded 0
THREADED_S=$(for i in $(seq "$RUNS"); do gateway_once "$WORK/data.bin" "data-$i.parquet" application/octet-stream; done | best)
stop_gateway threaded
kill -TERM "$NGINX_PID" 2>/dev/null || true

# ---- the inspectors alone (no network, no disk), per CPU-second: bench/gateway/inspect_throughput.cpp ----
INSPECT_BIN=skipped
INSPECT_CSV=skipped
INSPECT_TXT=skipped
RUNTIME_LIB=$(dirname "$AIRLOCK")/../runtime/libairlock_runtime.a
if [[ -f "$RUNTIME_LIB" ]]; then
  g++ -std=c++20 -O3 -DNDEBUG -Igateway/include -Igateway/inspect -Iruntime/include bench/gateway/inspect_throughput.cpp \
    gateway/inspect/*.cpp "$RUNTIME_LIB" -lmagic -larchive -lcrypto -lre2 -pthread -o "$WORK/inspect_throughput"
  INSPECT_BIN=$("$WORK/inspect_throughput" "$WORK/data.bin" data.parquet)
  INSPECT_CSV=$("$WORK/inspect_throughput" "$WORK/data.csv" data.csv)
  INSPECT_TXT=$("$WORK/inspect_throughput" "$WORK/data.txt" notes.txt)
fi
rm -f "$WORK/data.txt"

# ---- 4. peak memory ----
# The concurrent CSV uploads end at a line end: each is a table, parsed in its own lane (copies of its chunks).
head -c $((CONCURRENT_MIB << 20)) "$WORK/data.csv" | sed '$d' >"$WORK/small.csv"
rm -f "$WORK/data.csv"
python3 -c "
import sys
src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, 'rb').read(64 << 20)
with open(dst, 'wb') as f:
    for _ in range(copies * 16):
        f.write(data)
" "$WORK/data.bin" "$WORK/big.bin" $((BIG_MIB / 1024))
start_gateway big
BIG=$(gateway_once "$WORK/big.bin" big.parquet application/octet-stream)
BIG_S=${BIG% *}
BIG_RSS=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$GATEWAY_PID/status")
stop_gateway big
rm -f "$WORK/big.bin"

head -c $((CONCURRENT_MIB << 20)) "$WORK/data.bin" >"$WORK/small.bin"
export -f patch
export AUTH WORK
many() {  # $1 file, $2 extension, $3 type: "peak_rss_mib idle_rss_mib answered_204 seconds" for $CONCURRENT at once
  start_gateway many
  local base start end ok rss
  base=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$GATEWAY_PID/status")
  for i in $(seq "$CONCURRENT"); do create "$1" "small-$i.$2" "$3"; done >"$WORK/locations"
  export GATEWAY FILE="$1"
  start=$(date +%s.%N)
  # One write per line (curl's -w ends with the newline), so the clients' lines never interleave.
  xargs -P "$CONCURRENT" -I{} bash -c 'patch "$FILE" {}' <"$WORK/locations" >"$WORK/many.out"
  end=$(date +%s.%N)
  ok=$(grep -c ' 204$' "$WORK/many.out" || true)
  rss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$GATEWAY_PID/status")
  stop_gateway many
  echo "$rss $base $ok $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
}
read -r MANY_RSS BASE_RSS MANY_OK MANY_S < <(many "$WORK/small.bin" parquet application/octet-stream)
read -r MANY_CSV_RSS _ MANY_CSV_OK MANY_CSV_S < <(many "$WORK/small.csv" csv text/csv)

# ---- report ----
# Each measurement is "wall_seconds cpu_ticks": MiB/s of wall time, and MiB per second of the server's own CPU
# time (what `openssl speed` reports too), which a busy machine distorts far less.
wall() { [[ "${1% *}" == 0 ]] && echo - || mib_per_s "$BYTES" "${1% *}"; }
cpu() { awk -v b="$BYTES" -v t="${1#* }" -v hz="$TICK" 'BEGIN { printf "%.0f", (t > 0 ? b / (t / hz) / 1048576 : 0) }'; }
ratio() { [[ "$1" == - || "$1" == 0 ]] && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
NGINX_MIB=$(wall "$NGINX_S"); NGINX_CPU=$(cpu "$NGINX_S")
NGINX_SYNCED_MIB=$(wall "$NGINX_SYNCED_S")
BIN_MIB=$(wall "$BIN_S"); BIN_CPU=$(cpu "$BIN_S")
CSV_MIB=$(wall "$CSV_S"); CSV_CPU=$(cpu "$CSV_S")
TXT_MIB=$(wall "$TXT_S"); TXT_CPU=$(cpu "$TXT_S")
THREADED_MIB=$(wall "$THREADED_S"); THREADED_CPU=$(cpu "$THREADED_S")
MEM_BIN_MIB=$(wall "$MEM_BIN_S"); MEM_BIN_CPU=$(cpu "$MEM_BIN_S")
MEM_CSV_MIB=$(wall "$MEM_CSV_S"); MEM_CSV_CPU=$(cpu "$MEM_CSV_S")
MEM_TXT_MIB=$(wall "$MEM_TXT_S"); MEM_TXT_CPU=$(cpu "$MEM_TXT_S")
DISK_MIB=$(mib_per_s $((1024 << 20)) "${DISK_S:-0}" 2>/dev/null || echo -)
BARE_MIB=$(wall "${BARE% *}"); BARE_CPU=$(cpu "${BARE% *}")
MEM_BARE_MIB=$(wall "${MEM_BARE% *}"); MEM_BARE_CPU=$(cpu "${MEM_BARE% *}")
# What the cores allow at best: the bare receiver's CPU and the client's, spread over every core without a gap.
bare_ceiling() {  # $1 "seconds ticks client_seconds": MiB/s
  read -r _ ticks client <<<"$1"
  awk -v b="$BYTES" -v t="$ticks" -v hz="$TICK" -v c="$client" -v n="$(nproc)" \
    'BEGIN { s = t / hz + c; printf "%.0f", (s > 0 ? n * b / s / 1048576 : 0) }'
}
BARE_CEILING=$(bare_ceiling "$MEM_BARE")
cat <<EOF

Gateway benchmark ($(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); best of $RUNS; $SIZE_MIB MiB, curl -T streaming)
                                                  wall MiB/s   MiB per server CPU-second
  SHA-256, one core (openssl speed -evp sha256)            -     $SHA_MIB
  disk, 1 GiB written direct + fdatasync (dd)      $DISK_MIB         -
  nginx, body to disk                                $NGINX_MIB     $NGINX_CPU
  nginx, body to disk, then fdatasync of the file    $NGINX_SYNCED_MIB         -
  bare receiver, binary to disk                      $BARE_MIB     $BARE_CPU
  bare receiver, binary to memory (tmpfs)            $MEM_BARE_MIB     $MEM_BARE_CPU
  airlock serve, mostly binary (Parquet-like)        $BIN_MIB     $BIN_CPU
  airlock serve, CSV (every text inspector)          $CSV_MIB     $CSV_CPU
  airlock serve, clinical notes (free text)          $TXT_MIB     $TXT_CPU
  airlock serve, binary, inspection_threads: 0       $THREADED_MIB     $THREADED_CPU
  airlock serve, data in memory (tmpfs): binary      $MEM_BIN_MIB     $MEM_BIN_CPU
  airlock serve, data in memory (tmpfs): CSV         $MEM_CSV_MIB     $MEM_CSV_CPU
  airlock serve, data in memory (tmpfs): notes       $MEM_TXT_MIB     $MEM_TXT_CPU
  binary: $(ratio "$BIN_MIB" "$SHA_MIB") of SHA-256 (wall), $(ratio "$BIN_CPU" "$SHA_MIB") of SHA-256 (CPU), $(ratio "$BIN_MIB" "$NGINX_MIB") of nginx (wall), $(ratio "$BIN_CPU" "$NGINX_CPU") of nginx (CPU)
  CSV:    $(ratio "$CSV_MIB" "$SHA_MIB") of SHA-256 (wall), $(ratio "$CSV_CPU" "$SHA_MIB") of SHA-256 (CPU), $(ratio "$CSV_MIB" "$NGINX_MIB") of nginx (wall), $(ratio "$CSV_CPU" "$NGINX_CPU") of nginx (CPU)
  notes:  $(ratio "$TXT_MIB" "$SHA_MIB") of SHA-256 (wall), $(ratio "$TXT_CPU" "$SHA_MIB") of SHA-256 (CPU), $(ratio "$TXT_MIB" "$NGINX_MIB") of nginx (wall), $(ratio "$TXT_CPU" "$NGINX_CPU") of nginx (CPU)
  against nginx then fdatasync: binary $(ratio "$BIN_MIB" "$NGINX_SYNCED_MIB"), CSV $(ratio "$CSV_MIB" "$NGINX_SYNCED_MIB"), notes $(ratio "$TXT_MIB" "$NGINX_SYNCED_MIB") (wall)
  in memory: binary $(ratio "$MEM_BIN_MIB" "$SHA_MIB") of SHA-256, $(ratio "$MEM_BIN_MIB" "$NGINX_MIB") of nginx; CSV $(ratio "$MEM_CSV_MIB" "$SHA_MIB"), $(ratio "$MEM_CSV_MIB" "$NGINX_MIB"); notes $(ratio "$MEM_TXT_MIB" "$SHA_MIB"), $(ratio "$MEM_TXT_MIB" "$NGINX_MIB") (wall)
  bare receiver: $(ratio "$MEM_BARE_MIB" "$SHA_MIB") of SHA-256 in memory, $(ratio "$BARE_MIB" "$NGINX_MIB") of nginx on disk (wall); the client's CPU for ${SIZE_MIB} MiB: $(cut -d' ' -f3 <<<"$MEM_BARE") s; its CPU and the bare receiver's on $(nproc) cores without a gap: $BARE_CEILING MiB/s, $(ratio "$BARE_CEILING" "$SHA_MIB") of SHA-256
  against the bare receiver: on disk binary $(ratio "$BIN_MIB" "$BARE_MIB"), CSV $(ratio "$CSV_MIB" "$BARE_MIB"), notes $(ratio "$TXT_MIB" "$BARE_MIB"); in memory binary $(ratio "$MEM_BIN_MIB" "$MEM_BARE_MIB"), CSV $(ratio "$MEM_CSV_MIB" "$MEM_BARE_MIB"), notes $(ratio "$MEM_TXT_MIB" "$MEM_BARE_MIB") (wall)
  inspectors alone, binary: $INSPECT_BIN
  inspectors alone, CSV:    $INSPECT_CSV
  inspectors alone, notes:  $INSPECT_TXT
  peak RSS, one ${BIG_MIB} MiB upload                           $BIG_RSS MiB   ($(mib_per_s $((BIG_MIB << 20)) "$BIG_S") MiB/s)
  peak RSS, $CONCURRENT concurrent ${CONCURRENT_MIB} MiB uploads               $MANY_RSS MiB   (idle: $BASE_RSS MiB; $MANY_OK of $CONCURRENT answered 204 in ${MANY_S}s)
  peak RSS, $CONCURRENT concurrent ${CONCURRENT_MIB} MiB CSV uploads           $MANY_CSV_RSS MiB   ($MANY_CSV_OK of $CONCURRENT answered 204 in ${MANY_CSV_S}s)
EOF
