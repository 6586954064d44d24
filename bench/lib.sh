# Shared by the bench scripts (sourced after scripts/lib.sh).

# need <command> <Debian package>: installs the package when the command is missing.
need() { command -v "$1" >/dev/null 2>&1 || { say "installing $2"; apt-get install -y -qq "$2" >/dev/null; }; }

# build_release <package>...: release builds, unless NO_BUILD=1 (reuse target/release).
build_release() {
  [ -n "${NO_BUILD:-}" ] && return
  say "building $* (release)"
  local args=()
  for package in "$@"; do args+=(-p "$package"); done
  cargo build --release --quiet "${args[@]}"
}

ADMIN_KEY="${ADMIN_KEY:-bench-admin-key-00000000000000000000000000000}"

# bench_settings: exports what the services and the gateway share here (test secret, $KEY
# and $ADMIN_KEY, quiet logs, the database name).
bench_settings() {
  export SERVER_SECRET="bench-server-secret-000000000000000000000000" API_KEYS="$KEY"
  export ADMIN_API_KEYS="$ADMIN_KEY" LOG_LEVEL=warn RUST_LOG=warn MONGODB_DATABASE=coglex_bench
}

# start_service <binary> <port> <log>: a service behind the proxies (after bench_settings).
# Its database is MONGODB_URI when set, else none (for routes that need none, like health).
# Sets service_pid.
start_service() {
  MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:1/}" SERVER_PORT="$2" SERVER_WORKERS=2 \
    "target/release/$1" >"$3" 2>&1 &
  service_pid=$!
}

# wait_healthy <port> <service> [probe]: until that port answers the service's `health` (or
# the given probe, e.g. `ready`) with $KEY, for at most 30 s.
wait_healthy() {
  local url="http://127.0.0.1:$1/service/$2/v1/${3:-health}"
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null -H "X-API-Key: $KEY" "$url" 2>/dev/null && return
    sleep 0.2
  done
  die "nothing answers $url"
}

# nginx configuration pieces for the two ways nginx is compared with the gateway. The
# `backend` upstream is the service measured.
# The keep-alive proxying both share:
nginx_proxy() {
  cat <<'CONF'
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_buffering off;
CONF
}
# nginx-gw, http level: the valid key ($KEY) and the per-key-and-IP limit (never reached).
nginx_gw_http() {
  cat <<CONF
  map \$http_x_api_key \$api_key_ok { default 0; "$KEY" 1; }
  limit_req_zone "\$http_x_api_key\$binary_remote_addr" zone=clients:10m rate=1000000r/s;
CONF
}
# nginx-gw, location level: what the gateway does on top of proxying.
nginx_gw_location() {
  cat <<'CONF'
      if ($api_key_ok = 0) { return 401 '{"error":{"code":"invalid_api_key"}}'; }
      limit_req zone=clients burst=1000000 nodelay;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Request-Id $request_id;
      add_header X-Request-Id $request_id always;
CONF
}

# nginx_conf <file> <main-context lines> <http-context lines>: nginx with the service on
# $BACKEND_PORT as its `backend` upstream; pid and logs go to $work.
nginx_conf() {
  cat >"$1" <<CONF
$2
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
$3
}
CONF
}

# nginx_server <port> <location> <extra location lines>: a server proxying that location.
nginx_server() {
  cat <<CONF
  server {
    listen 127.0.0.1:$1;
    location $2 {
$3
$(nginx_proxy)
    }
  }
CONF
}
