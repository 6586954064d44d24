#!/usr/bin/env bash
# archive-svc throughput and memory, side by side in one run: uploads and downloads of a 1 MB
# and a 100 MB file through the gateway to archive-svc (GridFS and local-directory backends),
# next to nginx storing (WebDAV PUT) and serving (static file) the same file from disk, the
# practical ceiling on this machine. Also the peak resident memory (VmHWM, reset before each
# transfer through /proc/<pid>/clear_refs) of archive-svc and the gateway during the 100 MB
# transfers. Prints one table per backend.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. bench/lib.sh

ROUNDS_SMALL="${ROUNDS_SMALL:-20}"   # 1 MB transfers per measurement
ROUNDS_LARGE="${ROUNDS_LARGE:-3}"    # 100 MB transfers per measurement
BACKENDS="${BACKENDS:-gridfs local}"
ARCHIVE_PORT=18383 GATEWAY_PORT=18380 NGINX_PORT=18382 DB_PORT=18317
KEY="bench-api-key-0000000000000000000000000000000"
export SERVER_SECRET="bench-server-secret-000000000000000000000000" API_KEYS="$KEY"
export LOG_LEVEL=warn RUST_LOG=warn MONGODB_DATABASE=archive_bench
export MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:$DB_PORT/}"

need nginx nginx-light
need curl curl

# NO_BUILD=1 reuses the release binaries already in target/release.
if [ -z "${NO_BUILD:-}" ]; then
  say "building gateway and archive-svc (release)"
  cargo build --release --quiet -p gateway
  cargo build --release --quiet -p archive-svc --bins --example bench_session
fi

work=$(mktemp -d)
pids=()
stop_services() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_services
  [ -n "${db_pid:-}" ] && kill "$db_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$MONGODB_URI" = "mongodb://127.0.0.1:$DB_PORT/" ]; then
  ensure_secantus
  mkdir -p "$work/db"
  "$SECANTUSD_BIN" --port "$DB_PORT" --storage-path "$work/db" --log-level WARNING \
    >"$work/db.log" 2>&1 &
  db_pid=$!
fi

# Files that pass type detection: an MP4 header, then random bytes. nginx's workers run as
# an unprivileged user: they must read the files and write the uploads.
mkdir -p "$work/files" "$work/uploads" "$work/tmp"
chmod 755 "$work" "$work/files"
chmod 777 "$work/uploads" "$work/tmp"
for size in 1 100; do
  { printf '\000\000\000\040ftypisom\000\000\002\000isomiso2avc1mp41'
    head -c $((size * 1000 * 1000 - 32)) /dev/urandom; } >"$work/files/file-${size}mb.mp4"
done
chmod 644 "$work"/files/*

cat >"$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    client_max_body_size 0;
    client_body_temp_path $work/tmp;
    location /files/ { alias $work/files/; }
    location /uploads/ { alias $work/uploads/; dav_methods PUT; create_full_put_path on; }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"

wait_for() { for _ in $(seq 1 200); do curl -fsS "$1" >/dev/null 2>&1 && return; sleep 0.1; done; die "$1 did not answer"; }
hwm_reset() { echo 5 >"/proc/$1/clear_refs"; }
hwm_mib() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
mb_per_s() { awk -v b="$1" -v t="$2" 'BEGIN {printf "%.1f", b/t/1e6}'; }

# rounds curl-args... -> total seconds of `rounds` sequential transfers
timed() {
  local rounds=$1 total=0 t
  shift
  for _ in $(seq 1 "$rounds"); do
    t=$(curl -fsS -o /dev/null -w '%{time_total}' "$@") || die "curl $* failed"
    total=$(awk -v a="$total" -v b="$t" 'BEGIN {print a+b}')
  done
  echo "$total"
}

for backend in $BACKENDS; do
  say "archive-svc with the $backend backend"
  mkdir -p "$work/archive-$backend"
  ARCHIVE_BACKEND=$backend ARCHIVE_LOCAL_DIR="$work/archive-$backend" SERVER_PORT=$ARCHIVE_PORT \
    MAX_CONTENT_LENGTH=$((128 * 1024 * 1024)) target/release/archive-svc >"$work/archive.log" 2>&1 &
  archive_pid=$!
  pids+=($archive_pid)
  SERVER_PORT=$GATEWAY_PORT ARCHIVE_SVC_URL="http://127.0.0.1:$ARCHIVE_PORT" \
    ARCHIVE_BODY_LIMIT_BYTES=$((256 * 1024 * 1024)) RATE_LIMIT_RPS=0 \
    target/release/gateway >"$work/gateway.log" 2>&1 &
  gateway_pid=$!
  pids+=($gateway_pid)
  wait_for "http://127.0.0.1:$ARCHIVE_PORT/ready"
  wait_for "http://127.0.0.1:$GATEWAY_PORT/health"
  token=$(target/release/examples/bench_session)
  api=(-H "X-API-Key: $KEY" -H "Authorization: Bearer $token")
  url="http://127.0.0.1:$GATEWAY_PORT/service/archive/v1/"

  rows=()
  for size in 1 100; do
    file="$work/files/file-${size}mb.mp4"
    bytes=$(stat -c %s "$file")
    rounds=$([ "$size" = 1 ] && echo "$ROUNDS_SMALL" || echo "$ROUNDS_LARGE")
    hwm_reset "$archive_pid"; hwm_reset "$gateway_pid"
    up=$(timed "$rounds" "${api[@]}" -F "file=@$file;type=video/mp4" "$url")
    up_mem="$(hwm_mib "$archive_pid") / $(hwm_mib "$gateway_pid")"
    id=$(curl -fsS "${api[@]}" -F "file=@$file;type=video/mp4" "$url" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["_id"])')
    hwm_reset "$archive_pid"; hwm_reset "$gateway_pid"
    down=$(timed "$rounds" "${api[@]}" "$url$id")
    down_mem="$(hwm_mib "$archive_pid") / $(hwm_mib "$gateway_pid")"
    nginx_up=$(timed "$rounds" -T "$file" "http://127.0.0.1:$NGINX_PORT/uploads/f-${size}mb.mp4")
    nginx_down=$(timed "$rounds" "http://127.0.0.1:$NGINX_PORT/files/file-${size}mb.mp4")
    total=$((bytes * rounds))
    rows+=("| ${size} MB | upload | $(mb_per_s $total "$up") | $(mb_per_s $total "$nginx_up") | $(awk -v a="$nginx_up" -v b="$up" 'BEGIN {printf "%.2f", a/b}') | $up_mem |")
    rows+=("| ${size} MB | download | $(mb_per_s $total "$down") | $(mb_per_s $total "$nginx_down") | $(awk -v a="$nginx_down" -v b="$down" 'BEGIN {printf "%.2f", a/b}') | $down_mem |")
  done
  stop_services

  echo
  echo "archive-svc ($backend) through the gateway vs nginx from disk, $(nproc) cores, sequential curl:"
  echo "| file | transfer | gateway + archive-svc MB/s | nginx MB/s | ratio to nginx | peak RSS MiB archive-svc / gateway |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
done
