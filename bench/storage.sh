#!/usr/bin/env bash
# Storage against Parse Server, side by side in one run, on the same SecantusDB:
#   ours:  gateway -> storage-svc (a real user session token, the default `private` policy),
#   Parse: Parse Server (npm `parse-server`, express, node cluster) with a Parse user's session
#          token and objects whose ACL lets only that user read and write them.
# Scenarios, each at 16 and 64 connections: create, get by id, query with a filter
# (equality on `category`, limit 20). Both sides are seeded with the same ITEMS documents over
# 20 categories through their public APIs first. wrk drives each side for DURATION seconds
# after a WARMUP, alternating which side goes first per round; reads run before creates so
# both read the seeded collection. Any non-2xx answer or socket error stops the run.
# Prints req/s, p50, p99 per scenario and the ratios ours/Parse (throughput and p99).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib.sh
. bench/lib.sh

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-2}"
CONNECTIONS="${CONNECTIONS:-16 64}"
SCENARIOS="${SCENARIOS:-get query create}"
ITEMS="${ITEMS:-2000}"
PARSE_WORKERS="${PARSE_WORKERS:-2}"
GATEWAY_PORT=18280 AUTH_PORT=18281 STORAGE_PORT=18282 MONGO_PORT=18283 PARSE_PORT=18284
KEY="bench-api-key-0000000000000000000000000000000"
ADMIN_KEY="bench-admin-key-00000000000000000000000000000"
PARSE_APP_ID="coglex-bench" PARSE_REST_KEY="bench-rest-key-000000000000000000000"
PARSE_MASTER_KEY="bench-master-key-0000000000000000000000"
PARSE_DIR="$COGLEX_TOOLS_DIR/parse-bench"

need wrk wrk
need node nodejs
need npm npm
need python3 python3

# Parse Server from npm, pinned in bench/storage/package.json (router 2.2.0: 2.3.0 breaks
# Parse's /batch), installed once into the tools cache.
if ! cmp -s bench/storage/package.json "$PARSE_DIR/package.json" || [ ! -d "$PARSE_DIR/node_modules/parse-server" ]; then
  say "installing Parse Server into $PARSE_DIR"
  mkdir -p "$PARSE_DIR"
  cp bench/storage/package.json "$PARSE_DIR/package.json"
  (cd "$PARSE_DIR" && npm install --no-audit --no-fund --loglevel=error)
fi
PARSE_VERSION=$(node -p "require('$PARSE_DIR/node_modules/parse-server/package.json').version")

# NO_BUILD=1 reuses the release binaries already in target/release.
if [ -z "${NO_BUILD:-}" ]; then
  say "building gateway, auth-svc and storage-svc (release)"
  cargo build --release --quiet -p gateway -p auth-svc -p storage-svc
fi
for bin in gateway auth-svc storage-svc; do
  [ -x "target/release/$bin" ] || die "target/release/$bin is missing (run without NO_BUILD)"
done
ensure_secantus

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # what command... : retries for 30 s
  local what=$1; shift
  for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not come up (logs in $work)"
}

say "starting SecantusDB on 127.0.0.1:$MONGO_PORT"
mkdir -p "$work/db"
"$SECANTUSD_BIN" --port "$MONGO_PORT" --storage-path "$work/db" --cache-size 512M \
  --log-level WARNING >"$work/mongo.log" 2>&1 &
pids+=($!)
wait_for SecantusDB bash -c "exec 3<>/dev/tcp/127.0.0.1/$MONGO_PORT"

