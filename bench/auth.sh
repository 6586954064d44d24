#!/usr/bin/env bash
# What authentication costs, in one run (results go to bench/README.md by hand):
#   1. sign-in hashing throughput per core: argon2id with our parameters next to bcrypt
#      cost 10 and 12 (what Parse, Supabase and PocketBase use);
#   2. per-request overhead of an authenticated route: token check, session check (cached
#      and from the database), and HTTP /health against an authenticated profile read.
# Builds the benchmark example in release mode; starts its own SecantusDB through
# test-support (or uses MONGODB_URI).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

say "building the auth benchmark (release)"
cargo build --release --quiet -p auth-svc --examples
LOG_LEVEL=warn RUST_LOG=warn target/release/examples/auth_bench
