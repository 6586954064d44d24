#!/usr/bin/env bash
# Checks the README's run command end to end: starts scripts/stack.sh (SecantusDB, the five
# services, the gateway) with a throw-away data folder, waits for the gateway to be ready,
# asks every service's health through the gateway with the API key, runs the README's curl
# examples and fetches the docs, then stops the stack with Ctrl-C as a person would and checks
# that nothing is left running.
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

# The README's curl examples (those that need no third-party account), and the docs.
gw="http://127.0.0.1:$port"
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
user="smoke-$RANDOM@example.com"
curl -fsS -H "X-API-Key: $key" -H 'Content-Type: application/json' \
  -d "{\"_key\": \"$user\", \"_password\": \"correct horse battery\", \"document\": {\"name\": \"Ada\"}}" \
  "$gw/service/auth/v1/signup" >/dev/null || die "README example: sign-up failed"
token=$(curl -fsS -H "X-API-Key: $key" -H 'Content-Type: application/json' \
  -d "{\"_key\": \"$user\", \"_password\": \"correct horse battery\"}" \
  "$gw/service/auth/v1/signin" | json_field '["token"]') || die "README example: sign-in failed"
curl -fsS -H "X-API-Key: $key" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"documents": [{"name": "Lamp", "price": 40, "category": "electronics"}]}' \
  "$gw/service/storage/v1/products" >/dev/null || die "README example: insert failed"
found=$(curl -fsS -G -H "X-API-Key: $key" -H "Authorization: Bearer $token" \
  --data-urlencode 'query={"category": "electronics"}' --data-urlencode 'sort={"price": -1}' \
  "$gw/service/storage/v1/products" | json_field '[0]["name"]') || die "README example: find failed"
[ "$found" = Lamp ] || die "README example: find answered $found"
curl -fsS -H "X-API-Key: $key" -H "Authorization: Bearer $token" \
  -F file=@README.md -F 'metadata={"description": "our readme"}' "$gw/service/archive/v1/" >/dev/null \
  || die "README example: upload failed"
files=$(curl -fsS -H "X-API-Key: $key" -H "Authorization: Bearer $token" "$gw/service/archive/v1/" \
  | json_field '[0]["filename"]') || die "README example: file list failed"
[ "$files" = README.md ] || die "README example: file list answered $files"
curl -fsS -H "X-API-Key: $key" -H "Authorization: Bearer $token" "$gw/service/payment/v1/payments" \
  | json_field '' >/dev/null || die "README example: payments failed"
paths=$(curl -fsS "$gw/openapi.json" | json_field '["paths"].__len__()') || die "/openapi.json failed"
[ "$paths" -gt 20 ] || die "/openapi.json lists only $paths paths"
curl -fsS "$gw/docs" | grep -q swagger-ui || die "/docs is not the docs page"

kill -INT -- "-$stack"
for _ in $(seq 1 60); do kill -0 "$stack" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$stack" 2>/dev/null; then die "the stack did not stop on Ctrl-C"; fi
if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then die "the gateway still answers after Ctrl-C"; fi
say "stack smoke test: 5 services healthy through the gateway, README examples, docs, clean stop"
