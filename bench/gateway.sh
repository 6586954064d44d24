#!/usr/bin/env bash
# Gateway overhead, side by side in one run, on the same backend route measured
#   1. directly,
#   2. through our gateway (API key check, rate limiter on, metrics, forwarded headers),
#      with its default HTTP/1.1 to the service and, as gateway-h2, with UPSTREAM_HTTP2=true,
#   3. through nginx as a keep-alive reverse proxy (the reference peer the issue names),
#   4. through nginx doing the gateway's duties too (API key check, per-client rate limit,
#      request id, X-Forwarded-*/X-Real-IP): what the same work costs nginx.
# BACKEND picks the route:
#   health  (default) auth-svc's health route: checks the key, answers JSON, no database.
#           The proxy's own cost dominates.
#   storage a document read by id with a user's session token (storage-svc on SecantusDB):
#           token check, ownership policy, one database read. A typical API call.
# wrk drives each target for DURATION seconds at CONNECTIONS connections; rounds alternate the
# targets so drift on a shared machine hits all five alike. Prints req/s, p50, p99, the
# ratios to direct and to nginx, and the CPU time each request costs: the proxy's own (user and
# kernel, from /proc/<pid>/stat) and the whole machine's (/proc/stat), from which follows the
# most CPU a proxy may add per request here and still keep 0.75 of direct.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. bench/lib.sh

BACKEND="${BACKEND:-health}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
ROUNDS="${ROUNDS:-2}"
BACKEND_PORT=18181 GATEWAY_PORT=18180 NGINX_PORT=18182 NGINX_GW_PORT=18183
AUTH_PORT=18184 DB_PORT=18185 GATEWAY_H2_PORT=18186
KEY="bench-api-key-0000000000000000000000000000000"

need wrk wrk
need nginx nginx-light

case $BACKEND in
  health) build_release gateway auth-svc ;;
  storage) build_release gateway auth-svc storage-svc; ensure_secantus ;;
  *) die "BACKEND is health or storage, not $BACKEND" ;;
esac

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_settings
if [ "$BACKEND" = health ]; then
  SERVICE=auth
  start_service auth-svc $BACKEND_PORT "$work/auth.log"
  pids+=("$service_pid")
  AUTH_PORT=$BACKEND_PORT
else
  SERVICE=storage
  mkdir -p "$work/db"
  "$SECANTUSD_BIN" --port "$DB_PORT" --storage-path "$work/db" --cache-size 512M \
    --log-level WARNING >"$work/db.log" 2>&1 &
  pids+=($!)
  export MONGODB_URI="mongodb://127.0.0.1:$DB_PORT/"
  start_service auth-svc $AUTH_PORT "$work/auth.log"
  pids+=("$service_pid")
  start_service storage-svc $BACKEND_PORT "$work/storage.log"
  pids+=("$service_pid")
fi
# start_gateway <port> <UPSTREAM_HTTP2> <log>: sets gateway_pid.
start_gateway() {
  SERVER_PORT=$1 UPSTREAM_HTTP2=$2 AUTH_SVC_URL="http://127.0.0.1:$AUTH_PORT" \
    STORAGE_SVC_URL="http://127.0.0.1:$BACKEND_PORT" RATE_LIMIT_RPS=1000000 \
    RATE_LIMIT_BURST=1000000 target/release/gateway >"$3" 2>&1 &
  gateway_pid=$!
  pids+=("$gateway_pid")
}
start_gateway $GATEWAY_H2_PORT true "$work/gateway-h2.log"
gateway_h2_pid=$gateway_pid
start_gateway $GATEWAY_PORT false "$work/gateway.log"

nginx_conf "$work/nginx.conf" "worker_processes auto;" "$(nginx_gw_http)
$(nginx_server $NGINX_PORT / "")
$(nginx_server $NGINX_GW_PORT /service/$SERVICE/v1/ "$(nginx_gw_location)")"
nginx -c "$work/nginx.conf" -p "$work"

for port in $BACKEND_PORT $GATEWAY_PORT $GATEWAY_H2_PORT $NGINX_PORT $NGINX_GW_PORT; do
  wait_healthy "$port" $SERVICE
done

# What wrk sends: the health route, or reads of random seeded documents as their owner.
if [ "$BACKEND" = health ]; then
  WRK_ARGS=() TARGET_PATH=/service/auth/v1/health
else
  wait_healthy $GATEWAY_PORT auth ready
  say "seeding 400 documents through the gateway"
  COGLEX_URL="http://127.0.0.1:$GATEWAY_PORT" API_KEY="$KEY" ADMIN_KEY="$ADMIN_KEY" \
    python3 bench/storage/seed.py coglex "$work" 400 || die "seeding failed (logs in $work)"
  export PATH_PREFIX=/service/storage/v1/items/ IDS_FILE="$work/coglex.ids"
  WRK_ARGS=(-s bench/storage/get.lua -H "Authorization: Bearer $(cat "$work/coglex.token")")
  TARGET_PATH=""
fi

# wrk's latency figures to milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}'; }

