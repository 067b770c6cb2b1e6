#!/usr/bin/env bash
# Installs what building Chute needs on a fresh Debian machine (idempotent, quiet when done).
set -euo pipefail
need=()
dpkg -s libffi-dev >/dev/null 2>&1 || need+=(libffi-dev)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
# The PostgreSQL store's client library, and the server the tests start a cluster of.
dpkg -s libpq-dev >/dev/null 2>&1 || need+=(libpq-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v c++ >/dev/null 2>&1 || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The Rust example handler (examples/handlers/rust) is built by the tests with cargo.
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "setup: cargo not found; the Rust handler test needs a Rust toolchain (https://rustup.rs)" >&2
  exit 1
fi

# The HTTP API tests use real AWS clients.
if ! python3 -c "import boto3" >/dev/null 2>&1 || ! command -v aws >/dev/null 2>&1; then
  echo "installing: boto3 awscli (pip)"
  python3 -m pip install --quiet boto3 awscli 2>/dev/null || python3 -m pip install --quiet --break-system-packages boto3 awscli
fi