say "starting gateway, auth-svc and storage-svc"
(
  export SERVER_SECRET="bench-server-secret-000000000000000000000000" API_KEYS="$KEY"
  export ADMIN_API_KEYS="$ADMIN_KEY" LOG_LEVEL=warn RUST_LOG=warn
  export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/" MONGODB_DATABASE=coglex_bench
  SERVER_PORT=$AUTH_PORT SERVER_WORKERS=2 exec target/release/auth-svc >"$work/auth.log" 2>&1
) &
pids+=($!)
(
  export SERVER_SECRET="bench-server-secret-000000000000000000000000" API_KEYS="$KEY"
  export ADMIN_API_KEYS="$ADMIN_KEY" LOG_LEVEL=warn RUST_LOG=warn
  export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/" MONGODB_DATABASE=coglex_bench
  SERVER_PORT=$STORAGE_PORT SERVER_WORKERS=2 exec target/release/storage-svc >"$work/storage.log" 2>&1
) &
pids+=($!)
(
  export SERVER_SECRET="bench-server-secret-000000000000000000000000" API_KEYS="$KEY"
  export ADMIN_API_KEYS="$ADMIN_KEY" LOG_LEVEL=warn RUST_LOG=warn
  export AUTH_SVC_URL="http://127.0.0.1:$AUTH_PORT" STORAGE_SVC_URL="http://127.0.0.1:$STORAGE_PORT"
  export RATE_LIMIT_RPS=1000000 RATE_LIMIT_BURST=1000000
  SERVER_PORT=$GATEWAY_PORT exec target/release/gateway >"$work/gateway.log" 2>&1
) &
pids+=($!)
for svc in auth storage; do
  wait_for "$svc-svc" curl -fsS -H "X-API-Key: $KEY" "http://127.0.0.1:$GATEWAY_PORT/service/$svc/v1/ready"
done

say "starting Parse Server $PARSE_VERSION ($PARSE_WORKERS workers) on 127.0.0.1:$PARSE_PORT"
mkdir -p "$work/parse-logs"
(
  cd "$work"
  export PARSE_DIR PARSE_PORT PARSE_WORKERS PARSE_APP_ID PARSE_REST_KEY PARSE_MASTER_KEY
  export PARSE_DB_URI="mongodb://127.0.0.1:$MONGO_PORT/parse_bench"
  export PARSE_LOGS="$work/parse-logs" PARSE_SERVER_LOGS_FOLDER="$work/parse-logs"
  export NODE_ENV=production
  exec node "$ROOT/bench/storage/parse-server.js" >"$work/parse.log" 2>&1
) &
pids+=($!)
wait_for "Parse Server" curl -fsS "http://127.0.0.1:$PARSE_PORT/parse/health"

say "seeding $ITEMS items on each side through its API"
COGLEX_URL="http://127.0.0.1:$GATEWAY_PORT" API_KEY="$KEY" ADMIN_KEY="$ADMIN_KEY" \
  python3 bench/storage/seed.py coglex "$work" "$ITEMS" \
  || die "seeding Coglex failed (is auth-svc's sign-up working? logs: $work/auth.log)"
PARSE_URL="http://127.0.0.1:$PARSE_PORT" PARSE_APP_ID="$PARSE_APP_ID" PARSE_REST_KEY="$PARSE_REST_KEY" \
  PARSE_MASTER_KEY="$PARSE_MASTER_KEY" python3 bench/storage/seed.py parse "$work" "$ITEMS" \
  || die "seeding Parse failed (logs: $work/parse.log)"

COGLEX_HEADERS=(-H "X-API-Key: $KEY" -H "Authorization: Bearer $(cat "$work/coglex.token")")
PARSE_HEADERS=(-H "X-Parse-Application-Id: $PARSE_APP_ID" -H "X-Parse-REST-API-Key: $PARSE_REST_KEY"
  -H "X-Parse-Session-Token: $(cat "$work/parse.token")")
PARSE_ACL="$(cat "$work/parse.acl")"
FILTER='%7B%22category%22%3A%22CATEGORY%22%7D' # {"category":"CATEGORY"}, URL-encoded

# wrk's latency figures to milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}'; }

