# Shared by scripts/stack.sh and scripts/test.sh: where tools live and how they get there.
# Tools go to a per-user cache, so every clone (and CI) installs them once per machine.

COGLEX_TOOLS_DIR="${COGLEX_TOOLS_DIR:-$HOME/.cache/coglex/tools}"
SECANTUS_VERSION="0.5.3-beta.196"
SECANTUSD_BIN="${SECANTUSD_BIN:-$COGLEX_TOOLS_DIR/secantus/bin/secantusd-rs}"
export COGLEX_TOOLS_DIR SECANTUSD_BIN

say() { printf '\033[1;36m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# SecantusDB, a MongoDB wire-protocol server, from crates.io (needs cmake for WiredTiger).
ensure_secantus() {
  if [ -x "$SECANTUSD_BIN" ] && "$SECANTUSD_BIN" --version 2>/dev/null | grep -q "$SECANTUS_VERSION"; then
    return
  fi
  if ! command -v cmake >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing cmake (needed to build SecantusDB)"
      apt-get update -qq && apt-get install -y -qq cmake >/dev/null
    else
      die "cmake is required to build SecantusDB: install it (e.g. 'sudo apt-get install cmake') and run again"
    fi
  fi
  say "installing SecantusDB $SECANTUS_VERSION into $COGLEX_TOOLS_DIR (first run only, about 5 minutes)"
  # A test database needs no link-time optimisation: skipping it shortens the install on small machines.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  cargo install secantus-mdb --version "$SECANTUS_VERSION" --ignore-rust-version --locked \
    --root "$COGLEX_TOOLS_DIR/secantus" --quiet \
    || CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install secantus-mdb --version "$SECANTUS_VERSION" --ignore-rust-version \
      --root "$COGLEX_TOOLS_DIR/secantus" --quiet
  [ -x "$SECANTUSD_BIN" ] || die "SecantusDB did not install"
}

# A Python virtualenv with the test tools from PyPI (scripts/requirements-test.txt).
ensure_python_tools() {
  local venv="$COGLEX_TOOLS_DIR/venv" req="$1"
  local stamp="$venv/.requirements.sha"
  local want; want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return
  fi
  say "installing Python test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
}
