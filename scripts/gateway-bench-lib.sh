# Sourced by scripts/bench-gateway.sh and scripts/compare-gateways.sh: a gateway started for a benchmark, and
# uploads through it. Needs ROOT (the project's folder).

AUTH='Authorization: Bearer bench-token-0123456789abcdef'
b64() { printf %s "$1" | base64 -w0; }

# Starts BINARY serving from DIR (created) on a free port with INSPECTION_THREADS (default 2): sets GATEWAY_PID
# and GATEWAY (its URL). Exits if it does not start.
launch_gateway() {  # $1 binary, $2 dir, $3 inspection threads
  mkdir -p "$2"
  cat >"$2/airlock.yaml" <<YAML
limits:
  max_upload_size: 64 GiB
  max_chunk_bytes: 64 GiB
  max_concurrent_uploads_per_user: 1000
log: {level: warn, format: json}
inspection_threads: ${3:-2}
tokens:
  - {token: bench-token-0123456789abcdef, user: bench, roles: [researcher]}
YAML
  "$1" serve --config "$2/airlock.yaml" --listen 127.0.0.1:0 --data "$2/data" --policies "$ROOT/policies" \
    --port-file "$2/port" 2>"$2/gateway.log" &
  GATEWAY_PID=$!
  for _ in $(seq 300); do [[ -s "$2/port" ]] && break; sleep 0.1; done
  [[ -s "$2/port" ]] || { echo "the gateway did not start:" >&2; tail -5 "$2/gateway.log" >&2; exit 1; }
  GATEWAY=http://$(cat "$2/port")
}

create() {  # $1 file, $2 name, $3 type: prints the upload's path
  curl -s -D - -o /dev/null -X POST "$GATEWAY/files" -H "$AUTH" -H 'Tus-Resumable: 1.0.0' \
    -H "Upload-Length: $(stat -c%s "$1")" \
    -H "Upload-Metadata: filename $(b64 "$2"),workspace $(b64 ws-bench),datasource $(b64 ds-bench),filetype $(b64 "$3")" |
    awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }'
}
patch() {  # $1 file, $2 upload path: prints "seconds http_code"
  curl -s -o /dev/null -w '%{time_total} %{http_code}\n' -X PATCH -T "$1" -H 'Expect:' "$GATEWAY$2" -H "$AUTH" \
    -H 'Tus-Resumable: 1.0.0' -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream'
}
