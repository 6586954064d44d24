#!/usr/bin/env bash
# Gateway overhead, side by side in one run: the same backend (auth-svc's health route, which
# checks the API key and answers JSON without touching the database) measured
#   1. directly,
#   2. through our gateway (API key check, rate limiter on, metrics, forwarded headers),
#   3. through nginx as a keep-alive reverse proxy (the reference peer the issue names),
#   4. through nginx doing the gateway's duties too (API key check, per-client rate limit,
#      request id, X-Forwarded-*/X-Real-IP): what the same work costs nginx.
# wrk drives each for DURATION seconds at CONNECTIONS connections; rounds alternate the
# targets so drift on a shared machine hits all three alike. Prints req/s, p50, p99 and the
# ratios to direct and to nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
ROUNDS="${ROUNDS:-2}"
BACKEND_PORT=18181 GATEWAY_PORT=18180 NGINX_PORT=18182 NGINX_GW_PORT=18183
KEY="bench-api-key-0000000000000000000000000000000"

need() { command -v "$1" >/dev/null 2>&1 || { say "installing $2"; apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx-light

# NO_BUILD=1 reuses the release binaries already in target/release.
if [ -z "${NO_BUILD:-}" ]; then
  say "building gateway and auth-svc (release)"
  cargo build --release --quiet -p gateway -p auth-svc
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export SERVER_SECRET="bench-server-secret-000000000000000000000000" API_KEYS="$KEY"
export LOG_LEVEL=warn RUST_LOG=warn MONGODB_URI="mongodb://127.0.0.1:1/"
SERVER_PORT=$BACKEND_PORT SERVER_WORKERS=2 target/release/auth-svc >"$work/auth.log" 2>&1 &
pids+=($!)
SERVER_PORT=$GATEWAY_PORT AUTH_SVC_URL="http://127.0.0.1:$BACKEND_PORT" RATE_LIMIT_RPS=1000000 \
  RATE_LIMIT_BURST=1000000 target/release/gateway >"$work/gateway.log" 2>&1 &
pids+=($!)

cat >"$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_buffering off;
    }
  }
  map \$http_x_api_key \$api_key_ok { default 0; "$KEY" 1; }
  limit_req_zone "\$http_x_api_key\$binary_remote_addr" zone=clients:10m rate=1000000r/s;
  server {
    listen 127.0.0.1:$NGINX_GW_PORT;
    location /service/auth/v1/ {
      if (\$api_key_ok = 0) { return 401 '{"error":{"code":"invalid_api_key"}}'; }
      limit_req zone=clients burst=1000000 nodelay;
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Request-Id \$request_id;
      add_header X-Request-Id \$request_id always;
      proxy_buffering off;
    }
  }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"

for port in $BACKEND_PORT $GATEWAY_PORT $NGINX_PORT $NGINX_GW_PORT; do
  for _ in $(seq 1 100); do
    curl -fsS -H "X-API-Key: $KEY" "http://127.0.0.1:$port/service/auth/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

# wrk's latency figures to milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}'; }

run() { # name port -> appends "name rps p50 p99" to $work/results
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "X-API-Key: $KEY" \
    "http://127.0.0.1:$2/service/auth/v1/health")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$errors" ] || die "$1 answered $errors non-2xx responses"
  echo "$1 $rps $p50 $p99" >>"$work/results"
  printf '  %-9s %10s req/s  p50 %7s ms  p99 %7s ms\n' "$1" "$rps" "$p50" "$p99" >&2
}

wrk -t2 -c"$CONNECTIONS" -d2s -H "X-API-Key: $KEY" "http://127.0.0.1:$GATEWAY_PORT/service/auth/v1/health" >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  say "round $round/$ROUNDS: ${DURATION}s at $CONNECTIONS connections each"
  run direct "$BACKEND_PORT"
  run gateway "$GATEWAY_PORT"
  run nginx "$NGINX_PORT"
  run nginx-gw "$NGINX_GW_PORT"
done

echo
echo "Averages over $ROUNDS rounds ($(nproc) cores, $CONNECTIONS connections, wrk -t2):"
awk '
  { rps[$1]+=$2; p50[$1]+=$3; p99[$1]+=$4; n[$1]++ }
  END {
    printf "| target | req/s | p50 ms | p99 ms | throughput vs direct |\n|---|---|---|---|---|\n"
    split("direct gateway nginx nginx-gw", order, " ")
    for (i = 1; i <= 4; i++) { t = order[i]
      printf "| %s | %.0f | %.2f | %.2f | %.2f |\n", t, rps[t]/n[t], p50[t]/n[t], p99[t]/n[t], rps[t]/rps["direct"] }
    printf "\ngateway/nginx throughput: %.2f; gateway/nginx p99: %.2f\n", rps["gateway"]/rps["nginx"], (p99["gateway"]/n["gateway"])/(p99["nginx"]/n["nginx"])
    printf "gateway/nginx-gw throughput: %.2f; gateway/nginx-gw p99: %.2f\n", rps["gateway"]/rps["nginx-gw"], (p99["gateway"]/n["gateway"])/(p99["nginx-gw"]/n["nginx-gw"])
  }' "$work/results"
