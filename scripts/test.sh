#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then checks
# formatting and lints and runs every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ -z "${MONGODB_URI:-}" ]; then
  ensure_secantus
fi
ensure_python_tools scripts/requirements-test.txt
export PATH="$COGLEX_TOOLS_DIR/venv/bin:$PATH"

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
cargo test --workspace --quiet 2>&1
say "deployment files (compose, kustomize, schemas, every service covered)"
./scripts/check-deploy.sh
say "the local stack (README run command) end to end"
./scripts/smoke-stack.sh
