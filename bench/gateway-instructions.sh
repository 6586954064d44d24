#!/usr/bin/env bash
# User-space instructions per proxied request, our gateway beside nginx, counted by valgrind's
# callgrind. Unlike req/s on a shared 2-core VM (where back-to-back runs differ by 20 %), the
# count moves by only a few percent from run to run, so it shows what a larger change saves.
#
# Each proxy runs under callgrind twice, for N1 and N2 requests to the same backend
# (auth-svc's health route); (I(N2) - I(N1)) / (N2 - N1) leaves out start-up and shutdown.
# The kernel's work (the same system calls for both, see bench/README.md) is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. bench/lib.sh

N1="${N1:-500}" N2="${N2:-2500}"
BACKEND_PORT=18191 PROXY_PORT=18190
KEY="bench-api-key-0000000000000000000000000000000"

need valgrind valgrind
need nginx nginx-light

build_release gateway auth-svc

work=$(mktemp -d)
backend=""
cleanup() {
  [ -n "$backend" ] && kill "$backend" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_settings
start_service auth-svc $BACKEND_PORT "$work/auth.log"
backend=$service_pid

# nginx as a plain keep-alive reverse proxy, and nginx doing the gateway's duties too (the
# same two configurations as bench/gateway.sh), in one process like the gateway's one worker.
single="daemon off; master_process off; worker_processes 1;"
nginx_conf "$work/nginx.conf" "$single" "$(nginx_server $PROXY_PORT /service/auth/v1/ "")"
nginx_conf "$work/nginx-gw.conf" "$single" "$(nginx_gw_http)
$(nginx_server $PROXY_PORT /service/auth/v1/ "$(nginx_gw_location)")"

# N requests over 4 keep-alive connections, each checked.
cat >"$work/load.py" <<'PY'
import http.client, sys
n, port, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(4)]
for i in range(n):
    c = conns[i % 4]
    c.request("GET", "/service/auth/v1/health", headers={"X-API-Key": key})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
PY

wait_healthy $BACKEND_PORT auth

# name requests command... -> total instructions of the proxy's run
count() {
  local name=$1 n=$2 out="$work/callgrind.$1.$2"
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  wait_healthy $PROXY_PORT auth
  python3 "$work/load.py" "$n" $PROXY_PORT "$KEY"
  kill -INT "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

# The gateway's settings (nginx ignores them). One event loop, like the one nginx worker:
# with two, how the four connections split between them varies from run to run.
export SERVER_PORT=$PROXY_PORT AUTH_SVC_URL="http://127.0.0.1:$BACKEND_PORT"
export RATE_LIMIT_RPS=1000000 RATE_LIMIT_BURST=1000000 SERVER_WORKERS=1

declare -A per_request
for name in gateway nginx nginx-gw; do
  case $name in
    gateway) cmd=(target/release/gateway) ;;
    *) cmd=(nginx -c "$work/$name.conf" -p "$work") ;;
  esac
  say "$name: $N1 and $N2 requests under callgrind"
  a=$(count "$name" "$N1" "${cmd[@]}")
  b=$(count "$name" "$N2" "${cmd[@]}")
  per_request[$name]=$(((b - a) / (N2 - N1)))
done

# The gateway's own head scan (head_scan.rs, which follows each request's framing beside
# hyper): the instructions spent in it, inclusive, the same way per request.
scanned() {
  callgrind_annotate --inclusive=yes --threshold=100 "$work/callgrind.gateway.$1" 2>/dev/null |
    awk '/head_scan::/ { gsub(",", "", $1); if ($1 + 0 > most) most = $1 + 0 } END { print most + 0 }'
}
scan_per_request=$((($(scanned "$N2") - $(scanned "$N1")) / (N2 - N1)))

echo
echo "User-space instructions per proxied request (callgrind, $N1 vs $N2 requests):"
echo "| proxy | instructions/request |"
echo "|---|---|"
echo "| gateway | ${per_request[gateway]} (head scan: $scan_per_request) |"
echo "| nginx | ${per_request[nginx]} |"
echo "| nginx-gw | ${per_request[nginx-gw]} |"
awk -v g="${per_request[gateway]}" -v n="${per_request[nginx]}" -v w="${per_request[nginx-gw]}" \
  'BEGIN { printf "\ngateway/nginx: %.2f; gateway/nginx-gw: %.2f\n", g / n, g / w }'