# CPU ticks (1/100 s) spent so far: by the given processes (user, kernel), or by the whole
# machine (busy = all but idle and iowait).
proc_ticks() {
  local user=0 sys=0 u s pid
  for pid in "$@"; do
    read -r u s < <(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12, $13}')
    user=$((user + u)) sys=$((sys + s))
  done
  echo "$user $sys"
}
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
nginx_pids() { local master; master=$(cat "$work/nginx.pid"); echo "$master" $(pgrep -P "$master"); }

run() { # name port [proxy pid...] -> appends "name rps p50 p99 user_us sys_us machine_us busy"
  local name=$1 port=$2 out
  shift 2
  local pu0 ps0 pu1 ps1 mb0 mi0 mb1 mi1
  read -r pu0 ps0 < <(proc_ticks "$@")
  read -r mb0 mi0 < <(machine_ticks)
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${WRK_ARGS[@]}" \
    -H "X-API-Key: $KEY" "http://127.0.0.1:$port$TARGET_PATH")
  read -r pu1 ps1 < <(proc_ticks "$@")
  read -r mb1 mi1 < <(machine_ticks)
  local rps p50 p99 errors requests
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$errors" ] || die "$name answered $errors non-2xx responses"
  # One tick is 10,000 us; busy is the machine's busy share of the run.
  local cpu
  cpu=$(awk -v r="$requests" -v pu=$((pu1 - pu0)) -v ps=$((ps1 - ps0)) -v mb=$((mb1 - mb0)) \
    -v mi=$((mi1 - mi0)) 'BEGIN { printf "%.1f %.1f %.1f %.2f", pu*1e4/r, ps*1e4/r, mb*1e4/r, mb/(mb+mi) }')
  echo "$name $rps $p50 $p99 $cpu" >>"$work/results"
  printf '  %-9s %10s req/s  p50 %7s ms  p99 %7s ms  CPU us/request (proxy user, kernel; machine; busy) %s\n' \
    "$name" "$rps" "$p50" "$p99" "$cpu" >&2
}

for port in $GATEWAY_PORT $GATEWAY_H2_PORT; do
  wrk -t2 -c"$CONNECTIONS" -d2s "${WRK_ARGS[@]}" -H "X-API-Key: $KEY" \
    "http://127.0.0.1:$port$TARGET_PATH" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  say "round $round/$ROUNDS: ${DURATION}s at $CONNECTIONS connections each"
  run direct "$BACKEND_PORT"
  run gateway "$GATEWAY_PORT" "$gateway_pid"
  run gateway-h2 "$GATEWAY_H2_PORT" "$gateway_h2_pid"
  # shellcheck disable=SC2046 # one pid per word
  run nginx "$NGINX_PORT" $(nginx_pids)
  # shellcheck disable=SC2046
  run nginx-gw "$NGINX_GW_PORT" $(nginx_pids)
done

echo
echo "Averages over $ROUNDS rounds, BACKEND=$BACKEND ($(nproc) cores, $CONNECTIONS connections, wrk -t2):"
awk '
  { rps[$1]+=$2; p50[$1]+=$3; p99[$1]+=$4; user[$1]+=$5; sys[$1]+=$6; all[$1]+=$7; busy[$1]+=$8
    round[$1, ++n[$1]] = $2 }
  END {
    printf "| target | req/s | p50 ms | p99 ms | throughput vs direct | proxy CPU us/request (user + kernel) | machine CPU us/request | machine busy |\n|---|---|---|---|---|---|---|---|\n"
    k = split("direct gateway gateway-h2 nginx nginx-gw", order, " ")
    for (i = 1; i <= k; i++) { t = order[i]
      proxy = t == "direct" ? "-" : sprintf("%.1f (%.1f + %.1f)", (user[t]+sys[t])/n[t], user[t]/n[t], sys[t]/n[t])
      printf "| %s | %.0f | %.2f | %.2f | %.2f | %s | %.1f | %.2f |\n", t, rps[t]/n[t], p50[t]/n[t], p99[t]/n[t], rps[t]/rps["direct"], proxy, all[t]/n[t], busy[t]/n[t] }
    print ""
    for (g = 2; g <= 3; g++) for (p = 4; p <= 5; p++) { ours = order[g]; peer = order[p]
      # The per-round ratios show how far the machine drifts between rounds.
      low = 1e9; high = 0; above = 0
      for (r = 1; r <= n[ours]; r++) { x = round[ours, r] / round[peer, r]
        if (x < low) low = x; if (x > high) high = x; if (x > 1) above++ }
      printf "%s/%s throughput: %.2f (per round %.2f-%.2f, above 1 in %d of %d); p99: %.2f\n", ours, peer,
        rps[ours]/rps[peer], low, high, above, n[ours], (p99[ours]/n[ours])/(p99[peer]/n[peer]) }
    # With the machine busy, throughput is cores / CPU per request: keeping 0.75 of direct
    # leaves a proxy (1/0.75 - 1) of what a direct request costs the whole machine.
    direct = all["direct"]/n["direct"]
    printf "CPU a proxy may add per request to keep 0.75 of direct: %.1f us (a direct request costs the machine %.1f us);\n", direct/3, direct
    for (i = 2; i <= k; i++) { t = order[i]
      printf "  %s adds %.1f us (its own %.1f us, of which kernel %.1f us)\n", t, all[t]/n[t] - direct, (user[t]+sys[t])/n[t], sys[t]/n[t] }
  }' "$work/results"
