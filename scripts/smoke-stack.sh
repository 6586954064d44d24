#!/usr/bin/env bash
# Checks the README's run command end to end: starts scripts/stack.sh (SecantusDB, the five
# services, the gateway) with a throw-away data folder, waits for the gateway to be ready,
# asks every service's health through the gateway with the API key, then stops the stack
# with Ctrl-C as a person would and checks that nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

state=$(mktemp -d)
log="$state/stack.log"
port="${GATEWAY_PORT:-8080}"
COGLEX_STATE_DIR="$state" COGLEX_MONGO_PORT="${COGLEX_MONGO_PORT:-27117}" \
  setsid ./scripts/stack.sh >"$log" 2>&1 &
stack=$!
cleanup() {
  kill -INT -- "-$stack" 2>/dev/null || true
  wait "$stack" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

# The first run may compile the binaries; later runs start in seconds.
ready=""
for _ in $(seq 1 900); do
  if curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then ready=yes; break; fi
  kill -0 "$stack" 2>/dev/null || break
  sleep 1
done
[ -n "$ready" ] || { tail -n 40 "$log" >&2; die "the stack did not become ready on :$port"; }

key=$(grep '^API_KEYS=' .env | cut -d= -f2 | cut -d, -f1)
for svc in auth storage archive payment generation; do
  body=$(curl -fsS -H "X-API-Key: $key" "http://127.0.0.1:$port/service/$svc/v1/health") \
    || die "$svc health through the gateway failed"
  grep -q '"status"' <<<"$body" || die "$svc health answered: $body"
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/service/$svc/v1/health")
  [ "$code" = 401 ] || die "$svc health without a key answered $code, not 401"
done

kill -INT -- "-$stack"
for _ in $(seq 1 60); do kill -0 "$stack" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$stack" 2>/dev/null; then die "the stack did not stop on Ctrl-C"; fi
if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then die "the gateway still answers after Ctrl-C"; fi
say "stack smoke test: 5 services healthy through the gateway, clean stop"
