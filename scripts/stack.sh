#!/usr/bin/env bash
# The whole backend on one machine, in one command: SecantusDB (unless MONGODB_URI is set),
# the five services and the gateway on http://127.0.0.1:8080, logs merged with a coloured
# prefix per service. Ctrl-C stops everything. Data persists in .coglex/data between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

STATE_DIR="${COGLEX_STATE_DIR:-$PWD/.coglex}"
DATA_DIR="$STATE_DIR/data/mongo"
EMBEDDED_MONGO_PORT="${COGLEX_MONGO_PORT:-27117}"
PROFILE="${COGLEX_PROFILE:-debug}"

# First run: a .env with fresh secrets, from the documented template.
if [ ! -f .env ]; then
  say "creating .env from .env.example with freshly generated secrets"
  secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(36))'; }
  sed -e "s|^SERVER_SECRET=.*|SERVER_SECRET=$(secret)|" \
      -e "s|^API_KEYS=.*|API_KEYS=$(secret)|" \
      -e "s|^ADMIN_API_KEYS=.*|ADMIN_API_KEYS=$(secret)|" .env.example > .env
  chmod 600 .env
fi
set -a; . ./.env; set +a

pids=()
stop_all() {
  trap - INT TERM EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit 0
}
trap stop_all INT TERM EXIT

colour=31
prefix() {
  local name=$1 c=$2
  while IFS= read -r line; do printf '\033[%sm%-10s|\033[0m %s\n' "$c" "$name" "$line"; done
}
start() {
  local name=$1; shift
  "$@" > >(prefix "$name" "$colour") 2>&1 &
  pids+=($!)
  colour=$((colour + 1))
}

if [ -z "${MONGODB_URI:-}" ]; then
  ensure_secantus
  mkdir -p "$DATA_DIR"
  start mongo "$SECANTUSD_BIN" --port "$EMBEDDED_MONGO_PORT" --storage-path "$DATA_DIR" \
    --cache-size 512M --log-file-max 64MB --log-level WARNING
  export MONGODB_URI="mongodb://127.0.0.1:$EMBEDDED_MONGO_PORT/"
  MONGO_WHERE="SecantusDB on 127.0.0.1:$EMBEDDED_MONGO_PORT, data in $DATA_DIR"
else
  MONGO_WHERE="MONGODB_URI from the environment"
fi

say "building the services ($PROFILE)"
cargo_flags=(--quiet --bins)
[ "$PROFILE" = release ] && cargo_flags+=(--release)
cargo build "${cargo_flags[@]}"
bin="target/$PROFILE"

for svc in auth storage archive payment generation; do
  start "$svc" "$bin/$svc-svc"
done
port="${GATEWAY_PORT:-8080}"
start gateway env SERVER_PORT="$port" "$bin/gateway"

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
first_key="${API_KEYS%%,*}"
cat >&2 <<MSG

  Coglex is running.
    API        http://127.0.0.1:$port/service/<auth|storage|archive|payment|generation>/v1/...
    API key    $first_key   (send it as X-API-Key; from .env)
    Database   $MONGO_WHERE
    Try        curl -H "X-API-Key: $first_key" http://127.0.0.1:$port/service/auth/v1/health

  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}" || true
say "a process exited; stopping the others"
stop_all