wrk_side() { # side scenario connections seconds -> wrk's output
  local side=$1 scenario=$2 conns=$3 secs=$4 url headers
  if [ "$side" = coglex ]; then
    url="http://127.0.0.1:$GATEWAY_PORT"; headers=("${COGLEX_HEADERS[@]}")
    case $scenario in
      get) export PATH_PREFIX=/service/storage/v1/items/ IDS_FILE="$work/coglex.ids" ;;
      query) export QUERY_TEMPLATE="/service/storage/v1/items?query=$FILTER&limit=20" ;;
      create) export PATH_PREFIX=/service/storage/v1/items BODY_KIND=coglex ;;
    esac
  else
    url="http://127.0.0.1:$PARSE_PORT"; headers=("${PARSE_HEADERS[@]}")
    case $scenario in
      get) export PATH_PREFIX=/parse/classes/Item/ IDS_FILE="$work/parse.ids" ;;
      query) export QUERY_TEMPLATE="/parse/classes/Item?where=$FILTER&limit=20" ;;
      create) export PATH_PREFIX=/parse/classes/Item BODY_KIND=parse PARSE_ACL ;;
    esac
  fi
  wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s --latency -s "bench/storage/$scenario.lua" \
    "${headers[@]}" "$url"
}

run() { # side scenario connections -> appends "scenario connections side rps p50 p99"
  local out rps p50 p99 errors socket
  wrk_side "$1" "$2" "$3" "$WARMUP" >"$work/warmup.out"
  errors=$(awk '/Non-2xx/ {print $5}' "$work/warmup.out")
  [ -z "$errors" ] || die "$1 $2 (warm-up) answered $errors non-2xx responses"
  out=$(wrk_side "$1" "$2" "$3" "$DURATION")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  socket=$(awk '/Socket errors/' <<<"$out")
  [ -z "$errors" ] || die "$1 $2 at $3 connections answered $errors non-2xx responses"
  [ -z "$socket" ] || die "$1 $2 at $3 connections: $socket"
  echo "$2 $3 $1 $rps $p50 $p99" >>"$work/results"
  printf '  %-6s %-6s c=%-3s %9s req/s  p50 %8s ms  p99 %8s ms\n' "$2" "$1" "$3" "$rps" "$p50" "$p99" >&2
}

for scenario in $SCENARIOS; do
  for conns in $CONNECTIONS; do
    say "$scenario at $conns connections: ${DURATION}s per side per round, $ROUNDS rounds"
    for round in $(seq 1 "$ROUNDS"); do
      if [ $((round % 2)) = 1 ]; then run coglex "$scenario" "$conns"; run parse "$scenario" "$conns"
      else run parse "$scenario" "$conns"; run coglex "$scenario" "$conns"; fi
    done
  done
done

echo
echo "Storage vs Parse Server $PARSE_VERSION: averages over $ROUNDS rounds of ${DURATION}s" \
  "($(nproc) cores, wrk -t2, $ITEMS seeded items, Parse with $PARSE_WORKERS workers)"
echo
awk '
  { k = $1 " " $2; rps[k, $3] += $4; p50[k, $3] += $5; p99[k, $3] += $6; n[k, $3]++
    if (!(k in seen)) { seen[k] = 1; keys[++nk] = k } }
  END {
    printf "| scenario | conns | ours req/s | Parse req/s | throughput ours/Parse | ours p50 ms | Parse p50 ms | ours p99 ms | Parse p99 ms | p99 ours/Parse | target |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
    for (i = 1; i <= nk; i++) { k = keys[i]; split(k, f, " ")
      r1 = rps[k, "coglex"] / n[k, "coglex"]; r2 = rps[k, "parse"] / n[k, "parse"]
      q1 = p99[k, "coglex"] / n[k, "coglex"]; q2 = p99[k, "parse"] / n[k, "parse"]
      met = (r1 >= 3 * r2 && q1 < q2) ? "met" : "not met"
      printf "| %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", f[1], f[2], r1, r2, r1 / r2,
        p50[k, "coglex"] / n[k, "coglex"], p50[k, "parse"] / n[k, "parse"], q1, q2, q1 / q2, met }
  }' "$work/results"
